"""What every command shares: its error classes, its option types and its options,
each defined once (as rasterio's ``rio/options.py`` does)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..codecs import CODECS
from ..options import MODES
from ..overviews import RESAMPLINGS

F = TypeVar("F", bound=Callable[..., Any])
LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
SCHEDULER_PROTOCOLS = ("tcp://", "tls://", "inproc://", "ucx://")


class InputError(click.ClickException):
    """A usage or input error found past click's parsing: one line, exit status 2."""

    exit_code = 2


class FailedError(click.ClickException):
    """A write or a validation that failed: one line, exit status 1."""

    exit_code = 1


def one_line(text: object) -> str:
    """``text`` on one line, as a shell user reads an error."""
    return " ".join(str(text).split())


class OneLineCommand(click.Command):
    """A command whose usage errors are one line on stderr (exit 2), with no usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise InputError(one_line(error.format_message())) from None


# --------------------------------------------------------------------------- types


if TYPE_CHECKING:  # generic from click 8.3 on (typed), plain before
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class _Type(_ParamType):
    """A parameter type shown in --help by its name as written (``auto|2,4,8``)."""

    def get_metavar(self, *args: Any, **kwargs: Any) -> str | None:
        return self.name


class KeyValue(_Type):
    """``KEY=VALUE``, the value as JSON where it parses (``anon=true``), else a string."""

    def __init__(self, name: str = "KEY=VALUE") -> None:
        self.name = name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key:
            self.fail(f"expected KEY=VALUE, got {value!r}", param, ctx)
        return key, json_value(text)


def json_value(text: str) -> Any:
    """``text`` as JSON where it parses (``true``, ``3``, ``[1, 2]``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class IndexSelection(_Type):
    """``DIM=INDEX`` or ``DIM=START:STOP``: a position on a dimension, or a range."""

    name = "DIM=INDEX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        dim, sep, text = str(value).partition("=")
        try:
            if not sep or not dim:
                raise ValueError
            if ":" in text:
                start, stop = (int(part) if part else None for part in text.split(":"))
                return dim, slice(start, stop)
            return dim, int(text)
        except ValueError:
            self.fail(f"expected DIM=INDEX or DIM=START:STOP, integers; got {value!r}", param, ctx)


class Chunks(_Type):
    """``SIZE`` or ``Y,X``: the pixels of each tile."""

    name = "SIZE|Y,X"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            sizes = [int(part) for part in value.split(",")]
        except ValueError:
            sizes = []
        if len(sizes) not in (1, 2) or not all(size > 0 or size == -1 for size in sizes):
            self.fail(f"expected a positive SIZE or Y,X, got {value!r}", param, ctx)
        return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


class Overviews(_Type):
    """``auto`` or factors, powers of two: ``2,4,8``."""

    name = "auto|2,4,8"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or value == "auto":
            return value
        try:
            factors = [int(part) for part in value.split(",")]
        except ValueError:
            factors = []
        if not factors or not all(f >= 2 and f & (f - 1) == 0 for f in factors):
            self.fail(
                f"expected 'auto' or powers of two from 2 up (e.g. 2,4,8), got {value!r}",
                param, ctx,
            )
        if len(set(factors)) != len(factors):
            self.fail(f"factors must be distinct, got {value!r}", param, ctx)
        return factors


class RegionType(_Type):
    """``auto``, or pixel rows and columns of the mosaic, ``Y0:Y1,X0:X1``."""

    name = "auto|Y0:Y1,X0:X1"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str) or value == "auto":
            return value
        try:
            rows, cols = (tuple(int(n) for n in part.split(":")) for part in value.split(","))
            if len(rows) != 2 or len(cols) != 2:
                raise ValueError
        except ValueError:
            self.fail(f"expected 'auto' or Y0:Y1,X0:X1 (pixels), got {value!r}", param, ctx)
        return (slice(*rows), slice(*cols))


class Number(_Type):
    """An int where the text is one (``-9999``), else a float (``nan``, ``0.5``)."""

    name = "NUMBER"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            self.fail(f"expected a number, got {value!r}", param, ctx)


class Scheduler(_Type):
    """A local dask scheduler's name, or the address of a distributed scheduler."""

    name = "|".join((*LOCAL_SCHEDULERS, "tcp://HOST:PORT"))

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if text.lower() in LOCAL_SCHEDULERS:
            return text.lower()
        if text.startswith(SCHEDULER_PROTOCOLS) and len(text) > len(text.split("://")[0]) + 3:
            return text
        return self.fail(
            f"expected one of {', '.join(LOCAL_SCHEDULERS)} or tcp://HOST:PORT, got {value!r}",
            param, ctx,
        )


PREDICTORS = {"auto": None, "1": False, "2": 2, "3": 3}


# --------------------------------------------------------------------------- options


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator of several, applied in the order listed (as --help shows them)."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


vrt_argument = click.argument(
    "vrt", metavar="OUTPUT.vrt",
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
)

input_options = _options(
    click.option("--var", "variables", multiple=True, metavar="NAME",
                 help="Data variable to write (repeatable; default: every one on the y/x grid)."),
    click.option("--engine", help="xarray backend to open INPUT with (default: rasterio for "
                 ".tif/.tiff/.vrt, zarr for Zarr, else xarray's guess, else rasterio: any "
                 "raster GDAL reads)."),
    click.option("--isel", multiple=True, type=IndexSelection(),
                 help="Select by position, DIM=INDEX or DIM=START:STOP (repeatable)."),
    click.option("--sel", multiple=True, type=KeyValue("DIM=VALUE"),
                 help="Select by label, DIM=VALUE, the value as JSON where it parses "
                 "(repeatable)."),
    click.option("--input-storage-option", "input_storage_options", multiple=True,
                 type=KeyValue(),
                 help="fsspec option for a Zarr URL INPUT, KEY=VALUE (repeatable)."),
)

tile_options = _options(
    click.option("--codec", type=click.Choice(list(CODECS), case_sensitive=False),
                 help="Compression of every tile (default: zstd). These tile options default "
                 "with --mode r+ to the mosaic's own."),
    click.option("--level", type=Number(), help="Codec level (deflate 1-9, zstd 1-22, ...)."),
    click.option("--predictor", type=click.Choice(list(PREDICTORS)),
                 help="TIFF predictor; 1 is none (default: auto)."),
    click.option("--chunks", type=Chunks(),
                 help="Tile size in pixels, SIZE or Y,X (default: a Zarr's own chunks, "
                 "else 1024)."),
    click.option("--blocksize", type=int,
                 help="Internal TIFF block size, a multiple of 16 (default: 256)."),
    click.option("--nodata", type=Number(), help="Nodata value (default: the input's)."),
    click.option("--crs", help="CRS override: EPSG:4326, WKT, PROJ string..."),
    click.option("--skip-empty", is_flag=True, help="Write no tile of nodata only."),
    click.option("--overviews", type=Overviews(), help="Overview levels: auto, or 2,4,8..."),
    click.option("--resampling", type=click.Choice(list(RESAMPLINGS), case_sensitive=False),
                 help="How overview pixels are made (default: nearest)."),
    click.option("--index", type=click.Choice(["gti"], case_sensitive=False),
                 help="Also write GDAL's tile index, OUTPUT.gti.gpkg (GDAL >= 3.9)."),
    click.option("--stac/--no-stac", default=None,
                 help="Also write a STAC Collection, OUTPUT_stac/collection.json."),
)

run_options = _options(
    click.option("--mode", type=click.Choice(list(MODES)), default="w-", show_default=True,
                 help="w- refuses an existing output, w replaces it, r+ updates it."),
    click.option("--region", type=RegionType(),
                 help="With --mode r+: where INPUT goes in the mosaic, auto (from its "
                 "coordinates) or pixels Y0:Y1,X0:X1 (default: the whole mosaic)."),
    click.option("--resume", is_flag=True, help="Continue an interrupted write of the same input."),
    click.option("--durable/--no-durable", default=True, show_default=True,
                 help="Flush the tiles to disk before the VRT names them."),
    click.option("--scheduler", type=Scheduler(),
                 help="dask scheduler (default: dask's configured one, else threads)."),
    click.option("--workers", type=click.IntRange(min=1),
                 help="Worker count of a local scheduler."),
    click.option("--storage-option", "storage_options", multiple=True, type=KeyValue(),
                 help="fsspec option for a URL OUTPUT, KEY=VALUE, the value as JSON "
                 "where it parses (repeatable)."),
    click.option("--progress/--no-progress", default=None,
                 help="Show a progress bar on stderr (default: when stderr is a terminal)."),
)


def as_dict(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """``--opt KEY=VALUE`` pairs, the last of a key winning."""
    return dict(pairs)
