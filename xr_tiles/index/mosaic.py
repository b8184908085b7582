"""The mosaic's index, built from the tiles' records once every tile is written: the VRT
(flat, or nested: a VRT of sub-VRTs of blocks of tiles), a VRT of each large overview
level, and each small level as one GeoTIFF of the whole raster. Pure, but for the levels a region update pastes its tiles into (``read``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rasterio.crs import CRS

from ..encode import TileSpec, decoded_pages, level_tiff
from ..geotags import geotiff_tags
from ..overviews import merged_level
from ..plan import Tile, TilePlan
from ..source import Band
from ..state import PublishedBlock
from .catalogues import Sizer, catalogue_files
from .vrt import Placed, Source, block_xml, vrt_xml

# group, row, col, written (its size; True: kept by a resumed write, False: skipped as
# empty), its levels of the plan's merged factors
TileRecord = tuple[int, int, int, int | bool, tuple[np.ndarray, ...]]
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
    # The published nested VRT's blocks: each sub-VRT's write, and the tiles it lists.
    base_blocks: Mapping[tuple[int, int], PublishedBlock] = field(default_factory=dict)
    index: str | None = None  # "gti": GDAL's tile index too
    stac: bool = False  # a STAC Collection too, an Item a tile
    stem: str = ""  # the VRT's name without .vrt
    datetime: Any = None  # the STAC Items' time
    extent: tuple[str, str] | None = None  # the STAC Collection's interval, ISO times


@dataclass(frozen=True)
class Documents:
    """The write's overview files (put in its folder), the VRT, and what they name."""

    files: list[tuple[str, bytes]]
    vrt: str
    referenced: Mapping[str, set[str]]  # each write's files the VRT names, by write id


def documents(
    job: MosaicJob, records: Sequence[TileRecord], read: Reader, size: Sizer
) -> Documents:
    """The index of a write whose tiles returned ``records`` (every tile it covers): a
    flat VRT of the tiles, or a nested one of blocks of them (``plan.nest``), which
    keeps the published sub-VRTs of the blocks whose tiles stay as they were."""
    plan = job.plan
    written = {(group, row, col) for group, row, col, ok, _ in records if ok}
    sources = [_sources(job, written, group) for group in range(len(job.specs))]
    files, placed = _blocks(job, sources) if plan.nest else ([], None)
    document = functools.partial(
        vrt_xml, plan, job.bands, job.band_order, job.specs, job.crs, job.metadata, sources,
        write_id=job.write_id,
    )
    nested = plan.nested_levels()
    files += [
        (plan.overview_filename(factor),
         document(factor, blocks=placed if factor in nested else None).encode("utf-8"))
        for factor in plan.overviews if factor not in plan.merged
    ]
    files += _merged_levels(job, records, read)
    files += catalogue_files(job, sources, records, size)
    named = Named(plan, sources, job.write_id, [name for name, _ in files], placed or [],
                  stac=job.stac)
    return Documents(files, document(state=job.state, blocks=placed), named)


def _blocks(
    job: MosaicJob, sources: Sequence[Sequence[Source]]
) -> tuple[list[tuple[str, bytes]], list[Placed]]:
    """The sub-VRTs of a nested VRT's blocks that changed (their files) and every block
    with tiles, each with the write whose sub-VRTs it uses: a block whose tiles are the
    published ones keeps the published sub-VRTs."""
    plan, files, placed = job.plan, [], []
    nest, groups = plan.nest, len(job.specs)
    by_block: dict[tuple[int, int], list[list[Source]]] = {}
    for group, listed in enumerate(sources):
        for source in listed:
            tile = source[0]
            key = (tile.row // nest, tile.col // nest)
            by_block.setdefault(key, [[] for _ in range(groups)])[group].append(source)
    document = functools.partial(
        block_xml, plan, job.bands, job.band_order, job.specs, job.crs)
    for block in plan.blocks():
        in_block = by_block.get((block.row, block.col))
        if in_block is None:
            continue  # no tile at all (skipped as empty): the VRT reads nodata there
        tiles = {(group, tile.row, tile.col): write_id
                 for group, listed in enumerate(in_block) for tile, write_id in listed}
        base = job.base_blocks.get((block.row, block.col))
        if base is not None and dict(base.tiles) == tiles:
            placed.append((block, base.write_id))
            continue
        files += [
            (plan.block_filename(block, factor),
             document(block, in_block, factor).encode("utf-8"))
            for factor in (1, *plan.nested_levels())
        ]
        placed.append((block, job.write_id))
    return files, placed


class Named(Mapping[str, set[str]]):
    """Each write's files that the VRT names, by write id; a write's names are worked out
    when asked for (cleanup asks for those of earlier writes, seldom for this one's)."""

    def __init__(
        self, plan: TilePlan, sources: Sequence[Sequence[Source]], write_id: str,
        files: Sequence[str], blocks: Sequence[Placed], *, stac: bool,
    ) -> None:
        self._plan, self._sources, self._write_id, self._files = plan, sources, write_id, files
        self._blocks, self._stac = blocks, stac
        self._names: dict[str, set[str]] = {}
        self._ids = {write_id, *(wid for listed in sources for _, wid in listed),
                     *(wid for _, wid in blocks)}

    def __getitem__(self, write_id: str) -> set[str]:
        if write_id not in self._ids:
            raise KeyError(write_id)
        if write_id not in self._names:  # cleanup asks twice (``in``, then ``get``)
            self._names[write_id] = self._named(write_id)
        return self._names[write_id]

    def _named(self, write_id: str) -> set[str]:
        names = {
            self._plan.filename(tile, group)
            for group, listed in enumerate(self._sources)
            for tile, wid in listed if wid == write_id
        }
        levels = (1, *self._plan.nested_levels())
        names.update(
            self._plan.block_filename(block, factor)
            for block, wid in self._blocks if wid == write_id for factor in levels
        )
        if self._stac:
            names.update(self._plan.item_name(tile) for listed in self._sources
                         for tile, wid in listed if wid == write_id)
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
    plan = job.plan
    files: list[tuple[str, bytes]] = []
    if not plan.merged:
        return files
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

