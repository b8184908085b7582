"""Warnings about writes that work but cost more than they need to: overview factors that
do not divide the chunks, and many small tiles; pointed at the caller's line."""

from __future__ import annotations

import os
import sys
import types
import warnings
from collections import Counter
from collections.abc import Sequence

from .errors import SmallTilesWarning
from .options import DEFAULT_NUMPY_CHUNK


def warn_misaligned_overviews(
    factors: Sequence[int], y_chunks: Sequence[int], x_chunks: Sequence[int]
) -> None:
    """Each tile's overviews come from its own pixels: exact on the mosaic only where
    every tile starts on a multiple of the factor."""
    inner = {*y_chunks[:-1], *x_chunks[:-1]}
    misaligned = [f for f in factors if any(size % f for size in inner)]
    if misaligned:
        warnings.warn(
            f"overview factors {misaligned} do not divide the chunk sizes "
            f"{sorted(inner)}: those levels are each tile's own overview placed on the "
            "whole raster's grid, so their windows straddling tiles do not match a "
            "downsample of the whole raster; for exact levels use chunks that are "
            f"multiples of {max(misaligned)}",
            UserWarning,
            stacklevel=_caller_outside_package(),
        )


# A write of more tiles than this, averaging fewer pixels, is told of the cost of its files.
SMALL_TILES_COUNT = 1000
SMALL_TILE_PIXELS = 256 * 256


def warn_small_tiles(y_chunks: Sequence[int], x_chunks: Sequence[int]) -> None:
    """Each file costs its creation (0.2-0.5 ms here) besides its pixels: past a thousand
    tiles of under 256 x 256 that is most of a write."""
    count = len(y_chunks) * len(x_chunks)
    height, width = sum(y_chunks), sum(x_chunks)
    if count <= SMALL_TILES_COUNT or height * width / count >= SMALL_TILE_PIXELS:
        return
    tile_y, tile_x = Counter(y_chunks).most_common(1)[0][0], Counter(x_chunks).most_common(1)[0][0]
    chunk_y, chunk_x = _fewer_tiles(height, width)
    fewer = -(-height // chunk_y) * -(-width // chunk_x)
    suggested = chunk_y if chunk_y == chunk_x else (chunk_y, chunk_x)
    warnings.warn(
        f"writing {count} tiles, most of {tile_y} x {tile_x} pixels: creating that many "
        f"files takes much of the time; chunks={suggested} would write {fewer} (measured "
        "on 2 cores: 4,096 tiles of 128 x 128 took 1.8 times as long as the same data in "
        "64 tiles of 1024 x 1024)",
        SmallTilesWarning,
        stacklevel=_caller_outside_package(),
    )


def _fewer_tiles(height: int, width: int) -> tuple[int, int]:
    """Tiles of about the default's pixels (1024 x 1024), narrower rasters' wider."""
    target = DEFAULT_NUMPY_CHUNK * DEFAULT_NUMPY_CHUNK
    chunk_y, chunk_x = min(height, DEFAULT_NUMPY_CHUNK), min(width, DEFAULT_NUMPY_CHUNK)
    if chunk_y < DEFAULT_NUMPY_CHUNK:
        chunk_x = min(width, -(-target // chunk_y))
    elif chunk_x < DEFAULT_NUMPY_CHUNK:
        chunk_y = min(height, -(-target // chunk_x))
    return chunk_y, chunk_x


def _caller_outside_package() -> int:
    """The ``stacklevel`` of the first caller outside xr_tiles, whichever entry point
    (``.tiles.to_vrt`` or ``xr_tiles.to_vrt``) it called."""
    package = os.path.dirname(__file__)
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
