"""Round trips through GDAL: what the VRT and each tile give back equals the input."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import rioxarray
import tifffile
import xarray as xr
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import expected_bands, make_raster, north_up, read_with_gdal, tile_folder

INTEGER_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
FLOAT_DTYPES = ["float32", "float64"]
LOSSLESS_CODECS = ["none", "deflate", "zstd", "lzw", "lzma", "packbits"]
TIFF_COMPRESSION = {
    "none": 1, "deflate": 8, "zstd": 50000, "lzw": 5, "lzma": 34925, "packbits": 32773,
    "lerc": 34887, "jpeg": 7, "webp": 50001,
}


def assert_same_raster(array: xr.DataArray, path) -> None:
    """GDAL reads ``array``, north-up, with its coordinates."""
    array = north_up(array)
    back = read_with_gdal(path)
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)
    assert back.transform == array.rio.transform(recalc=True)
    assert back.crs == array.rio.crs


@pytest.mark.parametrize("dtype", INTEGER_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize("codec", LOSSLESS_CODECS)
def test_lossless_codecs_round_trip_every_dtype(dtype, codec, vrt_path):
    array = make_raster((40, 56), dtype, chunks=(16, 32))
    path = array.tiles.to_vrt(vrt_path, codec=codec)
    assert path == vrt_path
    assert_same_raster(array, path)
    with tifffile.TiffFile(tile_folder(vrt_path) / "r0_c0.tif") as tiff:
        assert tiff.pages.first.compression == TIFF_COMPRESSION[codec]


@pytest.mark.parametrize(
    ("dtype", "level"),
    [pytest.param(d, 0, id=f"{d}-lossless") for d in ["uint8", "int16", "uint32", "float32", "float64"]],
)
def test_lerc_lossless_round_trips(dtype, level, vrt_path):
    array = make_raster((40, 56), dtype, chunks=(16, 32))
    assert_same_raster(array, array.tiles.to_vrt(vrt_path, codec="lerc", level=level))


def test_webp_without_level_is_lossless(vrt_path):
    array = make_raster((3, 40, 56), "uint8", chunks={"y": 16, "x": 32})
    assert_same_raster(array, array.tiles.to_vrt(vrt_path, codec="WebP"))


@pytest.mark.parametrize(
    ("codec", "level", "other"),
    [("zstd", 3, 19), ("deflate", 6, 1), ("lzma", 6, 0), ("jpeg", 75, 30)],
)
def test_level_none_is_the_documented_default(codec, level, other, tmp_path):
    raster = make_raster((3, 48, 48), "uint8")
    y, x = np.mgrid[0:48, 0:48]
    smooth = (np.sin(x / 5.0) * np.cos(y / 7.0) * 100 + 120).astype("uint8")
    array = raster.copy(data=np.stack([smooth, smooth.T, smooth // 2]))

    def tiles(**level_option):
        vrt = tmp_path / f"{level_option}.vrt"
        array.tiles.to_vrt(vrt, codec=codec, chunks=32, **level_option)
        folder = tile_folder(vrt)
        return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}

    default = tiles()
    assert len(default) == 4
    assert default == tiles(level=level)
    assert default != tiles(level=other)


@pytest.mark.parametrize("bands", [pytest.param(1, id="gray"), pytest.param(3, id="rgb")])
def test_jpeg_is_close_to_the_input(bands, vrt_path):
    y, x = np.mgrid[0:48, 0:64]
    smooth = ((x + y) * 2).astype("uint8")
    array = make_raster((bands, 48, 64) if bands > 1 else (48, 64), "uint8", chunks=(32, 32))
    array = array.copy(data=np.broadcast_to(smooth, array.shape).copy())
    back = read_with_gdal(array.tiles.to_vrt(vrt_path, codec="jpeg", level=95))
    assert back.values.shape == expected_bands(array).shape
    assert np.abs(back.values.astype(int) - expected_bands(array)).mean() < 2


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param((16, 16), id="regular"),
        pytest.param(((10, 30, 24), (7, 50, 23)), id="irregular"),
        pytest.param((13, 37), id="not-multiple-of-16"),
        pytest.param((64, 80), id="single-chunk"),
    ],
)
@pytest.mark.parametrize("south_up", [False, True], ids=["north-up", "south-up"])
def test_chunkings_and_orientations_read_back_in_place(chunks, south_up, vrt_path):
    array = make_raster((64, 80), "float32", chunks=chunks, south_up=south_up)
    assert_same_raster(array, array.tiles.to_vrt(vrt_path))
    back = read_with_gdal(vrt_path)
    assert back.transform.e < 0  # north-up, whichever way the input's rows go
    # GDAL's pixel-centre coordinates are the input's coordinates, north first.
    x, y = back.transform * (np.arange(80) + 0.5, np.full(80, 0.5))
    np.testing.assert_allclose(x, array.x.values)
    x, y = back.transform * (np.full(64, 0.5), np.arange(64) + 0.5)
    np.testing.assert_allclose(y, np.sort(array.y.values)[::-1])
    # The same value at the same coordinates as the input has.
    opened = rioxarray.open_rasterio(vrt_path).squeeze("band", drop=True)
    assert opened.y.values[0] > opened.y.values[-1]
    np.testing.assert_array_equal(opened.sel(y=array.y, x=array.x).values, array.values)


@pytest.mark.parametrize("south_up", [False, True], ids=["north-up", "south-up"])
def test_every_tile_is_a_standalone_geotiff_in_place(south_up, vrt_path):
    array = make_raster((50, 70), "int16", chunks=(20, 30), south_up=south_up, nodata=-1)
    array.tiles.to_vrt(vrt_path, blocksize=16)
    full = read_with_gdal(vrt_path)
    files = sorted(tile_folder(vrt_path).iterdir())
    assert [f.name for f in files] == [f"r{r}_c{c}.tif" for r in range(3) for c in range(3)]
    for file in files:
        row, col = int(file.stem[1]), int(file.stem[4])
        with rasterio.open(file) as tile:
            assert tile.crs == array.rio.crs
            assert tile.nodata == -1
            assert tile.profile["tiled"]
            assert tile.block_shapes[0] == (16, 16)
            window = rasterio.windows.from_bounds(*tile.bounds, transform=full.transform)
            row_off, col_off = round(window.row_off), round(window.col_off)
            # A south-up input's blocks are flipped in place: its ragged last block of
            # rows (the northernmost) comes first.
            row_starts = (0, 10, 30) if south_up else (0, 20, 40)
            assert (row_off, col_off) == (row_starts[row], col * 30)
            assert tile.transform.e < 0
            expected = full.values[:, row_off : row_off + tile.height, col_off : col_off + tile.width]
            np.testing.assert_array_equal(tile.read(), expected)


def test_small_blocks_get_the_smallest_covering_internal_tile(vrt_path):
    array = make_raster((40, 20), "uint8", chunks=(40, 20))
    array.tiles.to_vrt(vrt_path, blocksize=512)
    with rasterio.open(tile_folder(vrt_path) / "r0_c0.tif") as tile:
        assert tile.block_shapes[0] == (48, 32)


def test_geographic_crs_and_lon_lat_dims(vrt_path):
    array = make_raster((30, 60), "float32", crs="EPSG:4326").rename(x="lon", y="lat")
    array = array.assign_coords(lon=np.linspace(-177, 177, 60), lat=np.linspace(87, -87, 30))
    array.tiles.to_vrt(vrt_path, chunks=16)
    with rasterio.open(vrt_path) as dataset:
        assert dataset.crs == "EPSG:4326"
        assert dataset.bounds == pytest.approx((-180, -90, 180, 90))
        np.testing.assert_array_equal(dataset.read(1), array.values)


def test_no_crs_gives_a_valid_vrt_without_srs(vrt_path):
    array = make_raster((32, 32), "uint16", crs=None)
    array.tiles.to_vrt(vrt_path, chunks=16)
    assert "<SRS" not in vrt_path.read_text()
    back = read_with_gdal(vrt_path)
    assert back.crs is None
    np.testing.assert_array_equal(back.values[0], array.values)
    assert back.transform == array.rio.transform(recalc=True)


def test_crs_override(vrt_path):
    array = make_raster((32, 32), "float32", crs=None)
    array.tiles.to_vrt(vrt_path, crs=3857)
    assert read_with_gdal(vrt_path).crs == "EPSG:3857"


def test_one_by_one_raster(vrt_path):
    array = make_raster((1, 1), "float64").rio.write_transform(Affine(30, 0, 500_000, 0, -30, 4e6))
    array = array.assign_coords(x=[500_015.0], y=[4e6 - 15])
    assert_same_raster(array, array.tiles.to_vrt(vrt_path))


@pytest.mark.parametrize("band_dim", ["band", "time"])
def test_leading_dim_becomes_bands_named_by_its_coordinate(band_dim, vrt_path):
    array = make_raster((4, 32, 48), "uint16", chunks={"y": 16, "x": 16}, band_dim=band_dim)
    array = array.assign_coords({band_dim: ["2020", "2021", "2022", "2023"]})
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    np.testing.assert_array_equal(back.values, array.values)
    assert back.descriptions == ("2020", "2021", "2022", "2023")


def test_band_last_order_is_transposed(vrt_path):
    array = make_raster((3, 32, 32), "uint8").transpose("y", "x", "band")
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    np.testing.assert_array_equal(back.values, array.transpose("band", "y", "x").values)


def test_attributes_become_band_fields_and_metadata(vrt_path):
    array = make_raster((32, 32), "int16", nodata=-9999)
    array.attrs.update(
        scale_factor=0.01, add_offset=5.0, units="m", long_name='a<b&"c"', source="lidar", year=2024
    )
    array.tiles.to_vrt(vrt_path)
    back = read_with_gdal(vrt_path)
    assert back.scales == (0.01,)
    assert back.offsets == (5.0,)
    assert back.units == ("m",)
    assert back.descriptions == ('a<b&"c"',)
    assert back.nodatavals == (-9999,)
    assert back.tags["source"] == "lidar"
    assert back.tags["year"] == "2024"


def test_rioxarray_reads_back_the_same_dataarray(vrt_path):
    array = make_raster((2, 40, 50), "float32", chunks={"y": 16, "x": 32}, nodata=-1.0)
    array.tiles.to_vrt(vrt_path)
    back = rioxarray.open_rasterio(vrt_path)
    np.testing.assert_array_equal(back.values, array.values)
    np.testing.assert_allclose(back.x.values, array.x.values)
    np.testing.assert_allclose(back.y.values, array.y.values)
    assert back.rio.crs == array.rio.crs
    assert back.rio.nodata == -1.0
    assert back.attrs["long_name"] == ("b0", "b1")
    back.close()


def test_gdal_translate_copies_the_mosaic(vrt_path, tmp_path):
    array = make_raster((40, 50), "uint32", chunks=16)
    array.tiles.to_vrt(vrt_path)
    rasterio.shutil.copy(vrt_path, tmp_path / "copy.tif", driver="GTiff")
    assert_same_raster(array, tmp_path / "copy.tif")


def test_moved_folder_still_opens(vrt_path, tmp_path):
    array = make_raster((40, 50), "int32", chunks=16)
    array.tiles.to_vrt(vrt_path)
    moved = vrt_path.parent.rename(tmp_path / "elsewhere")
    assert_same_raster(array, moved / "mosaic.vrt")


@pytest.mark.parametrize(
    ("dtype", "stored"),
    [pytest.param("bool", "uint8", id="bool"), pytest.param("float16", "float32", id="float16")],
)
def test_bool_and_float16_are_widened(dtype, stored, vrt_path):
    array = make_raster((32, 40), dtype, chunks=16)
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    assert back.dtypes == (stored,)
    np.testing.assert_array_equal(back.values[0], array.values.astype(stored))


def test_nan_is_written_as_an_explicit_nodata(vrt_path):
    array = make_raster((32, 40), "float32", chunks=16)
    array[3:9, 5:30] = np.nan
    back = read_with_gdal(array.tiles.to_vrt(vrt_path, nodata=-9999))
    expected = np.where(np.isnan(array.values), -9999, array.values)
    np.testing.assert_array_equal(back.values[0], expected)
    assert back.nodatavals == (-9999.0,)


def test_nan_nodata_keeps_nan(vrt_path):
    array = make_raster((32, 40), "float64", chunks=16, nodata=np.nan)
    array[0:5, 0:5] = np.nan
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    assert np.isnan(back.nodatavals[0])
    np.testing.assert_array_equal(back.values[0], array.values)


def test_encoded_nodata_is_used(vrt_path):
    array = make_raster((32, 40), "int16")
    array.encoding["_FillValue"] = -32768
    assert read_with_gdal(array.tiles.to_vrt(vrt_path)).nodatavals == (-32768,)


def test_dataset_gives_one_band_per_variable_with_its_own_dtype(vrt_path):
    base = make_raster((40, 48), "float32", chunks=16, nodata=-1.0)
    dataset = xr.Dataset(
        {
            "elevation": base,
            "class": base.copy(data=make_raster((40, 48), "uint8").values).rio.write_nodata(255),
            "rgb": make_raster((3, 40, 48), "uint8", chunks={"y": 16, "x": 16}),
        }
    )
    dataset["class"].attrs["units"] = "category"
    dataset.attrs["title"] = "demo"
    dataset.tiles.to_vrt(vrt_path)
    back = read_with_gdal(vrt_path)
    assert back.descriptions == ("elevation", "class", "rgb_b0", "rgb_b1", "rgb_b2")
    assert back.dtypes == ("float32", "uint8", "uint8", "uint8", "uint8")
    assert back.nodatavals[:2] == (-1.0, 255)
    assert back.units[1] == "category"
    assert back.tags["title"] == "demo"
    expected = [*expected_bands(dataset["elevation"]), *expected_bands(dataset["class"]),
                *expected_bands(dataset["rgb"])]
    for got, want in zip(back.bands, expected, strict=True):
        np.testing.assert_array_equal(got, want, strict=True)
    assert sorted(p.name for p in tile_folder(vrt_path).iterdir())[:3] == [
        "r0_c0_part1.tif", "r0_c0_part2.tif", "r0_c0_part3.tif"
    ]


def test_xml_special_characters_round_trip(vrt_path):
    array = make_raster((2, 16, 16), "uint8")
    array = array.assign_coords(band=['a<b&"c"', "d'e>f"])
    array.attrs["note"] = "<&>"
    back = read_with_gdal(array.tiles.to_vrt(vrt_path))
    assert back.descriptions == ('a<b&"c"', "d'e>f")
    assert back.tags["note"] == "<&>"


def test_vrt_name_with_xml_special_characters_round_trips(tmp_path):
    array = make_raster((40, 40), "int16", chunks=16)
    vrt = tmp_path / "a&b <c>'d\".vrt"
    array.tiles.to_vrt(vrt)
    assert (tile_folder(vrt) / "r0_c0.tif").exists()
    np.testing.assert_array_equal(read_with_gdal(vrt).values, expected_bands(array), strict=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    chunk_y=st.integers(1, 40),
    chunk_x=st.integers(1, 40),
    dtype=st.sampled_from(["uint8", "int16", "float32", "float64"]),
    south_up=st.booleans(),
)
def test_any_shape_and_chunking_round_trips(tmp_path_factory, height, width, chunk_y, chunk_x, dtype, south_up):
    path = tmp_path_factory.mktemp("prop") / "p.vrt"
    array = make_raster((height, width), dtype, chunks=(chunk_y, chunk_x), south_up=south_up)
    array = array.rio.write_transform(array.rio.transform(recalc=height > 1 and width > 1))
    if height == 1 or width == 1:
        transform = Affine(30, 0, 500_000, 0, 30 if south_up else -30, 4e6)
        array = array.rio.write_transform(transform)
    back = read_with_gdal(array.tiles.to_vrt(path))
    expected = array.values[::-1] if south_up and height > 1 else array.values
    np.testing.assert_array_equal(back.values[0], expected)


def test_a_dataarray_made_from_a_dask_array_has_no_band_description(vrt_path):
    """xarray names a DataArray made from a dask array without a name after the dask
    array (``array-<token>``): not a name for GDAL's band, which would change with the data."""
    import dask.array as dsa

    values = dsa.from_array(np.arange(64 * 64, dtype="float32").reshape(64, 64), chunks=32)
    array = xr.DataArray(values, dims=("y", "x"),
                         coords={"y": 63.5 - np.arange(64), "x": 0.5 + np.arange(64)})
    assert array.name == values.name
    assert read_with_gdal(array.tiles.to_vrt(vrt_path)).descriptions == (None,)


@pytest.mark.parametrize("scale", [pytest.param(0.01, id="scaled"), pytest.param(None, id="masked")])
def test_packed_integers_xarray_decoded_are_written_as_gdal_reads_the_file(scale, tmp_path):
    """``xr.open_dataset`` decodes CF packed integers to floats (NaN for _FillValue);
    written as their encoding says, the mosaic reads as GDAL reads the NetCDF file."""
    raw = make_raster((40, 48), "int16", chunks=16)
    raw = raw.where(raw % 7 != 0, -999).astype("int16").rio.write_crs("EPSG:32633").rio.write_coordinate_system()
    raw.attrs.update(_FillValue=np.int16(-999), units="degree_C")
    if scale is not None:
        raw.attrs.update(scale_factor=np.float32(scale), add_offset=np.float32(1.5))
    path = tmp_path / "packed.nc"
    raw.to_dataset(name="sst").to_netcdf(path, engine="h5netcdf")
    decoded = xr.open_dataset(path, decode_coords="all", chunks={})["sst"]
    assert decoded.dtype.kind == "f"
    vrt = decoded.tiles.to_vrt(tmp_path / "packed.vrt")
    with rasterio.open(vrt) as back, rasterio.open(f"netcdf:{path}:sst") as gdal:
        assert (back.dtypes, back.nodata, back.units) == (gdal.dtypes, gdal.nodata, gdal.units)
        assert (back.scales, back.offsets) == (gdal.scales, gdal.offsets)
        np.testing.assert_array_equal(back.read(), gdal.read())


def test_a_nodata_written_on_decoded_packed_data_does_not_stop_the_packing(tmp_path):
    """``.rio.write_nodata(nan)`` on data xarray decoded from packed integers: the
    encoding packs it, with the file's own fill value."""
    raw = make_raster((32, 32), "int16", chunks=16).rio.write_crs("EPSG:32633")
    raw = raw.rio.write_coordinate_system()
    raw.attrs.update(_FillValue=np.int16(-999), scale_factor=np.float32(0.5))
    path = tmp_path / "packed.nc"
    raw.to_dataset(name="v").to_netcdf(path, engine="h5netcdf")
    decoded = xr.open_dataset(path, decode_coords="all")["v"].rio.write_nodata(np.nan)
    with rasterio.open(decoded.tiles.to_vrt(tmp_path / "v.vrt")) as back:
        assert (back.dtypes[0], back.nodata, back.scales[0]) == ("int16", -999, 0.5)
