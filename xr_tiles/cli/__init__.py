"""The command line: ``xr-tiles`` (``python -m xr_tiles``), also ``rio tiles``.

``tiles`` is the click group, registered as a rio plugin (entry point
``rasterio.rio_plugins``); ``main`` runs it on its own. The commands only parse
arguments, open the input with xarray and call :func:`xr_tiles.to_vrt`.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from .commands import configure_logging, info, validate, write

__all__ = ["main", "tiles"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xr_tiles", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True,
              help="Log xr_tiles' progress messages; with a failure, its traceback.")
@click.pass_context
def tiles(ctx: click.Context, verbose: int) -> None:
    """Write xarray rasters as a GDAL VRT mosaic of tiled GeoTIFFs, one per chunk;
    describe and validate such mosaics.

    Exit status: 0 done, 1 a failed write or validation, 2 a usage or input error,
    130 interrupted (the previous output intact).
    """
    configure_logging(ctx, verbose)


tiles.add_command(write)
tiles.add_command(info)
tiles.add_command(validate)


def main(args: Sequence[str] | None = None) -> None:
    """Run ``xr-tiles`` with ``args`` (default: the command line's) and exit."""
    tiles.main(args=None if args is None else list(args))
