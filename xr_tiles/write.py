"""to_vrt: options -> raster -> what is at the path -> plan -> graph -> compute (or the
Delayed)."""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Unpack, overload

import dask.base
import xarray as xr
from affine import Affine
from dask.delayed import Delayed, delayed
from rasterio.crs import CRS

from . import plan as plan_module
from . import state
from .advice import warn_misaligned_overviews, warn_small_tiles
from .batching import Work, configured_tiles_per_task, tiles_per_task
from .encode import TileSpec
from .errors import InvalidMosaicError, RegionMismatchError
from .geotags import geotiff_tags
from .graph import compute_write, write_graph
from .index.catalogues import check_stac, stac_times
from .index.mosaic import MosaicJob
from .index.vrt import mosaic_looks
from .inherited import new_options, region_options
from .keywords import WriteKeywords, with_defaults
from .options import (
    Chunks,
    Overviews,
    Region,
    WriteOptions,
    check_catalogues,
    check_codec_fits,
    check_predictor_fits,
    check_progress,
    check_resampling_fits,
    check_skip_empty,
    parse_flag,
    parse_options,
)
from .overviews import auto_factors, merged_factors
from .paths import parse_path, parse_storage_options
from .plan import TilePlan
from .region import Region as RegionFit
from .region import fit_region
from .scheduling import Scheduler, check_scheduler, check_store_reachable, resolve_scheduler
from .source import Band, BandGroup, Raster, read_raster, rechunked
from .store import Commit, CommitPlan, Existing, Store, inspect, plan_commit, store_for


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *,
    compute: Literal[True] = ..., **options: Unpack[WriteKeywords],
) -> pathlib.Path | str: ...


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *,
    compute: Literal[False], **options: Unpack[WriteKeywords],
) -> Delayed: ...


@overload
def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *,
    compute: bool = ..., **options: Unpack[WriteKeywords],
) -> pathlib.Path | str | Delayed: ...


def to_vrt(
    obj: xr.DataArray | xr.Dataset, path: str | os.PathLike[str], *, compute: bool = True,
    **options: Unpack[WriteKeywords],
) -> pathlib.Path | str | Delayed:
    """Write ``obj`` as one GeoTIFF per chunk plus a VRT mosaic; see ``.tiles.to_vrt``."""
    return _write(obj, path, compute=compute, **with_defaults(options))


def _write(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    codec: str | None,
    level: float | None,
    predictor: bool | int | None,
    scheduler: Any,
    num_workers: int | None,
    chunks: Chunks | None,
    blocksize: int | None,
    nodata: float | None,
    crs: Any,
    mode: str,
    region: Region | None,
    resume: bool,
    skip_empty: bool,
    overviews: Overviews | None,
    resampling: str | None,
    durable: bool,
    index: str | None,
    stac: bool | None,
    storage_options: Mapping[str, Any] | None,
    progress: bool,
    compute: bool,
) -> pathlib.Path | str | Delayed:
    """``to_vrt`` with every keyword given (``keywords.DEFAULTS``)."""
    vrt_path = parse_path(path, storage_options)
    store_options = parse_storage_options(storage_options)
    check_progress(progress, compute)
    given = {
        "codec": codec, "level": level, "predictor": predictor, "blocksize": blocksize,
        "overviews": overviews, "resampling": resampling, "index": index, "stac": stac,
    }
    store = store_for(vrt_path, store_options, durable=parse_flag("durable", durable))
    existing = inspect(store)
    options = parse_options(
        **_tile_options(given, mode, store, existing), chunks=chunks, nodata=nodata,
        crs=crs, mode=mode, skip_empty=skip_empty, region=region, resume=resume,
        durable=durable,
    )
    check_scheduler(scheduler, num_workers)
    configured_tiles_per_task()  # checked before any I/O, lazy writes too
    check_store_reachable(vrt_path, scheduler)
    raster = read_raster(obj, options)
    update = _region_update(raster, store, existing, options) if options.mode == "r+" else None
    if update is not None:
        raster = _as_mosaic_bands(raster, existing.vrt_text)
    if update is not None:
        raster = rechunked(raster, *update.chunks)
    plan = _tile_plan(raster, options, store, update)
    specs = [_tile_spec(group, raster, plan, options) for group in raster.groups]
    check_catalogues(options.index, options.stac, len(specs), raster.crs, plan.transform)
    if options.stac:
        check_stac(plan, raster.crs)
    warn_misaligned_overviews(plan.overviews, plan.y_chunks, plan.x_chunks)
    if update is None:  # a region update's tiles are the mosaic's
        warn_small_tiles(plan.y_chunks, plan.x_chunks)
    identity = _identity(raster, plan, specs, options, update)
    if update is not None:
        _check_fits(store, update, identity)
    commit_plan = plan_commit(store, existing, identity, options.mode, options.resume)
    covered = _covered_tiles(plan, update) * len(specs)
    item_time, extent = _stac_times(obj, options, update, existing, commit_plan)
    commit = Commit(store, commit_plan, identity, covered, eager=compute,
                    stac_time=None if item_time is None else list(_interval(item_time)))
    if commit_plan.done:
        assert existing.published is not None
        named = existing.published.files()
        return commit.tidy(named) if compute else delayed(commit.tidy, pure=False)(named)
    work = _work(plan, update, commit_plan.kept, len(specs))
    mosaic = MosaicJob(
        plan, raster.bands, raster.band_order, specs, raster.crs, raster.metadata,
        commit_plan.write_id, state.state_text(commit_plan.write_id, identity, extent),
        {} if update is None else update.inherited, {} if update is None else update.base_levels,
        {} if update is None else update.published.blocks,
        index=options.index, stac=options.stac, stem=store.root_name.removesuffix("_tiles"),
        datetime=item_time, extent=extent,
    )
    runner = resolve_scheduler(scheduler, num_workers, plan)
    # A lazy write's tasks share the input's blocks with what it is computed with, so
    # they stay one a tile; an eager one's hold their blocks' tasks (see graph).
    size = _tiles_per_task(plan, specs, work, runner) if compute else 1
    graph = write_graph(raster, plan, specs, commit, work, mosaic, size, lazy=not compute)
    if isinstance(graph, Delayed):
        return graph
    return compute_write(  # type: ignore[no-any-return]
        graph, commit, mosaic, runner, progress=progress
    )


@dataclass(frozen=True)
class Update:
    """A region update: where the data goes, and what of the mosaic stays."""

    region: RegionFit
    published: state.Published
    grid: Mapping[str, Any]  # the mosaic's, as its VRT records it

    @property
    def chunks(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The region's part of the mosaic's tile grid."""
        rows, cols = self.region.rows, self.region.cols
        return (tuple(self.grid["y_chunks"][rows.start : rows.stop]),
                tuple(self.grid["x_chunks"][cols.start : cols.stop]))

    @property
    def inherited(self) -> dict[tuple[int, int, int], str]:
        """The tiles outside the region, which stay as earlier writes wrote them."""
        return {
            key: write_id for key, write_id in self.published.tiles.items()
            if not self.region.covers(key[1], key[2])
        }

    @property
    def base_levels(self) -> Mapping[tuple[int, int], tuple[str, str]]:
        return self.published.overviews


def _tile_options(
    given: Mapping[str, Any], mode: str, store: Store, existing: Existing
) -> dict[str, Any]:
    """The options given, else the defaults; a region update's, else the mosaic's."""
    published = existing.published
    if mode != "r+" or published is None:
        return new_options(given)
    grid = published.identity[state.GRID]
    shape = (sum(grid["y_chunks"]), sum(grid["x_chunks"]))
    return region_options(given, published.identity[state.TILES], shape, store.where())


def _as_mosaic_bands(raster: Raster, vrt_text: str | None) -> Raster:
    """A region update keeps the mosaic's metadata and the bands' descriptions, units,
    metadata and colours (a patch read back from a GeoTIFF has lost them)."""
    if vrt_text is None:
        return raster
    metadata, looks = mosaic_looks(vrt_text)
    if len(looks) != len(raster.band_order):
        return raster  # the band check says what differs
    by_group: dict[int, dict[int, Band]] = {}
    for look, (group, index) in zip(looks, raster.band_order, strict=True):
        band = raster.groups[group].bands[index]
        by_group.setdefault(group, {})[index] = replace(
            band, description=look.description, metadata=look.metadata,
            unit=look.unit if band.unit is None else band.unit,
            color_interp=look.color_interp, color_table=look.color_table,
        )
    groups = tuple(
        replace(group, bands=tuple(by_group[number][i] for i in range(len(group.bands))))
        for number, group in enumerate(raster.groups)
    )
    return replace(raster, groups=groups, metadata=metadata)


def _region_update(
    raster: Raster, store: Store, existing: Existing, options: WriteOptions
) -> Update:
    """Where ``raster`` goes in the mosaic at the path, or an error before anything is
    written: no mosaic there, one xr_tiles cannot update, or data that does not fit."""
    if existing.version is None:
        raise InvalidMosaicError(
            f"mode='r+' updates an existing mosaic, and {store.where()} does not exist: "
            "write it first (mode='w-' or 'w')"
        )
    published = existing.published
    if published is None:
        raise InvalidMosaicError(
            f"mode='r+' cannot update {store.where()}: {existing.foreign}; replace it with "
            "mode='w'"
        )
    grid = published.identity[state.GRID]
    region = fit_region(
        options.region, raster.shape, raster.transform, raster.dims, grid,
        georeferenced=raster.georeferenced,
    )
    missing = sorted(
        f"{write_id}/{name}"
        for write_id, names in published.files().items()
        for name in names - store.files(write_id)
    )
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise InvalidMosaicError(
            f"mode='r+' cannot update {store.where()}: files it names are missing from "
            f"{store.root_name}/ ({shown}); replace it with mode='w'"
        )
    return Update(region, published, grid)


def _check_fits(store: Store, update: Update, identity: Mapping[str, Any]) -> None:
    """The data's bands, CRS and tile options must be the mosaic's."""
    mosaic = update.published.identity
    found = [_in_words(text) for text in state.differences(mosaic, identity, [state.TILES])]
    found += [_in_words(text) for text in state.differences(
        {state.BANDS: _compared(mosaic[state.BANDS])},
        {state.BANDS: _compared(identity[state.BANDS])}, [state.BANDS])]
    crs = [grid[state.GRID]["crs"] for grid in (mosaic, identity)]
    if (crs[0] is None) != (crs[1] is None) or (
        crs[0] is not None and CRS.from_wkt(crs[0]) != CRS.from_wkt(crs[1])
    ):
        found.insert(0, f"crs: {_crs_name(crs[0])} vs {_crs_name(crs[1])}")
    if found:
        raise RegionMismatchError(
            f"mode='r+': the data does not fit the mosaic {store.where()} (mosaic vs data): "
            f"{'; '.join(found)}; cast or describe the data as the mosaic is, or replace "
            "the mosaic with mode='w'"
        )


def _compared(bands: Any) -> list[dict[str, Any]]:
    """What a band must share with the mosaic's: not its description, which the mosaic
    keeps, nor which file holds it (that follows from the rest)."""
    return [{key: value for key, value in band.items() if key not in ("description", "file")}
            for band in bands]


def _in_words(difference: str) -> str:
    """``bands[2].dtype: ...`` as ``band 2 dtype: ...``; a tile option by its name."""
    name, _, rest = difference.partition(": ")
    name = name.replace("tiles.predictors", "predictor").replace("tiles.merged", "overviews")
    name = name.removeprefix("tiles.").replace("bands[", "band ").replace("].", " ")
    return f"{name}: {rest}"


def _crs_name(wkt: str | None) -> str:
    if wkt is None:
        return "none"
    crs = CRS.from_wkt(wkt)
    return str(crs.to_string() if crs.to_epsg() else crs.to_wkt()[:60])


def _tile_plan(
    raster: Raster, options: WriteOptions, store: Store, update: Update | None
) -> TilePlan:
    """The plan of the whole mosaic: the data's own grid, or the mosaic's it updates."""
    if update is None:
        y_chunks, x_chunks, transform = raster.y_chunks, raster.x_chunks, raster.transform
    else:
        y_chunks, x_chunks = tuple(update.grid["y_chunks"]), tuple(update.grid["x_chunks"])
        transform = Affine(*update.grid["transform"])
    height, width = sum(y_chunks), sum(x_chunks)
    factors: tuple[int, ...]
    if options.overviews == "auto":
        factors = tuple(auto_factors(height, width, options.blocksize))
        if not factors and update is None:
            warnings.warn(
                f"overviews='auto' makes no level: the {height} x {width} raster fits one "
                f"blocksize={options.blocksize} block already; pass overviews=[2, 4] for "
                "levels anyway", UserWarning, stacklevel=3,
            )
    else:
        factors = options.overviews or ()
    return TilePlan(
        y_chunks=y_chunks,
        x_chunks=x_chunks,
        transform=transform,
        folder=store.root_name,
        group_suffixes=_group_suffixes(len(raster.groups)),
        overviews=factors,
        nest=_nest(len(y_chunks) * len(x_chunks)),
        merged=merged_factors(
            (height, width), (max(y_chunks), max(x_chunks)),
            sum(len(group.bands) * group.dtype.itemsize for group in raster.groups),
            factors,
        ),
    )


def _stac_times(
    obj: Any, options: WriteOptions, update: Update | None, existing: Existing,
    commit_plan: CommitPlan,
) -> tuple[Any, tuple[str, str] | None]:
    """The STAC Items' time and the Collection's interval; a resumed write keeps the
    time its killed run gave the Items it put."""
    if not options.stac:
        return None, None
    kept = None
    if commit_plan.resumed:
        listed = existing.listing.writes.get(commit_plan.write_id)
        kept = None if listed is None or listed.manifest is None else listed.manifest.stac_time
    published = None if update is None else update.published.stac_time
    return stac_times(obj, published, None if kept is None else (kept[0], kept[1]))


def _interval(time: Any) -> tuple[str, str]:
    start, end = time if isinstance(time, tuple) else (time, time)
    return start.isoformat(), end.isoformat()


def _nest(tiles: int) -> int:
    """The blocks a nested VRT mosaics, tiles a side; 0: a flat VRT. Read at each write
    (the constants are tuning, which tests set)."""
    return plan_module.NEST_BLOCK if tiles > plan_module.NEST_ABOVE_TILES else 0


def _identity(
    raster: Raster, plan: TilePlan, specs: list[TileSpec], options: WriteOptions,
    update: Update | None,
) -> dict[str, Any]:
    """What this write is (``state.identity``): for resume=True to find it again, and for
    region updates to check against."""
    arrays = [array.name for group in raster.groups for array in group.arrays]
    return state.identity(
        token=dask.base.tokenize(arrays),
        mode=options.mode,
        region=None if update is None else update.region.as_list(),
        skip_empty=options.skip_empty,
        grid={
            "y_chunks": plan.y_chunks, "x_chunks": plan.x_chunks,
            "transform": tuple(plan.transform)[:6],
            "crs": None if raster.crs is None else raster.crs.to_wkt(),
        },
        tiles={
            "codec": options.codec.name, "level": options.level,
            "predictors": [spec.predictor for spec in specs], "blocksize": options.blocksize,
            "overviews": plan.overviews,
            # Which levels are whole-raster files: a region update pastes into those.
            "merged": plan.merged,
            "resampling": options.resampling if plan.overviews else None,
            "index": options.index, "stac": options.stac,
        },
        bands=[
            {
                "dtype": band.dtype.name, "nodata": repr(band.nodata),
                "description": band.description, "scale": band.scale, "offset": band.offset,
                "unit": band.unit, "file": list(place),
            }
            for band, place in zip(raster.bands, raster.band_order, strict=True)
        ],
    )


def _covered_tiles(plan: TilePlan, update: Update | None) -> int:
    if update is None:
        return len(plan)
    return len(update.region.rows) * len(update.region.cols)


def _work(plan: TilePlan, update: Update | None, kept: frozenset[str], groups: int) -> Work:
    """The tiles to compute and write, and those a resumed write already has."""
    rows = range(plan.shape[0]) if update is None else update.region.rows
    cols = range(plan.shape[1]) if update is None else update.region.cols
    done = frozenset(
        (group, row, col) for row in rows for col in cols for group in range(groups)
        if plan.tile_name(row, col, group) in kept
    ) if kept else frozenset()
    return Work(rows, cols, groups, done)


def _tiles_per_task(
    plan: TilePlan, specs: list[TileSpec], work: Work, scheduler: Scheduler
) -> int:
    """``batching.tiles_per_task`` for this write's tiles on ``scheduler``."""
    pixels = plan.height * plan.width // len(plan)
    pixel_bytes = sum(spec.band_count * spec.dtype.itemsize for spec in specs) // len(specs)
    return tiles_per_task(pixels, pixels * pixel_bytes, work.count, scheduler.workers,
                          remote=scheduler.remote)


def _tile_spec(
    group: BandGroup, raster: Raster, plan: TilePlan, options: WriteOptions
) -> TileSpec:
    codec, dtype, factors = options.codec, group.dtype, plan.overviews
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
        geotags=geotiff_tags(raster.crs, plan.transform, group.nodata, dtype),
        skip_empty=options.skip_empty,
        overviews=factors,
        resampling=options.resampling,
        lossless=codec.is_lossless(options.level),
        nan_is_nodata=group.nan_is_nodata,
    )


def _described(group: BandGroup) -> str:
    names = [band.description for band in group.bands if band.description is not None]
    return f"the data ({', '.join(names)})" if names else "the data"


def _group_suffixes(count: int) -> tuple[str, ...]:
    """One band group keeps plain names; several need one file per group and block."""
    return ("",) if count == 1 else tuple(f"_part{index + 1}" for index in range(count))
