"""Where the pixels go, against GDAL: coordinates in the CRS's units (CF ``units`` on
projection coordinates), GDAL's own GeoTransform bit for bit, grids that cannot be north-up
refused before any byte is written, and GDAL's colours of the bands kept."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from affine import Affine

import xr_tiles
from conftest import make_raster, read_with_gdal, tree

# A pixel GDAL wrote from floats: not what its coordinates give back exactly.
ODD_TRANSFORM = Affine(28.499999999274539, 0.0, 288776.25, 0.0, -28.499999999274539, 9120760.75)
US_FOOT = 1200 / 3937


@pytest.mark.parametrize(
    ("units", "metres"),
    [pytest.param("m", 1.0, id="m"), pytest.param("km", 1000.0, id="km"),
     pytest.param("kilometer", 1000.0, id="kilometer"),
     pytest.param("US_survey_foot", US_FOOT, id="us-survey-foot")],
)
def test_projection_coordinates_are_converted_to_the_crs_units(units, metres, vrt_path):
    """The data at its coordinates is the oracle: a CRS in metres, the same footprint."""
    array = make_raster((30, 40), "float32")
    for dim in ("x", "y"):
        array[dim] = array[dim].copy(data=array[dim].values / metres)
        array[dim].attrs.update(units=units, standard_name=f"projection_{dim}_coordinate")
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    expected = make_raster((30, 40), "float32").rio.transform()
    assert back.transform.almost_equals(expected, precision=1e-9 * 30)
    assert back.crs == rasterio.crs.CRS.from_epsg(32633)


def test_a_lambert_cf_grid_in_km_lands_where_gdal_s_netcdf_driver_puts_it(tmp_path, vrt_path):
    """A grid mapping of CF parameters only (no WKT): GDAL's netCDF driver reads x/y in
    km as metres, and so does xr_tiles."""
    x = np.arange(-778.25, -760.0, 1.0)
    y = np.arange(-120.0, -140.0, -1.0)
    dataset = xr.Dataset(
        {"prcp": (("y", "x"), np.arange(y.size * x.size, dtype="float32").reshape(y.size, -1),
                  {"grid_mapping": "lambert_conformal_conic"})},
        coords={
            "x": ("x", x, {"units": "km", "standard_name": "projection_x_coordinate"}),
            "y": ("y", y, {"units": "km", "standard_name": "projection_y_coordinate"}),
            "lambert_conformal_conic": ((), 0, {
                "grid_mapping_name": "lambert_conformal_conic", "standard_parallel": [25.0, 60.0],
                "longitude_of_central_meridian": -100.0, "latitude_of_projection_origin": 42.5,
                "false_easting": 0.0, "false_northing": 0.0, "semi_major_axis": 6378137.0,
                "inverse_flattening": 298.257223563}),
        },
    )
    path = tmp_path / "lcc_km.nc"
    dataset.to_netcdf(path, engine="h5netcdf")
    opened = xr.open_dataset(path, decode_coords="all", chunks={})
    back = read_with_gdal(opened["prcp"].tiles.to_vrt(vrt_path))
    with rasterio.open(f"netcdf:{path}:prcp") as gdal:
        assert back.transform == gdal.transform
        assert back.crs.to_dict() == gdal.crs.to_dict()
        np.testing.assert_array_equal(back.values, gdal.read())


def test_an_unknown_length_unit_on_projection_coordinates_is_refused(vrt_path, tmp_path):
    array = make_raster((30, 40))
    array["x"].attrs.update(units="furlong", standard_name="projection_x_coordinate")
    with pytest.raises(xr_tiles.UnsupportedInputError, match=r"units 'furlong'.*convert it"):
        array.tiles.to_vrt(vrt_path)
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("window", [None, (slice(7, 50), slice(5, 100))], ids=["whole", "part"])
def test_gdal_s_geotransform_is_written_bit_for_bit(window, tmp_path, vrt_path):
    source = tmp_path / "odd.tif"
    with rasterio.open(source, "w", driver="GTiff", width=120, height=60, count=1,
                       dtype="uint8", crs="EPSG:32725", transform=ODD_TRANSFORM) as dataset:
        dataset.write(np.arange(7200, dtype="uint8").reshape(1, 60, 120))
    array = rioxarray.open_rasterio(source)
    if window is not None:
        array = array.isel(y=window[0], x=window[1])
    recomputed = array.rio.transform(recalc=True)
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    y0, x0 = (0, 0) if window is None else (window[0].start, window[1].start)
    expected = ODD_TRANSFORM * Affine.translation(x0, y0)
    assert back.transform.to_gdal() == expected.to_gdal()
    assert recomputed.to_gdal() != expected.to_gdal()  # what coordinates alone give


def test_coordinates_that_disagree_with_a_stored_geotransform_win(tmp_path, vrt_path):
    """Coordinates moved by hand after reading: the stale GeoTransform is not used."""
    source = tmp_path / "odd.tif"
    with rasterio.open(source, "w", driver="GTiff", width=40, height=30, count=1,
                       dtype="uint8", crs="EPSG:32725", transform=ODD_TRANSFORM) as dataset:
        dataset.write(np.ones((1, 30, 40), "uint8"))
    array = rioxarray.open_rasterio(source)
    array = array.assign_coords(x=array.x + 1000.25)
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    assert back.transform.almost_equals(array.rio.transform(recalc=True), precision=1e-6)
    assert back.transform.c == pytest.approx(ODD_TRANSFORM.c + 1000.25)


def test_a_rotated_geotransform_is_refused_in_one_line(tmp_path, vrt_path):
    source = tmp_path / "rotated.tif"
    with rasterio.open(source, "w", driver="GTiff", width=20, height=10, count=1,
                       dtype="uint8", crs="EPSG:32633",
                       transform=Affine(1.5, -5.0, 1841001.75, -5.0, -1.5, 1144003.25)) as out:
        out.write(np.ones((1, 10, 20), "uint8"))
    with pytest.raises(xr_tiles.UnsupportedInputError, match=r"rotated or sheared.*reproject"):
        rioxarray.open_rasterio(source).tiles.to_vrt(vrt_path)
    assert not vrt_path.parent.exists()


def test_a_curvilinear_grid_is_refused_in_one_line(vrt_path):
    lat, lon = np.meshgrid(np.linspace(40, 41, 6), np.linspace(-100, -99, 8), indexing="ij")
    array = xr.DataArray(np.ones((6, 8), "float32"), dims=("y", "x"),
                         coords={"lat": (("y", "x"), lat), "lon": (("y", "x"), lon)})
    with pytest.raises(xr_tiles.UnsupportedInputError,
                       match=r"curvilinear grid.*'lat', 'lon'.*regrid") as info:
        array.tiles.to_vrt(vrt_path)
    assert "\n" not in str(info.value)
    assert not vrt_path.parent.exists()


def test_palette_and_rgb_colours_come_back_as_gdal_reads_them(tmp_path):
    palette, rgb = tmp_path / "classes.tif", tmp_path / "rgb.tif"
    profile = {"driver": "GTiff", "width": 64, "height": 48, "dtype": "uint8",
               "crs": "EPSG:32633", "transform": Affine(30, 0, 5e5, 0, -30, 4e6)}
    with rasterio.open(palette, "w", count=1, **profile) as out:
        out.write(np.arange(64 * 48, dtype="uint8").reshape(1, 48, 64) % 4)
        out.write_colormap(1, {0: (0, 0, 0, 255), 1: (0, 250, 0, 255), 2: (10, 20, 30, 0)})
    with rasterio.open(rgb, "w", count=3, photometric="RGB", **profile) as out:
        out.write(np.arange(3 * 64 * 48, dtype="uint8").reshape(3, 48, 64))
    for source in (palette, rgb):
        vrt = rioxarray.open_rasterio(source, chunks={"y": 16, "x": 32}).tiles.to_vrt(
            tmp_path / f"{source.stem}.vrt")
        with rasterio.open(vrt) as back, rasterio.open(source) as gdal:
            assert back.colorinterp == gdal.colorinterp
            assert back.descriptions == gdal.descriptions
            np.testing.assert_array_equal(back.read(), gdal.read())
            if source == palette:
                assert back.colormap(1) == gdal.colormap(1)
    bgr = rioxarray.open_rasterio(rgb).isel(band=[2, 1, 0])
    with rasterio.open(bgr.tiles.to_vrt(tmp_path / "bgr.vrt")) as back:
        assert [c.name for c in back.colorinterp] == ["blue", "green", "red"]


@pytest.mark.parametrize("wrap", [pytest.param(False, id="0-360"), pytest.param(True, id="wrapping")])
def test_longitudes_0_to_360_and_wrapping_ones_land_where_gdal_puts_them(wrap, tmp_path, vrt_path):
    """float32 degrees, ascending latitudes: GDAL's netCDF driver is the oracle."""
    lon = np.arange(300.05, 372.0, 0.1) % 360 if wrap else np.arange(0.05, 72.0, 0.1)
    lat = np.arange(30.05, 40.0, 0.1)
    data = np.arange(lat.size * lon.size, dtype="float32").reshape(lat.size, lon.size)
    dataset = xr.Dataset(
        {"t": (("lat", "lon"), data)},
        coords={"lat": ("lat", lat.astype("float32"), {"units": "degrees_north"}),
                "lon": ("lon", lon.astype("float32"), {"units": "degrees_east"})})
    path = tmp_path / "grid.nc"
    dataset.to_netcdf(path, engine="h5netcdf")
    opened = xr.open_dataset(path, chunks={})["t"]
    back = read_with_gdal(opened.tiles.to_vrt(vrt_path, crs="EPSG:4326"))
    with rasterio.open(f"netcdf:{path}:t") as gdal:
        assert back.transform.almost_equals(gdal.transform, precision=1e-9 * 0.1)
        np.testing.assert_array_equal(back.values, gdal.read())
