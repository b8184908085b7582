"""North-up output: an input whose rows go up in y (NetCDF climate and model grids) is
written with its rows reversed in each tile's own task, and a negative pixel height in
the tiles, the overview levels and the VRT, which much of the GIS world needs. GDAL reads
the same value at the same coordinates as the input has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr

from conftest import downsample, make_raster, north_up, read_with_gdal, tile_folder


def climate(times: int = 3, height: int = 90, width: int = 180, chunk: int = 32) -> xr.DataArray:
    """A lat/lon time series with latitude ascending, as CF model output has it."""
    lat = np.linspace(-89, 89, height)
    lon = np.linspace(-179, 179, width)
    time = pd.date_range("2000-01-01", periods=times, freq="MS")
    rng = np.random.default_rng(0)
    values = (rng.normal(280, 10, (times, height, width))).astype("float32")
    array = xr.DataArray(values, dims=("time", "lat", "lon"),
                         coords={"time": time, "lat": lat, "lon": lon}, name="tas")
    return array.rio.write_crs("EPSG:4326").chunk({"lat": chunk, "lon": chunk})


def test_ascending_latitude_is_written_north_up_in_place(vrt_path):
    array = climate()
    array.tiles.to_vrt(vrt_path)
    back = read_with_gdal(vrt_path)
    assert back.transform.e < 0
    np.testing.assert_array_equal(back.values, array.values[:, ::-1, :])
    # rioxarray reads descending latitude with the input's values at the input's places.
    opened = rioxarray.open_rasterio(vrt_path)
    assert np.all(np.diff(opened.y.values) < 0)
    np.testing.assert_allclose(opened.y.values, array.lat.values[::-1])
    picked = opened.sel(y=array.lat[:5], x=array.lon[:7], method="nearest")
    np.testing.assert_array_equal(picked.values, array.isel(lat=slice(0, 5), lon=slice(0, 7)).values)
    # A point: GDAL's sample at the input's coordinates is the input's value.
    with rasterio.open(vrt_path) as dataset:
        lat, lon = float(array.lat[10]), float(array.lon[20])
        (sample,) = dataset.sample([(lon, lat)], indexes=2)
        assert sample[0] == array.isel(time=1, lat=10, lon=20).values


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "lazy"])
def test_every_tile_and_level_of_a_south_up_input_is_north_up(lazy, vrt_path):
    array = make_raster((96, 64), "int16", chunks=(32, 32), south_up=True, nodata=-1)
    written = array.tiles.to_vrt(vrt_path, overviews=[2, 4], compute=not lazy)
    if lazy:
        written.compute()
    expected = north_up(array).values
    with rasterio.open(vrt_path) as dataset:
        assert dataset.transform.e < 0
        np.testing.assert_array_equal(dataset.read(1), expected)
    for index, factor in enumerate([2, 4]):
        with rasterio.open(vrt_path, OVERVIEW_LEVEL=index) as level:
            assert level.transform.e < 0
            np.testing.assert_array_equal(
                level.read(1), downsample(expected[np.newaxis], factor, "nearest", -1)[0]
            )
    for tile in tile_folder(vrt_path).glob("*.tif"):
        with rasterio.open(tile) as dataset:
            assert dataset.transform.e < 0, tile.name
    for level in tile_folder(vrt_path).glob("overviews/*"):
        with rasterio.open(level) as dataset:
            assert dataset.transform.e < 0, level.name


def test_a_region_update_of_south_up_data_lands_in_place(vrt_path):
    """The mosaic is north-up; a region's data with ascending y is flipped onto it."""
    old = make_raster((96, 64), "float32", chunks=(32, 32), south_up=True)
    new = make_raster((96, 64), "float32", chunks=(32, 32), south_up=True, seed=1)
    old.tiles.to_vrt(vrt_path)
    patch = new.isel(y=slice(0, 32))  # the southernmost row of tiles
    patch.tiles.to_vrt(vrt_path, mode="r+", region="auto")
    expected = north_up(old).values.copy()
    expected[64:96] = north_up(patch).values
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], expected)


def test_datetime_bands_are_named_as_iso_dates(vrt_path):
    array = climate(times=2).isel(lat=slice(0, 32), lon=slice(0, 32))
    array.tiles.to_vrt(vrt_path)
    assert read_with_gdal(vrt_path).descriptions == ("2000-01-01", "2000-02-01")


def test_times_of_day_stay_in_band_names(vrt_path):
    array = climate(times=2).isel(lat=slice(0, 32), lon=slice(0, 32))
    array = array.assign_coords(time=pd.to_datetime(["2000-01-01T06:00:00", "2000-01-01T18:30:15"]))
    array.tiles.to_vrt(vrt_path)
    assert read_with_gdal(vrt_path).descriptions == ("2000-01-01T06:00", "2000-01-01T18:30:15")


def test_an_array_without_coordinates_keeps_its_rows(vrt_path):
    """No coordinates: rioxarray's identity transform has a positive pixel height, which
    says nothing of the data; row 0 stays GDAL's row 0, also through a region update."""
    values = np.arange(256 * 128, dtype="int32").reshape(256, 128)
    array = xr.DataArray(values, dims=("y", "x")).chunk(64)
    array.tiles.to_vrt(vrt_path)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], values)
    patch = xr.DataArray(np.full((64, 128), -1, "int32"), dims=("y", "x"))
    patch.tiles.to_vrt(vrt_path, mode="r+", region={"y": slice(0, 64), "x": slice(0, 128)})
    expected = values.copy()
    expected[:64] = -1
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], expected)


def test_a_ragged_ascending_dask_input_keeps_exact_overviews(vrt_path):
    """Reversed, the ragged last block would come first and shift every tile after it off
    the factors' windows: with overviews, the blocks are counted from the north."""
    array = make_raster((613, 256), "int16", south_up=True, nodata=-1).chunk({"y": 256})
    assert array.chunks[0] == (256, 256, 101)
    array.tiles.to_vrt(vrt_path, overviews=[2, 4])  # no warning of misaligned factors
    expected = north_up(array).values
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], expected)
    for index, factor in enumerate([2, 4]):
        with rasterio.open(vrt_path, OVERVIEW_LEVEL=index) as level:
            np.testing.assert_array_equal(
                level.read(1), downsample(expected[np.newaxis], factor, "nearest", -1)[0]
            )


def test_microseconds_stay_in_band_names(vrt_path):
    array = climate(times=2).isel(lat=slice(0, 32), lon=slice(0, 32))
    stamps = np.array(["2000-01-01T00:00:00.000500", "2000-01-01T00:00:30"], "datetime64[us]")
    array.assign_coords(time=stamps).tiles.to_vrt(vrt_path)
    assert read_with_gdal(vrt_path).descriptions == ("2000-01-01T00:00:00.000500",
                                                     "2000-01-01T00:00:30")
