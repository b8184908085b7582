"""What a write publishes besides the VRT, if asked: GDAL's tile index (``index="gti"``)
and a STAC Collection of the tiles (``stac=True``). Built in the final task with the
VRT, from the same tiles, and staged in the write's folder: the commit publishes them
beside the VRT once the VRT is (``store.commit``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plan import GTI_FILE, STAC_FILE, Tile, TilePlan
from .vrt import Source

if TYPE_CHECKING:
    from .mosaic import MosaicJob, Reader, TileRecord
    from .stac import Time


def catalogue_files(
    job: MosaicJob, sources: Sequence[Sequence[Source]], records: Sequence[TileRecord],
    read: Reader,
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
        files += _stac_files(job, sources, records, read)
    return files


def check_stac(plan: TilePlan, crs: Any) -> None:
    """Refuse, before anything is written, a raster whose pixels PROJ cannot place on the
    Earth (STAC footprints are in WGS84)."""
    from .stac import RASTER_SEGMENTS, footprint

    footprint(plan.transform, plan.height, plan.width, crs, RASTER_SEGMENTS)


def stac_datetime(obj: Any) -> Time:
    """The time the data stands for: a scalar ``time`` coordinate of ``obj`` (or the span
    of a band dimension of times), else now, the time it was made, as GDAL's GTiff
    ``TIFFTAG_DATETIME`` is."""
    for name in ("time", "t", "datetime"):
        if name in obj.coords and np.issubdtype(obj.coords[name].dtype, np.datetime64):
            values = obj.coords[name].values.ravel()
            times = [_utc(value) for value in (values.min(), values.max())]
            return times[0] if times[0] == times[1] else (times[0], times[1])
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _stac_files(
    job: MosaicJob, sources: Sequence[Sequence[Source]], records: Sequence[TileRecord],
    read: Reader,
) -> list[tuple[str, bytes]]:
    from .stac import COLLECTION_FILE, collection_json, item_template  # pystac, likewise

    plan, stem = job.plan, job.stem
    template = item_template(
        plan, job.bands, job.band_order, job.crs, collection_id=stem,
        collection_href=f"../../{stem}_stac/{COLLECTION_FILE}",
        datetime=job.datetime,
    )
    tiles = {(tile.row, tile.col): tile for tile in plan.tiles()}
    cells: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    for group, row, col, ok, _ in records:
        if ok:
            name = plan.tile_name(row, col, group)
            # A kept tile of a resumed write: its size is what is in its file.
            size = ok if ok is not True else len(read(job.write_id, name))
            cells.setdefault((row, col), []).append((group, name, int(size)))
    files = [
        (plan.item_name(tiles[cell]), template.json(tiles[cell], sorted(listed)))
        for cell, listed in sorted(cells.items())
    ]
    placed: dict[tuple[int, int], tuple[Tile, str]] = {}
    for listed in sources:
        for tile, write_id in listed:
            placed.setdefault((tile.row, tile.col), (tile, write_id))
    items = [f"../{plan.folder}/{write_id}/{plan.item_name(tile)}"
             for _, (tile, write_id) in sorted(placed.items())]
    collection = collection_json(
        plan, job.bands, job.band_order, job.crs, items, collection_id=stem,
        vrt_href=f"../{stem}.vrt", datetime=job.datetime,
    )
    return [*files, (STAC_FILE, collection)]


def _utc(value: np.datetime64) -> dt.datetime:
    seconds = value.astype("datetime64[s]").astype(np.int64)
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC)
