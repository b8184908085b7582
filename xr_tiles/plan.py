"""The tile plan: which block goes to which file and where it sits in the mosaic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from affine import Affine

OVERVIEWS = "overviews"  # the folder of a write's overview levels, inside its own folder


@dataclass(frozen=True, slots=True)
class Tile:
    """One block of the input: its index and its pixel window in the mosaic."""

    row: int
    col: int
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
        row_offsets = (0, *accumulate(self.y_chunks))
        col_offsets = (0, *accumulate(self.x_chunks))
        for row in range(len(self.y_chunks)) if rows is None else rows:
            for col in range(len(self.x_chunks)) if cols is None else cols:
                yield Tile(row, col, row_offsets[row], col_offsets[col],
                           self.y_chunks[row], self.x_chunks[col])

    def filename(self, tile: Tile, group: int = 0) -> str:
        return self.tile_name(tile.row, tile.col, group)

    def tile_name(self, row: int, col: int, group: int = 0) -> str:
        """Zero-padded so that files sort in raster order."""
        rows, cols = len(str(len(self.y_chunks) - 1)), len(str(len(self.x_chunks) - 1))
        return f"r{row:0{rows}d}_c{col:0{cols}d}{self.group_suffixes[group]}.tif"

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
