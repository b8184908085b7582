"""Overview levels of a block against an independent oracle: one window at a time, in Python."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from conftest import synthetic_values
from xr_tiles.overviews import RESAMPLINGS, auto_factors, overview_levels

FACTORS = [2, 4, 8]


def window_value(window: np.ndarray, resampling: str, nodata: float | None, factor: int) -> float:
    """What one overview pixel must be, from its window of the block."""
    if resampling == "nearest":
        rows, cols = window.shape
        return window[min(factor // 2, rows - 1), min(factor // 2, cols - 1)].item()
    valid = [v for v in window.ravel().tolist()
             if not (isinstance(v, float) and math.isnan(v)) and (nodata is None or v != nodata)]
    if not valid:
        return math.nan if nodata is None else nodata
    if resampling == "average":
        return sum(valid) / len(valid)
    if resampling == "min":
        return min(valid)
    if resampling == "max":
        return max(valid)
    counts = Counter(valid)
    best = max(counts.values())
    return min(value for value, count in counts.items() if count == best)


def has_valid(window: np.ndarray, nodata: float | None) -> bool:
    return any(
        not (isinstance(v, float) and math.isnan(v)) and v != nodata for v in window.ravel().tolist()
    )


def beside(value: float, dtype: np.dtype) -> float:
    if dtype.kind == "f":
        return np.nextafter(dtype.type(value), dtype.type(np.inf)).item()
    return value + 1 if value < np.iinfo(dtype).max else value - 1


def oracle(pixels: np.ndarray, factor: int, resampling: str, nodata: float | None) -> np.ndarray:
    """Python numbers throughout (exact for 64-bit integers); nodata as the block stores it."""
    bands, height, width = pixels.shape
    rows, cols = -(-height // factor), -(-width // factor)
    stored_nodata = None if nodata is None else pixels.dtype.type(nodata).item()
    out = np.empty((bands, rows, cols), object)
    for b in range(bands):
        for r in range(rows):
            for c in range(cols):
                window = pixels[b, r * factor : (r + 1) * factor, c * factor : (c + 1) * factor]
                value = window_value(window, resampling, stored_nodata, factor)
                if pixels.dtype.kind in "iu" and isinstance(value, float):
                    value = round(value)  # the average: to nearest, halves to even
                if resampling == "average" and value == stored_nodata and has_valid(
                    window, stored_nodata
                ):  # moved beside nodata, as GDAL does
                    value = beside(value, pixels.dtype)
                out[b, r, c] = value
    return out


def block(
    dtype: str, shape: tuple[int, int, int], nodata: float | None, categorical: bool,
    holes: bool = True,
):
    rng = np.random.default_rng(11)
    if categorical:  # few distinct values, so that modes and ties occur
        values = rng.integers(0, 4, shape).astype(dtype)
    else:
        values = synthetic_values(shape, dtype, seed=5)
    if not holes:
        return values
    holes = rng.random(shape) < 0.3
    holes[:, :4, :4] = True  # one window of nodata only at every factor up to 4
    if nodata is not None:
        values[holes] = nodata
    if np.dtype(dtype).kind == "f":
        values[rng.random(shape) < 0.1] = np.nan  # NaN is left out as nodata is
    return values


CASES = [
    pytest.param("uint8", 255, True, True, id="uint8"),
    pytest.param("int16", -9999, False, True, id="int16"),
    pytest.param("int64", np.iinfo(np.int64).min, False, True, id="int64-extremes"),
    pytest.param("float32", -1e30, False, True, id="float32-numeric-nodata-and-nan"),
    pytest.param("float32", np.nan, False, True, id="float32-nan-nodata"),
    pytest.param("float64", None, False, True, id="float64-without-nodata"),
    # Nothing missing: windows are counted from the block's shape alone.
    pytest.param("float32", -9999, False, False, id="float32-nothing-missing"),
    pytest.param("int16", None, False, False, id="int16-without-nodata"),
]


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def assert_identical(actual: list, expected: list) -> None:
    """Equal value for value, exactly; NaN equals NaN."""
    mismatches = [
        (i, a, e) for i, (a, e) in enumerate(zip(actual, expected, strict=True))
        if a != e and not (_is_nan(a) and _is_nan(e))
    ]
    assert not mismatches, f"{len(mismatches)} differ, first: {mismatches[:3]}"


@pytest.mark.parametrize(("dtype", "nodata", "categorical", "holes"), CASES)
@pytest.mark.parametrize("resampling", RESAMPLINGS)
@pytest.mark.parametrize("shape", [(1, 32, 48), (2, 37, 21)], ids=["multiple", "ragged"])
def test_each_level_matches_the_window_by_window_oracle(
    dtype, nodata, categorical, holes, resampling, shape
):
    pixels = block(dtype, shape, nodata, categorical or resampling == "mode", holes)
    levels = overview_levels(pixels, FACTORS, resampling, nodata)
    assert [level.shape for level in levels] == [
        (shape[0], -(-shape[1] // f), -(-shape[2] // f)) for f in FACTORS
    ]
    for level, factor in zip(levels, FACTORS, strict=True):
        assert level.dtype == pixels.dtype
        expected = oracle(pixels, factor, resampling, nodata)
        if resampling == "average":  # to float tolerance: sums are added in another order
            np.testing.assert_allclose(
                level.astype(float), expected.astype(float), rtol=1e-6, equal_nan=True
            )
        else:
            assert_identical(level.ravel().tolist(), expected.ravel().tolist())


def test_a_window_of_nodata_only_gives_nodata():
    pixels = np.full((1, 8, 8), -1, np.int16)
    pixels[0, 4:, 4:] = 3
    for resampling in ("average", "min", "max", "mode"):
        (level,) = overview_levels(pixels, [4], resampling, -1)
        np.testing.assert_array_equal(level[0], [[-1, -1], [-1, 3]])


@pytest.mark.parametrize(
    ("height", "width", "factors"),
    [
        pytest.param(8192, 8192, [2, 4, 8, 16, 32], id="8192"),
        pytest.param(1000, 300, [2, 4], id="1000x300"),
        pytest.param(257, 10, [2], id="just-over-a-block"),
        pytest.param(256, 256, [], id="one-block"),
        pytest.param(3, 5, [], id="tiny"),
    ],
)
def test_auto_halves_until_the_raster_fits_one_block(height, width, factors):
    assert auto_factors(height, width) == factors


@pytest.mark.parametrize(
    ("window", "nodata", "expected"),
    [
        pytest.param([-2, 0, 0, -2], -1, 0, id="int16-rounds-onto-nodata"),
        pytest.param([1, 3, 3, 1], 2, np.nextafter(np.float32(2), np.float32(3)), id="float32"),
        pytest.param([32766, 32768 - 1, 32767, 32767], 32767, 32766, id="int16-largest"),
    ],
)
def test_an_average_on_the_nodata_value_moves_beside_it(window, nodata, expected):
    """As GDAL's overviews: a window with pixels must not read back as a hole."""
    dtype = "float32" if isinstance(expected, np.floating) else "int16"
    pixels = np.array(window, dtype).reshape(1, 2, 2)
    (level,) = overview_levels(pixels, [2], "average", nodata)
    assert level[0, 0, 0] == np.array(expected, dtype)


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
def test_averages_of_the_largest_64_bit_integers_do_not_wrap_round(dtype):
    largest = np.iinfo(dtype).max
    pixels = np.full((1, 2, 2), largest, dtype)
    (level,) = overview_levels(pixels, [2], "average", None)
    # float64 holds 53 bits: within 2048 of the largest, and not wrapped round to the lowest.
    assert largest - 2048 <= int(level[0, 0, 0]) <= largest
