"""Where a region update's data goes in the existing mosaic, checked; pure.

The data of ``mode="r+"`` is the region's: on the mosaic's grid (same pixel size and
alignment), starting and ending on tile boundaries (the last row or column of tiles may be
ragged), so that each tile it covers is rewritten whole and no other is touched.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from affine import Affine

from .errors import RegionMismatchError

# Coordinates within this fraction of a pixel of the grid are on it.
PIXEL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Region:
    """The tiles a region update rewrites: rows and columns of the mosaic's tile grid,
    and the region in pixels."""

    rows: range
    cols: range
    y: slice
    x: slice

    def covers(self, row: int, col: int) -> bool:
        return row in self.rows and col in self.cols

    def as_list(self) -> list[list[int]]:
        return [[self.y.start, self.y.stop], [self.x.start, self.x.stop]]


def fit_region(
    region: Mapping[Hashable, slice] | str | None,
    shape: tuple[int, int],
    transform: Affine,
    dims: tuple[Hashable, Hashable],
    grid: Mapping[str, Any],
    *,
    georeferenced: bool,
) -> Region:
    """The tiles the data (``shape``, ``transform``, spatial ``dims`` y/x) rewrites in a
    mosaic of ``grid`` (its recorded ``y_chunks``, ``x_chunks`` and ``transform``).

    ``region``: None (the whole mosaic), "auto" (found from the data's transform), or
    ``{y_dim: slice, x_dim: slice}`` of pixels. Raises ``RegionMismatchError`` naming
    what does not fit, and for bounds off the tile grid the aligned bounds around them.
    """
    y_chunks, x_chunks = list(grid["y_chunks"]), list(grid["x_chunks"])
    mosaic = Affine(*grid["transform"])
    if mosaic.e > 0 and mosaic != Affine.identity():  # the identity: data without coordinates
        raise RegionMismatchError(
            "the mosaic was written south-up (a positive pixel height) by an earlier "
            "xr_tiles, which now writes every mosaic north-up: rewrite it with mode='w'"
        )
    size = (sum(y_chunks), sum(x_chunks))
    if region is None:
        y, x = slice(0, size[0]), slice(0, size[1])
    elif isinstance(region, str):
        y, x = _located(transform, mosaic, shape)
    else:
        y, x = _explicit(region, dims, size)
    spans = (y.stop - y.start, x.stop - x.start)
    if spans != shape:
        raise RegionMismatchError(
            f"the data is {shape[0]} x {shape[1]} pixels ({dims[0]}, {dims[1]}), but the "
            f"region {_region_text(dims, y, x)} is {spans[0]} x {spans[1]}: pass the "
            "region's data, or the region it covers"
        )
    if y.stop > size[0] or x.stop > size[1] or y.start < 0 or x.start < 0:
        raise RegionMismatchError(
            f"the region {_region_text(dims, y, x)} is outside the mosaic's "
            f"{size[0]} x {size[1]} pixels"
        )
    rows, cols = _tiles(y, y_chunks), _tiles(x, x_chunks)
    if rows is None or cols is None:
        aligned_y, aligned_x = _aligned(y, y_chunks), _aligned(x, x_chunks)
        raise RegionMismatchError(
            f"the region {_region_text(dims, y, x)} does not fall on tile boundaries "
            f"(tiles of {_sizes(y_chunks)} x {_sizes(x_chunks)} pixels); the aligned region "
            f"around it is {_region_text(dims, aligned_y, aligned_x)}"
        )
    if georeferenced and not isinstance(region, str):
        _check_place(transform, mosaic, y, x, dims)
    return Region(rows, cols, y, x)


def _explicit(
    region: Mapping[Hashable, slice], dims: tuple[Hashable, Hashable], size: tuple[int, int]
) -> tuple[slice, slice]:
    unknown = [str(key) for key in region if key not in dims]
    if unknown:
        raise RegionMismatchError(
            f"region names {unknown}, but the data's spatial dims are {dims[0]!r} and "
            f"{dims[1]!r}: key the region by those"
        )
    full = [slice(0, extent) for extent in size]
    y, x = (region.get(dim, whole) for dim, whole in zip(dims, full, strict=True))
    return slice(*y.indices(size[0])[:2]), slice(*x.indices(size[1])[:2])


def _located(transform: Affine, mosaic: Affine, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The pixels of the mosaic that the data's transform puts it on."""
    if not math.isclose(transform.a, mosaic.a, rel_tol=PIXEL_TOLERANCE) or not math.isclose(
        transform.e, mosaic.e, rel_tol=PIXEL_TOLERANCE
    ) or (transform.b, transform.d) != (mosaic.b, mosaic.d):
        raise RegionMismatchError(
            f"region='auto': the data's pixels are {transform.a!r} x {transform.e!r}, the "
            f"mosaic's {mosaic.a!r} x {mosaic.e!r}: resample the data onto the mosaic's grid"
        )
    col, row = ~mosaic * (transform.c, transform.f)
    if abs(col - round(col)) > PIXEL_TOLERANCE or abs(row - round(row)) > PIXEL_TOLERANCE:
        raise RegionMismatchError(
            f"region='auto': the data starts {col:.3f} columns and {row:.3f} rows into the "
            "mosaic, between its pixels: resample the data onto the mosaic's grid"
        )
    y0, x0 = round(row), round(col)
    return slice(y0, y0 + shape[0]), slice(x0, x0 + shape[1])


def _check_place(
    transform: Affine, mosaic: Affine, y: slice, x: slice, dims: tuple[Hashable, Hashable]
) -> None:
    """The data's coordinates must put it where the region says."""
    expected = mosaic * Affine.translation(x.start, y.start)
    tolerance = PIXEL_TOLERANCE * max(abs(mosaic.a), abs(mosaic.e))
    if not transform.almost_equals(expected, precision=tolerance):
        try:
            at = _region_text(dims, *_located(transform, mosaic, (y.stop - y.start, x.stop - x.start)))
            where = f"at {at}; pass that region, or region='auto'"
        except RegionMismatchError as error:
            where = f"off the mosaic's grid ({error})"
        raise RegionMismatchError(
            f"the data's coordinates do not put it at {_region_text(dims, y, x)}, but {where}"
        )


def _tiles(span: slice, chunks: Sequence[int]) -> range | None:
    """The tiles ``span`` covers whole, or None if it cuts one."""
    edges = [0, *accumulate(chunks)]
    if span.start not in edges or span.stop not in edges:
        return None
    return range(edges.index(span.start), edges.index(span.stop))


def _aligned(span: slice, chunks: Sequence[int]) -> slice:
    """The smallest span of whole tiles around ``span``."""
    edges = [0, *accumulate(chunks)]
    start = edges[bisect.bisect_right(edges, span.start) - 1]
    stop = edges[min(bisect.bisect_left(edges, span.stop), len(edges) - 1)]
    return slice(start, stop)


def _region_text(dims: tuple[Hashable, Hashable], y: slice, x: slice) -> str:
    return f"{{{dims[0]!r}: slice({y.start}, {y.stop}), {dims[1]!r}: slice({x.start}, {x.stop})}}"


def _sizes(chunks: Sequence[int]) -> str:
    return str(chunks[0]) if len(set(chunks[:-1])) <= 1 else "/".join(map(str, sorted(set(chunks))))
