"""The mosaic's index, built from the tiles' records once every tile is written: the VRT,
a VRT of each large overview level, and each small level as one GeoTIFF of the whole
raster. Pure, but for the levels a region update pastes its tiles into (``read``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rasterio.crs import CRS

from .encode import TileSpec, decoded_pages, level_tiff
from .geotags import geotiff_tags
from .overviews import merged_level
from .plan import Tile, TilePlan
from .source import Band
from .vrt import Source, vrt_xml

# group, row, col, written (False: skipped, empty), its levels of the plan's merged factors
TileRecord = tuple[int, int, int, bool, tuple[np.ndarray, ...]]
TileKey = tuple[int, int, int]  # group, row, col
Reader = Callable[[str, str], bytes]  # (write id, file name) -> bytes


@dataclass(frozen=True)
class MosaicJob:
    """What building the index needs besides the records."""

    plan: TilePlan
    bands: Sequence[Band]
    band_order: Sequence[tuple[int, int]]
    specs: Sequence[TileSpec]
    crs: CRS | None
    metadata: Mapping[str, str]
    write_id: str
    state: str  # the VRT's record of this write
    inherited: Mapping[TileKey, str]  # tiles of earlier writes the VRT keeps, by write id
    base_levels: Mapping[tuple[int, int], tuple[str, str]]  # (factor, group) -> (write, file)


@dataclass(frozen=True)
class Documents:
    """The write's overview files (put in its folder), the VRT, and what they name."""

    files: list[tuple[str, bytes]]
    vrt: str
    referenced: Mapping[str, set[str]]  # each write's files the VRT names, by write id


def documents(job: MosaicJob, records: Sequence[TileRecord], read: Reader) -> Documents:
    """The index of a write whose tiles returned ``records`` (every tile it covers)."""
    plan = job.plan
    written = {(group, row, col) for group, row, col, ok, _ in records if ok}
    sources = [_sources(job, written, group) for group in range(len(job.specs))]
    document = functools.partial(
        vrt_xml, plan, job.bands, job.band_order, job.specs, job.crs, job.metadata, sources,
        write_id=job.write_id,
    )
    files = [
        (plan.overview_filename(factor), document(factor).encode("utf-8"))
        for factor in plan.overviews if factor not in plan.merged
    ]
    files += _merged_levels(job, records, read)
    named = Named(plan, sources, job.write_id, [name for name, _ in files])
    return Documents(files, document(state=job.state), named)


class Named(Mapping[str, set[str]]):
    """Each write's files that the VRT names, by write id; a write's names are worked out
    when asked for (cleanup asks for those of earlier writes, seldom for this one's)."""

    def __init__(
        self, plan: TilePlan, sources: Sequence[Sequence[Source]], write_id: str,
        files: Sequence[str],
    ) -> None:
        self._plan, self._sources, self._write_id, self._files = plan, sources, write_id, files
        self._ids = {write_id, *(wid for listed in sources for _, wid in listed)}

    def __getitem__(self, write_id: str) -> set[str]:
        if write_id not in self._ids:
            raise KeyError(write_id)
        names = {
            self._plan.filename(tile, group)
            for group, listed in enumerate(self._sources)
            for tile, wid in listed if wid == write_id
        }
        return names | set(self._files) if write_id == self._write_id else names

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def _sources(job: MosaicJob, written: set[TileKey], group: int) -> list[Source]:
    """The tiles of ``group`` there are: this write's, else an earlier one's."""
    listed = []
    for tile in job.plan.tiles():
        key = (group, tile.row, tile.col)
        if key in written:
            listed.append((tile, job.write_id))
        elif key in job.inherited:
            listed.append((tile, job.inherited[key]))
    return listed


def _merged_levels(
    job: MosaicJob, records: Sequence[TileRecord], read: Reader
) -> list[tuple[str, bytes]]:
    """The whole raster's small levels, each one GeoTIFF per band group: every pixel of
    this write's tiles as the tiles have it (nodata for skipped ones), pasted over the
    level as it was where earlier writes' tiles stay (a region update)."""
    plan, files = job.plan, []
    tiles = {(tile.row, tile.col): tile for tile in plan.tiles()}
    for index, factor in enumerate(plan.merged):
        transform = plan.level_transform(factor)
        for group, spec in enumerate(job.specs):
            base = _base_level(job, read, factor, group, spec)
            pieces = [
                (tile.row_off // factor, tile.col_off // factor,
                 levels[index] if ok else _nodata_level(tile, factor, spec))
                for record_group, row, col, ok, levels in records
                if record_group == group and (ok or base is not None)
                for tile in (tiles[row, col],)
            ]
            shape = (spec.band_count, *plan.level_shape(factor))
            level = merged_level(pieces, shape, spec.dtype, spec.nodata, base)
            geotags = geotiff_tags(job.crs, transform, spec.nodata, spec.dtype)
            files.append((plan.overview_filename(factor, group),
                          level_tiff(level, spec, transform, geotags)))
    return files


def _base_level(
    job: MosaicJob, read: Reader, factor: int, group: int, spec: TileSpec
) -> np.ndarray | None:
    if (factor, group) not in job.base_levels:
        return None
    write_id, name = job.base_levels[factor, group]
    return decoded_pages(read(write_id, name), [0], spec)[0]


def _nodata_level(tile: Tile, factor: int, spec: TileSpec) -> np.ndarray:
    shape = (spec.band_count, -(-tile.height // factor), -(-tile.width // factor))
    return np.full(shape, spec.nodata, spec.dtype)

