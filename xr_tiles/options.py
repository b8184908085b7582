"""Write options, parsed and validated once, before any I/O."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import CRSError

from .codecs import CODECS, Codec
from .errors import InvalidOptionError, UnsupportedInputError
from .overviews import RESAMPLINGS

MODES = ("w-", "w", "r+")
TILE_MULTIPLE = 16
DEFAULT_NUMPY_CHUNK = 1024

Chunks = int | tuple[int, int] | dict[str, int]
Overviews = Literal["auto"] | Sequence[int]
Region = Literal["auto"] | Mapping[Hashable, slice]


@dataclass(frozen=True, kw_only=True)
class WriteOptions:
    """Every option of a write that does not depend on the data."""

    codec: Codec
    level: float | None
    predictor: int | None
    blocksize: int
    chunks: Chunks | None
    nodata: float | None
    crs: CRS | None
    mode: str
    skip_empty: bool
    overviews: Literal["auto"] | tuple[int, ...] | None
    resampling: str
    region: Region | None = None
    resume: bool = False
    durable: bool = True
    index: Literal["gti"] | None = None  # besides the VRT, GDAL's tile index
    stac: bool = False  # besides the VRT, a STAC Collection of the tiles


def parse_options(
    *,
    codec: str,
    level: float | None,
    predictor: bool | int | None,
    chunks: Chunks | None,
    blocksize: int,
    nodata: float | None,
    crs: Any,
    mode: str,
    skip_empty: bool,
    overviews: Overviews | None,
    resampling: str,
    region: Region | None = None,
    resume: bool = False,
    durable: bool = True,
    index: str | None = None,
    stac: bool = False,
) -> WriteOptions:
    parsed_codec = parse_codec(codec)
    parsed_mode = parse_mode(mode)
    return WriteOptions(
        codec=parsed_codec,
        level=parse_level(level, parsed_codec),
        predictor=parse_predictor(predictor, parsed_codec),
        blocksize=parse_blocksize(blocksize),
        chunks=parse_chunks(chunks),
        nodata=parse_nodata(nodata),
        crs=parse_crs(crs),
        mode=parsed_mode,
        skip_empty=parse_flag("skip_empty", skip_empty),
        overviews=parse_overviews(overviews),
        resampling=parse_resampling(resampling),
        region=parse_region(region, parsed_mode, chunks),
        resume=parse_flag("resume", resume),
        durable=parse_flag("durable", durable),
        index=parse_index(index),
        stac=parse_flag("stac", stac),
    )


def parse_index(index: str | None) -> Literal["gti"] | None:
    """None, or "gti": GDAL's tile index too, which needs a GDAL with the GTI driver."""
    if index is None:
        return None
    if not isinstance(index, str) or index.lower() != "gti":
        raise InvalidOptionError(f"index must be None or 'gti', got {index!r}")
    with rasterio.Env() as env:
        drivers = env.drivers()
    if "GTI" not in drivers:
        raise InvalidOptionError(
            f"index='gti' needs GDAL's GTI driver (GDAL >= 3.9), and rasterio's GDAL "
            f"{rasterio.__gdal_version__} has none registered (an older or smaller build, or "
            "GDAL_SKIP): upgrade rasterio, or drop index='gti' (the VRT alone reads the same)"
        )
    return "gti"


def check_catalogues(
    index: str | None, stac: bool, groups: int, crs: CRS | None, transform: Any
) -> None:
    """A GTI's files each hold every band; GTI and STAC place tiles on the earth."""
    if index == "gti" and groups > 1:
        raise InvalidOptionError(
            "index='gti' needs every tile to hold every band, and the data's bands have "
            f"{groups} dtypes (one file per dtype and tile): cast them to one dtype "
            "(ds.astype(...)), or drop index='gti'"
        )
    option = "stac=True" if stac else "index='gti'"
    if (index == "gti" or stac) and crs is None:
        raise InvalidOptionError(
            f"{option} needs a CRS, and the data has none: pass crs=..., or set one with "
            ".rio.write_crs(...)"
        )
    if (index == "gti" or stac) and not (transform.e < 0 and transform.b == transform.d == 0):
        raise InvalidOptionError(
            f"{option} needs a north-up grid (a transform without rotation), and the data's "
            f"is {tuple(transform)[:6]}: give it coordinates on y and x "
            "(da.assign_coords(...)) or a transform (.rio.write_transform(...))"
        )


def parse_flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidOptionError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_skip_empty(skip_empty: bool, nodata: float | None, bands: str) -> None:
    """An empty tile is one of nodata only: without a nodata value, none is empty."""
    if skip_empty and nodata is None:
        raise InvalidOptionError(
            f"skip_empty=True needs a nodata value, and {bands} has none: pass nodata=..., "
            "or set one with .rio.write_nodata(...)"
        )


def parse_overviews(overviews: Overviews | None) -> Literal["auto"] | tuple[int, ...] | None:
    """None, "auto", or the factors as distinct powers of two, ascending."""
    if overviews is None or (isinstance(overviews, str) and overviews == "auto"):
        return overviews
    sequence = isinstance(overviews, Sequence | np.ndarray) and not isinstance(overviews, str)
    factors = list(overviews) if sequence else []
    powers = all(
        isinstance(f, int | np.integer) and not isinstance(f, bool) and f >= 2 and f & (f - 1) == 0
        for f in factors
    )
    if not factors or not powers or len(set(factors)) != len(factors):
        # Powers of two, so that each level's windows are whole windows of the one before.
        raise InvalidOptionError(
            "overviews must be None, 'auto' or a list of distinct powers of two from 2 up "
            f"(e.g. [2, 4, 8, 16]); got {overviews!r}"
        )
    return tuple(sorted(int(f) for f in factors))


def parse_resampling(resampling: str) -> str:
    """A name, in any case as GDAL takes it, or rasterio's ``Resampling`` member."""
    name = getattr(resampling, "name", resampling)
    if not isinstance(name, str) or name.lower() not in RESAMPLINGS:
        raise InvalidOptionError(
            f"resampling must be one of {', '.join(map(repr, RESAMPLINGS))}; got {resampling!r}"
        )
    return name.lower()


def check_resampling_fits(resampling: str, dtype: np.dtype, factors: Sequence[int]) -> None:
    """'mode' counts equal values: continuous data seldom repeat one. Without overview
    levels nothing is resampled (as GDAL ignores RESAMPLING without OVERVIEWS)."""
    if factors and resampling == "mode" and dtype.kind == "f":
        raise InvalidOptionError(
            f"resampling='mode' takes the commonest value of each window, which makes no "
            f"sense for continuous {dtype.name} data; use 'average', 'nearest', 'min' or "
            "'max', or cast classes to an integer dtype"
        )


def check_progress(progress: bool, compute: bool) -> None:
    parse_flag("progress", progress)
    if progress and not compute:
        raise InvalidOptionError(
            "progress=True shows the write's progress, and compute=False does not write: "
            "compute the Delayed inside dask.diagnostics.ProgressBar() instead"
        )


def parse_codec(codec: str) -> Codec:
    name = codec.lower() if isinstance(codec, str) else codec
    if name not in CODECS:
        raise InvalidOptionError(f"codec must be one of {', '.join(CODECS)}; got {codec!r}")
    return CODECS[name]


def parse_level(level: float | None, codec: Codec) -> float | None:
    """The level to encode with: ``level``, checked, or the codec's default."""
    if level is None:
        return codec.default_level
    if codec.level_range is None:
        raise InvalidOptionError(f"codec {codec.name!r} takes no level; pass level=None")
    low, high = codec.level_range
    integral = isinstance(level, int | np.integer) and not isinstance(level, bool)
    numeric = integral or (codec.level_is_float and isinstance(level, float | np.floating))
    if not numeric or not low <= level <= high:
        kind = "a number" if codec.level_is_float else "an integer"
        bound = f">= {low:g}" if high == float("inf") else f"from {low:g} to {high:g}"
        raise InvalidOptionError(
            f"level for codec {codec.name!r} must be {kind} {bound}; got {level!r}"
        )
    return level


def parse_predictor(predictor: bool | int | None, codec: Codec) -> int | None:
    """None means automatic; False and 1 mean no predictor; 2 and 3 are TIFF's predictors."""
    if predictor is None:
        return None
    if predictor is False:
        return 1
    if predictor is True or predictor not in (1, 2, 3):
        raise InvalidOptionError(
            f"predictor must be None (automatic), False, 1, 2 or 3; got {predictor!r}"
        )
    if predictor != 1 and not codec.takes_predictor:
        takers = ", ".join(c.name for c in CODECS.values() if c.takes_predictor)
        raise InvalidOptionError(
            f"codec {codec.name!r} takes no predictor (only {takers} do); "
            "pass predictor=None or False"
        )
    return int(predictor)


def check_predictor_fits(predictor: int | None, dtype: np.dtype) -> None:
    if predictor == 2 and dtype.kind == "f":
        raise InvalidOptionError(
            f"predictor=2 (horizontal) is for integers; for {dtype.name} use 3 or None"
        )
    if predictor == 3 and dtype.kind != "f":
        raise InvalidOptionError(
            f"predictor=3 (floating point) is for floats; for {dtype.name} use 2 or None"
        )


def check_codec_fits(codec: Codec, dtype: np.dtype, band_count: int) -> None:
    if not codec.accepts_dtype(dtype):
        assert codec.dtypes is not None
        raise InvalidOptionError(
            f"codec {codec.name!r} cannot hold {dtype.name} data (only {', '.join(sorted(codec.dtypes))}); "
            "choose another codec, such as 'zstd' or 'deflate', or cast the data"
        )
    if not codec.accepts_band_count(band_count):
        assert codec.band_counts is not None
        counts = " or ".join(str(c) for c in sorted(codec.band_counts))
        raise InvalidOptionError(
            f"codec {codec.name!r} needs {counts} bands of one dtype per tile, got {band_count}; "
            "choose another codec, such as 'zstd' or 'deflate'"
        )


def parse_blocksize(blocksize: int) -> int:
    valid = isinstance(blocksize, int | np.integer) and not isinstance(blocksize, bool)
    if not valid or blocksize <= 0 or blocksize % TILE_MULTIPLE:
        raise InvalidOptionError(
            f"blocksize must be a positive multiple of {TILE_MULTIPLE} (e.g. 256, 512); "
            f"got {blocksize!r}"
        )
    return int(blocksize)


def parse_chunks(chunks: Chunks | None) -> Chunks | None:
    if chunks is None:
        return None
    if isinstance(chunks, dict):
        sizes = list(chunks.values())
    elif isinstance(chunks, tuple) and len(chunks) == 2:
        sizes = list(chunks)
    else:
        sizes = [chunks]
    if not all(_is_chunk_size(size) for size in sizes):
        raise InvalidOptionError(
            "chunks must be None, an int, a (y, x) tuple or a {dim: size} dict of positive "
            f"ints (or -1 for the whole dimension); got {chunks!r}"
        )
    return chunks


def _is_chunk_size(size: object) -> bool:
    valid_type = isinstance(size, int | np.integer) and not isinstance(size, bool)
    return valid_type and (size == -1 or size > 0)  # type: ignore[operator]


def parse_nodata(nodata: float | None) -> float | None:
    if nodata is None:
        return None
    if isinstance(nodata, bool) or not isinstance(nodata, int | float | np.number):
        raise InvalidOptionError(f"nodata must be a number or None, got {nodata!r}")
    return nodata.item() if isinstance(nodata, np.number) else nodata


def parse_crs(crs: Any) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as error:
        raise InvalidOptionError(
            f"crs must be something rasterio's CRS.from_user_input accepts "
            f"(an EPSG code, 'EPSG:4326', WKT, PROJ string); got {crs!r}: {error}"
        ) from None


def parse_mode(mode: str) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise InvalidOptionError(
            "mode must be 'w-' (refuse an existing VRT), 'w' (replace it) or 'r+' (update "
            f"a region of it); got {mode!r}"
        )
    return mode


def parse_region(region: Region | None, mode: str, chunks: Chunks | None) -> Region | None:
    """None, "auto", or ``{dim: slice}`` of integer pixels, step 1; only with ``r+``,
    which writes the mosaic's own tile grid (so ``chunks`` cannot choose another)."""
    if mode == "r+" and chunks is not None:
        raise InvalidOptionError(
            "chunks: mode='r+' writes the existing mosaic's tiles, on its tile grid; drop "
            f"chunks (got {chunks!r})"
        )
    if region is None:
        return None
    if mode != "r+":
        raise InvalidOptionError(
            "region updates part of an existing mosaic: pass mode='r+' with it "
            f"(got mode={mode!r})"
        )
    if isinstance(region, str) and region == "auto":
        return region
    if not isinstance(region, Mapping) or not all(_is_pixel_slice(v) for v in region.values()):
        raise InvalidOptionError(
            "region must be 'auto' or a dict of the spatial dims to slices of integer "
            "pixels, such as {'y': slice(0, 1024), 'x': slice(2048, 4096)}; "
            f"got {region!r}"
        )
    return {
        dim: slice(_as_int(value.start), _as_int(value.stop)) for dim, value in region.items()
    }


def _is_pixel_slice(value: object) -> bool:
    if not isinstance(value, slice) or value.step not in (None, 1):
        return False
    return all(
        bound is None or (isinstance(bound, int | np.integer) and not isinstance(bound, bool))
        for bound in (value.start, value.stop)
    )


def _as_int(bound: int | None) -> int | None:
    return None if bound is None else int(bound)


def check_nodata_fits(nodata: float | None, dtype: np.dtype) -> None:
    """Refuse a nodata value the band's dtype cannot represent exactly."""
    if nodata is None or dtype.kind == "f":
        return
    info = np.iinfo(dtype)
    if not (float(nodata).is_integer() and info.min <= nodata <= info.max):
        raise UnsupportedInputError(
            f"nodata={nodata!r} cannot be stored in {dtype.name} "
            f"(integers from {info.min} to {info.max}); pass another nodata or cast the data"
        )
