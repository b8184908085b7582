"""Shared fixtures: synthetic rasters and GDAL (rasterio) as the oracle that reads them back."""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

import xr_tiles  # noqa: F401  (registers .tiles)

PIXEL = 30.0
ORIGIN = (500_000.0, 4_000_000.0)


def synthetic_values(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """Random values spanning the dtype (floats: a smooth field plus noise)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == bool:
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def make_raster(
    shape: tuple[int, ...] = (64, 80),
    dtype: Any = "float32",
    *,
    chunks: Any = None,
    crs: str | None = "EPSG:32633",
    south_up: bool = False,
    nodata: float | None = None,
    band_dim: str = "band",
    name: str | None = "elevation",
    seed: int = 0,
) -> xr.DataArray:
    """A georeferenced DataArray, (y, x) or (band, y, x), on a 30 m grid."""
    height, width = shape[-2:]
    x = ORIGIN[0] + PIXEL * (np.arange(width) + 0.5)
    step = PIXEL if south_up else -PIXEL
    y = ORIGIN[1] + step * (np.arange(height) + 0.5)
    dims: tuple[str, ...] = ("y", "x")
    coords: dict[str, Any] = {"y": y, "x": x}
    if len(shape) == 3:
        dims = (band_dim, *dims)
        coords[band_dim] = [f"b{i}" for i in range(shape[0])]
    array = xr.DataArray(synthetic_values(shape, dtype, seed), dims=dims, coords=coords, name=name)
    if crs is not None:
        array = array.rio.write_crs(crs)
    if nodata is not None:
        array = array.rio.write_nodata(nodata)
    if isinstance(chunks, tuple):
        chunks = {"y": chunks[0], "x": chunks[1]}
    return array if chunks is None else array.chunk(chunks)


@dataclass
class ReadBack:
    """What GDAL reports for a written VRT."""

    values: np.ndarray | None  # (band, y, x); None when band dtypes differ
    bands: list[np.ndarray]
    transform: Affine
    crs: Any
    nodatavals: tuple[Any, ...]
    dtypes: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    units: tuple[str | None, ...]
    tags: dict[str, str]


def read_with_gdal(path: str | pathlib.Path) -> ReadBack:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            return ReadBack(
                values=dataset.read() if len(set(dataset.dtypes)) == 1 else None,
                bands=[dataset.read(band) for band in dataset.indexes],
                transform=dataset.transform,
                crs=dataset.crs,
                nodatavals=dataset.nodatavals,
                dtypes=dataset.dtypes,
                descriptions=dataset.descriptions,
                scales=dataset.scales,
                offsets=dataset.offsets,
                units=dataset.units,
                tags=dataset.tags(),
            )


def expected_bands(array: xr.DataArray) -> np.ndarray:
    values = np.asarray(array.values)
    return values[np.newaxis] if values.ndim == 2 else values


@pytest.fixture
def raster() -> Callable[..., xr.DataArray]:
    return make_raster


@pytest.fixture
def gdal_read() -> Callable[[str | pathlib.Path], ReadBack]:
    return read_with_gdal


@pytest.fixture
def vrt_path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "out" / "mosaic.vrt"
