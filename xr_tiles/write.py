"""to_vrt: options -> raster -> plan -> graph -> compute (or the Delayed)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any, Literal, overload

import xarray as xr
from dask.delayed import Delayed

from .commit import target_for
from .encode import TileSpec
from .geotags import geotiff_tags
from .graph import compute_write, write_graph
from .options import (
    Chunks,
    Overviews,
    WriteOptions,
    check_codec_fits,
    check_predictor_fits,
    check_progress,
    check_resampling_fits,
    check_skip_empty,
    parse_options,
    parse_path,
    parse_storage_options,
    warn_misaligned_overviews,
)
from .overviews import auto_factors, merged_factors
from .plan import TilePlan
from .scheduling import check_scheduler, check_store_reachable
from .source import BandGroup, Raster, read_raster


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *, codec: str = ...,
    level: float | None = ..., predictor: bool | int | None = ..., scheduler: Any = ...,
    num_workers: int | None = ..., chunks: Chunks | None = ..., blocksize: int = ...,
    nodata: float | None = ..., crs: Any = ..., mode: str = ..., skip_empty: bool = ...,
    overviews: Overviews | None = ..., resampling: str = ...,
    storage_options: Mapping[str, Any] | None = ..., progress: bool = ...,
    compute: Literal[True] = ...,
) -> pathlib.Path | str: ...


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *, codec: str = ...,
    level: float | None = ..., predictor: bool | int | None = ..., scheduler: Any = ...,
    num_workers: int | None = ..., chunks: Chunks | None = ..., blocksize: int = ...,
    nodata: float | None = ..., crs: Any = ..., mode: str = ..., skip_empty: bool = ...,
    overviews: Overviews | None = ..., resampling: str = ...,
    storage_options: Mapping[str, Any] | None = ..., progress: bool = ...,
    compute: Literal[False],
) -> Delayed: ...


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *, codec: str = ...,
    level: float | None = ..., predictor: bool | int | None = ..., scheduler: Any = ...,
    num_workers: int | None = ..., chunks: Chunks | None = ..., blocksize: int = ...,
    nodata: float | None = ..., crs: Any = ..., mode: str = ..., skip_empty: bool = ...,
    overviews: Overviews | None = ..., resampling: str = ...,
    storage_options: Mapping[str, Any] | None = ..., progress: bool = ...,
    compute: bool = ...,
) -> pathlib.Path | str | Delayed: ...


def to_vrt(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    codec: str = "zstd",
    level: float | None = None,
    predictor: bool | int | None = None,
    scheduler: Any = None,
    num_workers: int | None = None,
    chunks: Chunks | None = None,
    blocksize: int = 256,
    nodata: float | None = None,
    crs: Any = None,
    mode: str = "w-",
    skip_empty: bool = False,
    overviews: Overviews | None = None,
    resampling: str = "nearest",
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = False,
    compute: bool = True,
) -> pathlib.Path | str | Delayed:
    """Write ``obj`` as one GeoTIFF per chunk plus a VRT mosaic; see ``.tiles.to_vrt``."""
    vrt_path = parse_path(path, storage_options)
    store_options = parse_storage_options(storage_options)
    check_progress(progress, compute)
    options = parse_options(
        codec=codec, level=level, predictor=predictor, chunks=chunks, blocksize=blocksize,
        nodata=nodata, crs=crs, mode=mode, skip_empty=skip_empty, overviews=overviews,
        resampling=resampling,
    )
    check_scheduler(scheduler, num_workers)
    check_store_reachable(vrt_path, scheduler)
    raster = read_raster(obj, options)
    factors = _overview_factors(raster, options)
    specs = [_tile_spec(group, raster, options, factors) for group in raster.groups]
    warn_misaligned_overviews(factors, raster.y_chunks, raster.x_chunks)
    target = target_for(vrt_path, store_options)
    target.check_mode(options.mode)
    plan = TilePlan(
        y_chunks=raster.y_chunks,
        x_chunks=raster.x_chunks,
        transform=raster.transform,
        folder=target.tiles_folder,
        group_suffixes=_group_suffixes(len(raster.groups)),
        overviews=factors,
        merged=merged_factors(
            (sum(raster.y_chunks), sum(raster.x_chunks)),
            (max(raster.y_chunks), max(raster.x_chunks)),
            sum(len(group.bands) * group.dtype.itemsize for group in raster.groups),
            factors,
        ),
    )
    delayed = write_graph(raster, plan, specs, target, options.mode, prepared=compute)
    if not compute:
        return delayed
    return compute_write(delayed, target, scheduler, num_workers, plan, progress=progress)


def _overview_factors(raster: Raster, options: WriteOptions) -> tuple[int, ...]:
    if options.overviews == "auto":
        height, width = sum(raster.y_chunks), sum(raster.x_chunks)
        return tuple(auto_factors(height, width, options.blocksize))
    return options.overviews or ()


def _tile_spec(
    group: BandGroup, raster: Raster, options: WriteOptions, factors: tuple[int, ...]
) -> TileSpec:
    codec, dtype = options.codec, group.dtype
    check_codec_fits(codec, dtype, len(group.bands))
    check_skip_empty(options.skip_empty, group.nodata, _described(group))
    check_predictor_fits(options.predictor, dtype)
    check_resampling_fits(options.resampling, dtype, factors)
    predictor = options.predictor or codec.default_predictor(dtype)
    return TileSpec(
        dtype=dtype,
        band_count=len(group.bands),
        compression=codec.compression,
        compressionargs={} if options.level is None else {"level": options.level},
        predictor=predictor,
        blocksize=options.blocksize,
        nodata=group.nodata,
        rgb=codec.band_counts is not None and len(group.bands) >= 3,
        geotags=geotiff_tags(raster.crs, raster.transform, group.nodata, dtype),
        skip_empty=options.skip_empty,
        overviews=factors,
        resampling=options.resampling,
    )


def _described(group: BandGroup) -> str:
    names = [band.description for band in group.bands if band.description is not None]
    return f"the data ({', '.join(names)})" if names else "the data"


def _group_suffixes(count: int) -> tuple[str, ...]:
    """One band group keeps plain names; several need one file per group and block."""
    return ("",) if count == 1 else tuple(f"_part{index + 1}" for index in range(count))
