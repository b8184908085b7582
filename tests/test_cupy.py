"""GPU inputs: cupy and dask-of-cupy arrays are brought to host one block at a time.

Skipped where cupy is not installed or no CUDA device is visible.
"""

from __future__ import annotations

import itertools
import pathlib
import threading
from typing import Any

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from affine import Affine

from conftest import make_raster, read_with_gdal, tile_folder

cupy = pytest.importorskip("cupy")


def _device_count() -> int:
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except cupy.cuda.runtime.CUDARuntimeError:
        return 0


if _device_count() == 0:
    pytest.skip("cupy is installed but no CUDA device is visible", allow_module_level=True)


def on_gpu(array: xr.DataArray) -> xr.DataArray:
    """``array`` with its data on the GPU: a cupy array, or dask blocks of cupy arrays."""
    if isinstance(array.data, da.Array):
        data = array.data.map_blocks(
            cupy.asarray, dtype=array.dtype, meta=cupy.empty((0,) * array.ndim, array.dtype)
        )
    else:
        data = cupy.asarray(array.values)
    return array.copy(data=data)


def host_values(array: xr.DataArray) -> np.ndarray:
    """(band, y, x) values of a cupy- or dask-of-cupy-backed array, on host."""
    data = array.data
    if isinstance(data, da.Array):
        data = data.compute()
    values = cupy.asnumpy(data)
    return values[np.newaxis] if values.ndim == 2 else values


def tiles_folder(vrt: pathlib.Path) -> pathlib.Path:
    return tile_folder(vrt)


def assert_written(
    array: xr.DataArray,
    expected: np.ndarray,
    vrt: pathlib.Path,
    y_chunks: tuple[int, ...],
    x_chunks: tuple[int, ...],
) -> None:
    back = read_with_gdal(vrt)
    np.testing.assert_array_equal(back.values, expected, strict=True)
    transform = array.rio.transform(recalc=True)
    assert back.transform == transform
    rows, cols = len(y_chunks), len(x_chunks)
    names = sorted(p.name for p in tiles_folder(vrt).iterdir())
    assert len(names) == rows * cols
    row_offsets = np.cumsum((0, *y_chunks))
    col_offsets = np.cumsum((0, *x_chunks))
    digits = len(str(rows - 1)), len(str(cols - 1))
    for row, col in itertools.product(range(rows), range(cols)):
        name = f"r{row:0{digits[0]}d}_c{col:0{digits[1]}d}.tif"
        tile = read_with_gdal(tiles_folder(vrt) / name)
        y0, y1 = row_offsets[row], row_offsets[row + 1]
        x0, x1 = col_offsets[col], col_offsets[col + 1]
        np.testing.assert_array_equal(tile.values, expected[:, y0:y1, x0:x1], strict=True)
        assert tile.transform == transform @ Affine.translation(int(x0), int(y0))


@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "float64"])
def test_cupy_array_round_trips(dtype, vrt_path):
    array = on_gpu(make_raster((64, 80), dtype))
    assert isinstance(array.data, cupy.ndarray)
    expected = host_values(array)
    assert array.tiles.to_vrt(vrt_path, chunks=(32, 48)) == vrt_path
    assert_written(array, expected, vrt_path, (32, 32), (48, 32))


def test_cupy_band_stack_round_trips(vrt_path):
    array = on_gpu(make_raster((3, 40, 56), "uint16"))
    expected = host_values(array)
    array.tiles.to_vrt(vrt_path)
    assert_written(array, expected, vrt_path, (40,), (56,))


@pytest.mark.parametrize(
    ("shape", "chunks", "y_chunks", "x_chunks"),
    [
        pytest.param((64, 80), (16, 32), (16,) * 4, (32, 32, 16), id="regular"),
        pytest.param(
            (64, 80),
            {"y": (10, 30, 24), "x": (7, 50, 23)},
            (10, 30, 24),
            (7, 50, 23),
            id="irregular",
        ),
        pytest.param((2, 40, 56), {"band": -1, "y": 16, "x": 32}, (16, 16, 8), (32, 24), id="3d"),
    ],
)
def test_dask_of_cupy_round_trips(shape, chunks, y_chunks, x_chunks, vrt_path):
    array = on_gpu(make_raster(shape, "float32", chunks=chunks))
    assert isinstance(array.data._meta, cupy.ndarray)
    expected = host_values(array)
    assert array.tiles.to_vrt(vrt_path) == vrt_path
    assert_written(array, expected, vrt_path, y_chunks, x_chunks)


def test_dask_of_cupy_blocks_are_computed_once_each(vrt_path):
    seen: dict[tuple[int, ...], int] = {}
    lock = threading.Lock()

    def record(block: Any, block_info: Any = None) -> Any:
        assert isinstance(block, cupy.ndarray)
        with lock:
            location = block_info[None]["chunk-location"]
            seen[location] = seen.get(location, 0) + 1
        return block

    base = on_gpu(make_raster((64, 80), "int32", chunks=(32, 40)))
    array = base.copy(
        data=base.data.map_blocks(record, dtype=base.dtype, meta=cupy.empty((0, 0), base.dtype))
    )
    expected = host_values(base)
    array.tiles.to_vrt(vrt_path, scheduler="threads")
    assert seen == {(r, c): 1 for r in range(2) for c in range(2)}
    assert_written(array, expected, vrt_path, (32, 32), (40, 40))


def test_nan_in_cupy_floats_becomes_the_numeric_nodata(vrt_path):
    base = make_raster((32, 48), "float32", chunks=(16, 16), nodata=-9999.0)
    values = base.values.copy()
    values[3, 5] = np.nan
    array = on_gpu(base.copy(data=da.from_array(values, chunks=(16, 16))))
    array.tiles.to_vrt(vrt_path)
    back = read_with_gdal(vrt_path)
    assert back.values[0, 3, 5] == np.float32(-9999.0)
    assert back.nodatavals == (-9999.0,)
