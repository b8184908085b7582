"""The commands: ``write`` (to_vrt from a file), ``info`` and ``validate`` (of its output)."""

from __future__ import annotations

import contextlib
import json
import logging
import pathlib
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import click
import rasterio

from ..errors import WriteConflictError, XrTilesError
from ..inherited import OptionMismatchError
from ..write import to_vrt
from . import checks, report
from .inputs import open_input
from .options import (
    PREDICTORS,
    FailedError,
    InputError,
    OneLineCommand,
    as_dict,
    input_options,
    one_line,
    run_options,
    tile_options,
    vrt_argument,
)
from .words import cli_words, in_cli_words

VERBOSE = "xr_tiles.verbose"  # in click's ctx.meta, shared with rio's own context
INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
INTERRUPTED_WRITE = (
    "interrupted: the previous output, if any, is intact; --resume continues this write"
)


@contextlib.contextmanager
def reported(ctx: click.Context, interrupted: str = "interrupted") -> Iterator[None]:
    """Errors as one line and an exit status: 2 for a usage or input error, 1 for a
    failure, 130 for Ctrl-C; warnings as one line each."""
    # rasterio's environment routes GDAL's and PROJ's own messages to logging, not stderr.
    with warnings.catch_warnings(), rasterio.Env():
        warnings.showwarning = _one_line_warning
        try:
            yield
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(f"Error: {interrupted}", err=True)
            ctx.exit(INTERRUPTED)
        except WriteConflictError as error:
            raise FailedError(_said(error)) from None
        except OptionMismatchError as error:
            raise InputError(one_line(error.text(cli_words))) from None
        except XrTilesError as error:
            raise InputError(_said(error)) from None
        except Exception as error:  # noqa: BLE001  (a bug or a failed write: one line, exit 1)
            if ctx.meta.get(VERBOSE):
                traceback.print_exc()
            raise FailedError(f"{type(error).__name__}: {_said(error)}") from None


def _said(error: BaseException) -> str:
    """An error and its notes (what a failed write kept) on one line, in flags."""
    notes = getattr(error, "__notes__", [])
    return in_cli_words(one_line("; ".join([str(error), *map(str, notes)])))


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: Any = None, line: str | None = None,
) -> None:
    click.echo(f"Warning: {in_cli_words(one_line(message))}", err=True)


@click.command(cls=OneLineCommand)
@click.argument("source", metavar="INPUT")
@click.argument("output", metavar="OUTPUT.vrt")
@input_options
@tile_options
@run_options
@click.pass_context
def write(ctx: click.Context, /, source: str, output: str, **options: Any) -> None:
    """Write INPUT as a VRT mosaic of tiled GeoTIFFs, one per chunk.

    INPUT is anything xarray opens lazily: NetCDF, Zarr (a folder or an fsspec URL),
    GeoTIFF or VRT; or any other raster GDAL reads (ERDAS .img, ENVI, R's .grd, ...).
    Each data variable on the y/x grid (or each --var) gives its bands, at most one
    dimension besides y and x (select the others with --isel or --sel).
    OUTPUT.vrt is a local path or an fsspec URL (s3://bucket/dem.vrt); the tiles go to
    OUTPUT_tiles/ beside it. Prints the VRT's path.

    \b
    Example:
      xr-tiles write dem.nc dem.vrt --chunks 2048 --overviews auto
    """
    with reported(ctx, INTERRUPTED_WRITE):
        obj = open_input(
            source, engine=options.pop("engine"), chunks=options["chunks"],
            variables=options.pop("variables"), isel=options.pop("isel"),
            sel=options.pop("sel"), storage_options=as_dict(options.pop("input_storage_options")),
        )
        region = options.pop("region")
        if isinstance(region, tuple):  # pixels, keyed by the input's own spatial dims
            region = dict(zip((obj.rio.y_dim, obj.rio.x_dim), region, strict=True))
        progress = options.pop("progress")
        progress = sys.stderr.isatty() if progress is None else progress
        with _scheduler(options.pop("scheduler")) as scheduler, _progress_on_stderr():
            path = to_vrt(
                obj, output, scheduler=scheduler, num_workers=options.pop("workers"),
                predictor=PREDICTORS.get(options.pop("predictor")),
                storage_options=as_dict(options.pop("storage_options")) or None,
                progress=progress, region=region, **options,
            )
    click.echo(str(path))


@contextlib.contextmanager
def _scheduler(name: str | None) -> Iterator[Any]:
    """The scheduler to_vrt takes: a local one's name, or a Client of an address."""
    if name is None or "://" not in name:
        yield name
        return
    try:
        from distributed import Client
    except ImportError:
        raise InputError(f"--scheduler {name} needs distributed: pip install distributed") from None
    try:
        client = Client(name, timeout="10s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as error:
        raise FailedError(f"cannot connect to the scheduler at {name}: {one_line(error)}") from None
    with client:
        yield client


@contextlib.contextmanager
def _progress_on_stderr() -> Iterator[None]:
    """dask's progress bars print to stdout, where the command prints its result."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


@click.command(cls=OneLineCommand)
@vrt_argument
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def info(ctx: click.Context, vrt: pathlib.Path, as_json: bool) -> None:
    """Describe OUTPUT.vrt: size, bands, CRS, transform, tiles, overviews and bytes.

    The raster is as GDAL reads it; tiles written and skipped are from the record
    xr_tiles keeps in the VRT. Bytes on disk are the VRT's and those of every file it
    names; the ratio is the raster's uncompressed bytes to those.

    \b
    Example:
      xr-tiles info dem.vrt --json
    """
    with reported(ctx):
        found = report.facts(vrt)
    click.echo(json.dumps(found, indent=2) if as_json else report.text(vrt, found))


@click.command(cls=OneLineCommand)
@vrt_argument
@click.pass_context
def validate(ctx: click.Context, vrt: pathlib.Path) -> None:
    """Check that GDAL reads every file OUTPUT.vrt names, as and where it says.

    Each tile must exist, decode whole, hold the VRT's dtypes and nodata, and sit where
    the VRT's DstRect and geotransform put it; a tile with internal overviews must be a
    valid Cloud Optimized GeoTIFF. Prints one line per problem and exits 1 if any.

    \b
    Example:
      xr-tiles validate dem.vrt
    """
    with reported(ctx):
        found = checks.problems(vrt)
    for problem in found:
        click.echo(problem)
    if found:
        raise FailedError(f"{vrt}: {len(found)} problem{'s' if len(found) > 1 else ''}")
    click.echo(f"{vrt}: valid")


def configure_logging(ctx: click.Context, verbose: int) -> None:
    """-v shows xr_tiles' INFO messages (tiles skipped, ...) and tracebacks of failures."""
    ctx.meta[VERBOSE] = verbose
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("xr_tiles")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
