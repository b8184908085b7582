"""Overview levels of one block, from the pixels already in memory; pure numpy.

A level of factor ``f`` has one pixel per ``f`` x ``f`` window of the block; a block whose
size is not a multiple of ``f`` gets ``ceil(size / f)`` pixels, the last window holding
only the pixels that exist. Nodata and NaN pixels are left out of ``average``, ``min``,
``max`` and ``mode``; a window without any other pixel gives nodata (NaN without a nodata
value). ``nearest`` takes the pixel at the window's centre (offset ``f // 2``, or the
window's last pixel where it is shorter), nodata or not, as GDAL's nearest reads at reduced
resolution do (``gdaladdo`` takes the top-left pixel).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

RESAMPLINGS = ("nearest", "average", "mode", "min", "max")
# A level is also one file of the whole raster, assembled from the tiles' levels, where a
# tile holds so few of its pixels that opening the tile costs GDAL more than reading them,
# and the whole level (all bands) is small enough to hold in memory once.
MERGED_TILE_PIXELS = 64 * 64
MERGED_LEVEL_BYTES = 16 * 2**20


def auto_factors(height: int, width: int, blocksize: int = 256) -> list[int]:
    """Powers of two, halving until the whole raster fits in one ``blocksize`` block."""
    factors, factor = [], 2
    while -(-max(height, width) // (factor // 2)) > blocksize:
        factors.append(factor)
        factor *= 2
    return factors


def merged_factors(
    raster: tuple[int, int], tile: tuple[int, int], pixel_bytes: int, factors: Sequence[int]
) -> tuple[int, ...]:
    """The factors whose level of a raster of shape ``raster``, in tiles of at most
    ``tile``, ``pixel_bytes`` a pixel over all bands, is also written as one file (see
    ``MERGED_TILE_PIXELS``)."""

    def pixels(shape: tuple[int, int], factor: int) -> int:
        return -(-shape[0] // factor) * -(-shape[1] // factor)

    return tuple(
        f for f in factors
        if pixels(tile, f) <= MERGED_TILE_PIXELS
        and pixels(raster, f) * pixel_bytes <= MERGED_LEVEL_BYTES
    )


def merged_level(
    pieces: Iterable[tuple[int, int, np.ndarray]], shape: tuple[int, int, int],
    dtype: np.dtype, nodata: float | None, base: np.ndarray | None = None,
) -> np.ndarray:
    """A level of the whole raster from its tiles' levels, each ``(row, col, pixels)``
    placed at that pixel offset of the level, over ``base`` (the level as it was, for a
    region update) or nodata (where no tile is: skipped tiles)."""
    if base is None:
        level = np.full(shape, 0 if nodata is None else nodata, dtype)
    else:
        level = np.array(base, dtype, copy=True)
    for row, col, pixels in pieces:
        level[:, row : row + pixels.shape[-2], col : col + pixels.shape[-1]] = pixels
    return level


def overview_levels(
    pixels: np.ndarray, factors: Sequence[int], resampling: str, nodata: float | None
) -> list[np.ndarray]:
    """One array per factor (ascending powers of two) for (band, y, x) ``pixels``."""
    if resampling == "nearest":
        return [_nearest(pixels, factor) for factor in factors]
    if resampling == "mode":
        return [_mode(pixels, factor, nodata) for factor in factors]
    return _reduced(pixels, factors, resampling, nodata)


def _nearest(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Strided copies (a gather by index arrays costs ten times as much); a last window
    too short to have a centre takes its last row or column."""
    bands, height, width = pixels.shape
    rows, cols = -(-height // factor), -(-width // factor)
    level = np.empty((bands, rows, cols), pixels.dtype)
    centre = slice(factor // 2, None, factor)
    full_rows, full_cols = len(range(height)[centre]), len(range(width)[centre])
    level[:, :full_rows, :full_cols] = pixels[:, centre, centre]
    if full_rows < rows:
        level[:, -1, :full_cols] = pixels[:, -1, centre]
    if full_cols < cols:
        level[:, :full_rows, -1] = pixels[:, centre, -1]
    if full_rows < rows and full_cols < cols:
        level[:, -1, -1] = pixels[:, -1, -1]
    return level


def _pairs(array: np.ndarray, operation: np.ufunc, identity: float,
           dtype: type | None = None) -> np.ndarray:
    """``operation`` over each 2 x 2 window, the last row/column alone when odd; in
    ``dtype`` (the array's own by default) without a full-size copy first."""
    height, width = array.shape[-2:]
    if height % 2 or width % 2:
        padded = np.full((*array.shape[:-2], height + height % 2, width + width % 2),
                         identity, array.dtype)
        padded[..., :height, :width] = array
        array = padded
    result = operation(array[..., 0::2, 0::2], array[..., 0::2, 1::2], dtype=dtype)
    operation(result, array[..., 1::2, 0::2], out=result)
    operation(result, array[..., 1::2, 1::2], out=result)
    return result  # type: ignore[no-any-return]


def _reduced(
    pixels: np.ndarray, factors: Sequence[int], resampling: str, nodata: float | None
) -> list[np.ndarray]:
    """average, min and max, level by level from the previous one (each factor 2 more):
    sums and counts (or extremes) of a window are those of its four quarters. Sums are
    float64 from the first level on; min and max stay in the block's dtype, so they are
    exact for every dtype."""
    invalid = _invalid(pixels, nodata)
    average = resampling == "average"
    operation: np.ufunc
    identity: float
    if average:
        operation, identity, dtype = np.add, 0, np.float64
        value = pixels if invalid is None else np.where(invalid, 0, pixels)
    else:
        operation = np.minimum if resampling == "min" else np.maximum
        identity, dtype = _extreme(pixels.dtype, largest=resampling == "min"), None
        value = pixels if invalid is None else np.where(invalid, identity, pixels)
    # Window counts only where pixels are missing; int32 halves the memory traffic.
    count = None if invalid is None else (~invalid).astype(np.int32)
    levels, factor = [], 1
    for target in factors:
        while factor < target:
            value = _pairs(value, operation, identity, dtype if factor == 1 else None)
            count = None if count is None else _pairs(count, np.add, 0)
            factor *= 2
        if count is None:  # nothing missing: every window has pixels
            result = value / _full_counts(pixels.shape, factor) if average else value
            valid = None
        else:
            result = value / np.maximum(count, 1) if average else value
            valid = count > 0
        levels.append(_stored(result, valid, pixels.dtype, nodata, averaged=average))
    return levels


def _full_counts(shape: tuple[int, ...], factor: int) -> np.ndarray:
    """Pixels per window of a block without missing pixels: ``factor`` squared, fewer
    in the last row and column of windows where the block is not a multiple."""
    height, width = shape[-2:]
    rows = np.minimum(factor, height - np.arange(0, height, factor))
    cols = np.minimum(factor, width - np.arange(0, width, factor))
    return rows[:, np.newaxis] * cols[np.newaxis, :]


def _invalid(pixels: np.ndarray, nodata: float | None) -> np.ndarray | None:
    """Where pixels are nodata or NaN; None when there are none (the common case)."""
    invalid = np.isnan(pixels) if pixels.dtype.kind == "f" else None
    if nodata is not None and not np.isnan(nodata):
        missing = pixels == pixels.dtype.type(nodata)
        invalid = missing if invalid is None else invalid | missing
    return invalid if invalid is not None and invalid.any() else None


def _extreme(dtype: np.dtype, *, largest: bool) -> float:
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    info = np.iinfo(dtype)
    return info.max if largest else info.min


def _stored(
    values: np.ndarray, valid: np.ndarray | None, dtype: np.dtype, nodata: float | None,
    *, averaged: bool = False,
) -> np.ndarray:
    """Results in the block's dtype, nodata where a window had no valid pixel (``valid``;
    None: all had). Averages of integers are rounded to nearest (halves to even) and kept
    within the dtype's range; an average that lands on the nodata value is moved to the
    value beside it, as GDAL's overviews do, so that it is not read as a hole."""
    if dtype.kind in "iu" and values.dtype.kind == "f":
        if valid is not None:
            values = np.where(valid, values, 0)  # no NaN of empty windows into the cast
        info = np.iinfo(dtype)
        # float(int64 max) rounds up to 2**63, which would wrap round in the cast back.
        high = info.max if float(info.max) <= info.max else np.nextafter(float(info.max), 0)
        values = np.clip(np.rint(values), info.min, high)
    stored = values.astype(dtype, copy=False)
    if averaged and nodata is not None and not np.isnan(nodata):
        stored[stored == dtype.type(nodata)] = _beside(nodata, dtype)
    if valid is None:
        return stored
    fill = (0 if dtype.kind in "iu" else np.nan) if nodata is None else nodata
    return np.where(valid, stored, dtype.type(fill))


def _beside(nodata: float, dtype: np.dtype) -> object:
    """The value next to ``nodata``, upwards unless it is the dtype's largest."""
    value = dtype.type(nodata)
    if dtype.kind in "iu":
        return value + 1 if value < np.iinfo(dtype).max else value - 1
    largest = np.finfo(dtype).max
    return np.nextafter(value, largest if value < largest else -largest)


def _mode(pixels: np.ndarray, factor: int, nodata: float | None) -> np.ndarray:
    """The commonest valid value of each window; ties go to the smallest value. Values
    compare as float64 (64-bit integers beyond 2**53 may merge)."""
    bands, height, width = pixels.shape
    rows, cols = -(-height // factor), -(-width // factor)
    padded = np.full((bands, rows * factor, cols * factor), np.nan)
    invalid = _invalid(pixels, nodata)
    padded[:, :height, :width] = pixels if invalid is None else np.where(invalid, np.nan, pixels)
    windows = padded.reshape(bands, rows, factor, cols, factor).transpose(0, 1, 3, 2, 4)
    windows = np.sort(windows.reshape(bands, rows, cols, factor * factor), axis=-1)  # NaN last
    # Run lengths of equal values: a run starts where a value differs from the one before.
    starts = np.ones(windows.shape, bool)
    starts[..., 1:] = windows[..., 1:] != windows[..., :-1]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(windows.shape[-1]), 0), axis=-1)
    run_length = np.arange(windows.shape[-1]) - run_start + 1
    run_length[np.isnan(windows)] = 0
    best = np.argmax(run_length, axis=-1)  # the first longest run ends here: smallest value
    result = np.take_along_axis(windows, best[..., np.newaxis], axis=-1)[..., 0]
    return _stored(result, ~np.isnan(result), pixels.dtype, nodata)
