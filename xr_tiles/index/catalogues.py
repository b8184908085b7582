"""What a write publishes besides the VRT, if asked: GDAL's tile index (``index="gti"``)
and a STAC Collection of the tiles (``stac=True``). Built in the final task with the
VRT, from the same tiles, and staged in the write's folder: the commit publishes them
beside the VRT once the VRT is (``store.commit``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plan import GTI_FILE, STAC_FILE, Tile, TilePlan
from .vrt import Source

Sizer = Callable[[str, str], int]  # (write id, file name) -> its size in bytes

if TYPE_CHECKING:
    from .mosaic import MosaicJob, TileRecord
    from .stac import ItemTemplate, Time


def catalogue_files(
    job: MosaicJob, sources: Sequence[Sequence[Source]], records: Sequence[TileRecord],
    size: Sizer,
) -> list[tuple[str, bytes]]:
    """The staged tile index and collection, and this write's STAC Items (each beside its
    cell's tiles; cells an earlier write kept keep their items)."""
    plan, files = job.plan, []
    if job.index == "gti":
        from .gti import gti_index  # pyogrio, loaded only where asked for

        levels = [(factor, plan.overview_path(factor, 0, job.write_id))
                  for factor in plan.overviews]
        files.append((GTI_FILE, gti_index(plan, job.bands, job.specs, job.crs, sources[0],
                                          levels)))
    if job.stac:
        files += _stac_files(job, sources, records, size)
    return files


def check_stac(plan: TilePlan, crs: Any) -> None:
    """Refuse, before anything is written, a raster whose pixels PROJ cannot place on the
    Earth (STAC footprints are in WGS84)."""
    from .footprint import footprint
    from .stac import RASTER_SEGMENTS

    footprint(plan.transform, plan.height, plan.width, crs, RASTER_SEGMENTS)


def stac_times(
    obj: Any, published: tuple[str, str] | None, kept: tuple[str, str] | None = None
) -> tuple[Time, tuple[str, str]]:
    """The time of this write's STAC Items, and the Collection's interval (ISO times).

    The data's time: a ``time`` coordinate of ``obj`` (a scalar, or the span of a band
    dimension of times). Without one, a region update's items take the mosaic's time (so
    that a reader finds one time slice, not one per write), a new mosaic's now (the time
    it was made, as GDAL's GTiff ``TIFFTAG_DATETIME``); a resumed write's, the time its
    killed run gave (``kept``). The interval spans the mosaic's and this write's."""
    found = _data_time(obj)
    for recorded in (kept, published):
        if found is None and recorded is not None:
            start, end = (dt.datetime.fromisoformat(text) for text in recorded)
            found = start if start == end else (start, end)
    if found is None:
        found = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start, end = found if isinstance(found, tuple) else (found, found)
    if published is not None:
        start = min(start, dt.datetime.fromisoformat(published[0]))
        end = max(end, dt.datetime.fromisoformat(published[1]))
    return found, (start.isoformat(), end.isoformat())


def _data_time(obj: Any) -> Time | None:
    for name in ("time", "t", "datetime"):
        if name in obj.coords and np.issubdtype(obj.coords[name].dtype, np.datetime64):
            values = obj.coords[name].values.ravel()
            times = [_utc(value) for value in (values.min(), values.max())]
            return times[0] if times[0] == times[1] else (times[0], times[1])
    return None


def tile_items(job: MosaicJob) -> ItemTemplate | None:
    """What the tile tasks need to put each tile's STAC Item beside it: where every
    tile is one file (one band group); else the final task puts them."""
    if not job.stac or len(job.specs) > 1:
        return None
    return _items(job)


def _items(job: MosaicJob) -> ItemTemplate:
    from .stac import COLLECTION_FILE, item_template  # pystac, loaded only where asked for

    return item_template(
        job.plan, job.bands, job.band_order, job.crs, collection_id=job.stem,
        collection_href=f"../../{job.stem}_stac/{COLLECTION_FILE}", datetime=job.datetime,
    )


def _stac_files(
    job: MosaicJob, sources: Sequence[Sequence[Source]], records: Sequence[TileRecord],
    size: Sizer,
) -> list[tuple[str, bytes]]:
    """The Items the tile tasks did not put (those of kept tiles of a resumed write, all
    where tiles are several files), and the collection of every Item."""
    from .stac import collection_json

    plan, stem = job.plan, job.stem
    tiles = {(tile.row, tile.col): tile for tile in plan.tiles()}
    cells: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    by_tasks = tile_items(job) is not None
    for group, row, col, ok, _ in records:
        if ok and not (by_tasks and ok is not True):
            name = plan.tile_name(row, col, group)
            # A kept tile of a resumed write: its size is its file's.
            written = ok if ok is not True else size(job.write_id, name)
            cells.setdefault((row, col), []).append((group, name, int(written)))
    files = []
    if cells:
        items = _items(job)
        files = [(plan.item_name(tiles[cell]), items.json(tiles[cell], sorted(listed)))
                 for cell, listed in sorted(cells.items())]
    placed: dict[tuple[int, int], tuple[Tile, str]] = {}
    for listed in sources:
        for tile, write_id in listed:
            placed.setdefault((tile.row, tile.col), (tile, write_id))
    links = [f"../{plan.folder}/{write_id}/{plan.item_name(tile)}"
             for _, (tile, write_id) in sorted(placed.items())]
    assert job.extent is not None
    start, end = (dt.datetime.fromisoformat(text) for text in job.extent)
    collection = collection_json(
        plan, job.bands, job.band_order, job.crs, links, collection_id=stem,
        vrt_href=f"../{stem}.vrt", datetime=start if start == end else (start, end),
    )
    return [*files, (STAC_FILE, collection)]


def _utc(value: np.datetime64) -> dt.datetime:
    seconds = value.astype("datetime64[s]").astype(np.int64)
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC)
