"""The tile plan: which block goes to which file and where it sits in the mosaic."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from affine import Affine

OVERVIEWS = "overviews"  # the folder of a write's overview levels, inside its own folder
BLOCKS = "index"  # the folder of a nested VRT's sub-VRTs, inside their write's folder
# A write's copies of the files it publishes beside the VRT (a tile index, a catalogue).
STAGED = "staged"
SUBFOLDERS = (OVERVIEWS, BLOCKS, STAGED)
GTI_FILE = f"{STAGED}/index.gti.gpkg"  # published as <stem>.gti.gpkg
STAC_FILE = f"{STAGED}/collection.json"  # published as <stem>_stac/collection.json
# A VRT nests above this many tiles, in blocks of NEST_BLOCK x NEST_BLOCK tiles: GDAL parses
# every source of a VRT at its open (about 26 us each), and of a sub-VRT at the first read
# that touches it (benchmarks/index_study.md).
NEST_ABOVE_TILES = 4096
NEST_BLOCK = 32


@dataclass(frozen=True, slots=True)
class Tile:
    """One block of the input: its index and its pixel window in the mosaic."""

    row: int
    col: int
    row_off: int
    col_off: int
    height: int
    width: int


@dataclass(frozen=True, slots=True)
class Block:
    """A square of tiles that a nested VRT mosaics as one sub-VRT: its index in the grid
    of blocks, its tiles' rows and columns, and its pixel window in the mosaic."""

    row: int
    col: int
    rows: range
    cols: range
    row_off: int
    col_off: int
    height: int
    width: int


@dataclass(frozen=True, kw_only=True)
class TilePlan:
    """Every tile of a write, derived from the input's chunks; a pure value."""

    y_chunks: tuple[int, ...]
    x_chunks: tuple[int, ...]
    transform: Affine
    folder: str  # the tiles folder, relative to the VRT: each write has a folder in it
    group_suffixes: tuple[str, ...] = ("",)
    overviews: tuple[int, ...] = ()  # factors, ascending
    merged: tuple[int, ...] = ()  # the factors whose level is one file, not a mosaic
    nest: int = 0  # tiles a side of a nested VRT's blocks; 0: one flat VRT of the tiles

    @property
    def height(self) -> int:
        return sum(self.y_chunks)

    @property
    def width(self) -> int:
        return sum(self.x_chunks)

    @property
    def shape(self) -> tuple[int, int]:
        """Tiles along y and x."""
        return len(self.y_chunks), len(self.x_chunks)

    def __len__(self) -> int:
        return len(self.y_chunks) * len(self.x_chunks)

    def tiles(self, rows: range | None = None, cols: range | None = None) -> Iterator[Tile]:
        """Every tile, row by row; or those of ``rows`` and ``cols`` of the tile grid."""
        for row in range(len(self.y_chunks)) if rows is None else rows:
            for col in range(len(self.x_chunks)) if cols is None else cols:
                yield self.tile(row, col)

    def tile(self, row: int, col: int) -> Tile:
        row_offsets, col_offsets = self._offsets
        return Tile(row, col, row_offsets[row], col_offsets[col],
                    self.y_chunks[row], self.x_chunks[col])

    @functools.cached_property
    def _offsets(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        # Worked out once: a tile task asks for each of its tiles.
        return (0, *accumulate(self.y_chunks)), (0, *accumulate(self.x_chunks))

    def filename(self, tile: Tile, group: int = 0) -> str:
        return self.tile_name(tile.row, tile.col, group)

    def tile_name(self, row: int, col: int, group: int = 0) -> str:
        """Zero-padded so that files sort in raster order."""
        rows, cols = self._name_widths
        return f"r{row:0{rows}d}_c{col:0{cols}d}{self.group_suffixes[group]}.tif"

    def item_name(self, tile: Tile) -> str:
        """The tile's STAC Item, beside its files: one for all its band groups."""
        rows, cols = self._name_widths
        return f"r{tile.row:0{rows}d}_c{tile.col:0{cols}d}.json"

    @functools.cached_property
    def _name_widths(self) -> tuple[int, int]:
        return len(str(len(self.y_chunks) - 1)), len(str(len(self.x_chunks) - 1))

    def source_path(self, tile: Tile, group: int, write_id: str) -> str:
        """The tile's path relative to the VRT, in the folder of the write that wrote it."""
        return f"{self.folder}/{write_id}/{self.filename(tile, group)}"

    def overview_filename(self, factor: int, group: int = 0) -> str:
        """The level of ``factor``, in its write's ``overviews/`` (so that the tiles alone
        match ``r*.tif``): a GeoTIFF of the whole level (one per band group) where it is
        ``merged``, else a VRT mosaic of the tiles' levels."""
        if factor in self.merged:
            return f"{OVERVIEWS}/overview_{factor}{self.group_suffixes[group]}.tif"
        return f"{OVERVIEWS}/overview_{factor}.vrt"

    def overview_path(self, factor: int, group: int, write_id: str) -> str:
        """The level's path relative to the VRT."""
        return f"{self.folder}/{write_id}/{self.overview_filename(factor, group)}"

    def blocks(self) -> list[Block]:
        """The blocks of a nested VRT, row by row; none for a flat one."""
        if not self.nest:
            return []
        row_offsets = (0, *accumulate(self.y_chunks))
        col_offsets = (0, *accumulate(self.x_chunks))
        rows = [range(start, min(start + self.nest, len(self.y_chunks)))
                for start in range(0, len(self.y_chunks), self.nest)]
        cols = [range(start, min(start + self.nest, len(self.x_chunks)))
                for start in range(0, len(self.x_chunks), self.nest)]
        return [
            Block(row, col, tile_rows, tile_cols, row_offsets[tile_rows.start],
                  col_offsets[tile_cols.start],
                  row_offsets[tile_rows.stop] - row_offsets[tile_rows.start],
                  col_offsets[tile_cols.stop] - col_offsets[tile_cols.start])
            for row, tile_rows in enumerate(rows) for col, tile_cols in enumerate(cols)
        ]

    def block_filename(self, block: Block, factor: int = 1) -> str:
        """A block's sub-VRT, or its sub-VRT of the level of ``factor``, in ``index/``."""
        rows = len(str(-(-len(self.y_chunks) // self.nest) - 1))
        cols = len(str(-(-len(self.x_chunks) // self.nest) - 1))
        name = f"{BLOCKS}/b{block.row:0{rows}d}_{block.col:0{cols}d}"
        return f"{name}.vrt" if factor == 1 else f"{name}_overview_{factor}.vrt"

    def nested_levels(self) -> tuple[int, ...]:
        """The levels mosaicked through blocks too: those not merged whose blocks start
        on the level's pixels (else a level's blocks would share pixels at their edges,
        and the level is one flat VRT of the tiles)."""
        return self._nested_levels

    @functools.cached_property
    def _nested_levels(self) -> tuple[int, ...]:
        # Worked out once: every block's sub-VRTs ask, and a plan has thousands of blocks.
        blocks = self.blocks()
        return tuple(
            factor for factor in self.overviews if factor not in self.merged and blocks
            and all(b.row_off % factor == 0 and b.col_off % factor == 0 for b in blocks)
        )

    def level_shape(self, factor: int) -> tuple[int, int]:
        """The level's pixels: one per window, the last cut by the raster's edge."""
        return -(-self.height // factor), -(-self.width // factor)

    def level_transform(self, factor: int) -> Affine:
        """The level's transform, its pixels scaled to cover the raster as GDAL's are."""
        height, width = self.level_shape(factor)
        return self.transform @ Affine.scale(self.width / width, self.height / height)

    def tile_transform(self, tile: Tile) -> Affine:
        """``transform @ Affine.translation(col_off, row_off)``, without the matrix product
        (affine's operators cost microseconds, and a write may have many tiles)."""
        a, b, c, d, e, f = self.transform[:6]
        x, y = tile.col_off, tile.row_off
        return Affine(a, b, a * x + b * y + c, d, e, d * x + e * y + f)
