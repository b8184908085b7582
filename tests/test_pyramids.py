"""Overviews written into every tile and exposed on the VRT: GDAL lists and reads them,
each level equals an independent numpy downsample of the whole raster, and every tile is
a valid Cloud Optimized GeoTIFF (rio-cogeo's validator)."""

from __future__ import annotations

import functools
import io
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
import tifffile
import xarray as xr
from affine import Affine
from rasterio.enums import Resampling
from rio_cogeo.cogeo import cog_validate

import xr_tiles
import xr_tiles.overviews
from conftest import downsample, make_raster, read_with_gdal, synthetic_values, tile_folder
from xr_tiles.geotags import geotiff_tags
from xr_tiles.template import cloud_optimized

FACTORS = [2, 4, 8, 16, 32, 64]


def tiles_folder(vrt):
    return tile_folder(vrt)


def tile_files(vrt) -> list:
    return sorted(tiles_folder(vrt).glob("*.tif"))


def read_level(vrt, factor: int) -> np.ndarray:
    """Read the whole VRT at 1/factor scale (GDAL's default, nearest resampling)."""
    with rasterio.open(vrt) as dataset:
        shape = (dataset.count, -(-dataset.height // factor), -(-dataset.width // factor))
        return dataset.read(out_shape=shape)


def with_holes(array, nodata):
    values = array.values.copy()
    rng = np.random.default_rng(3)
    values[rng.random(values.shape) < 0.2] = nodata
    values[..., :64, :64] = nodata  # whole windows of nodata at every factor
    return array.copy(data=values)


CASES = [
    pytest.param("float32", -9999.0, "average", id="float32-average"),
    pytest.param("float32", np.nan, "min", id="float32-nan-min"),
    pytest.param("float64", -1e30, "max", id="float64-max"),
    pytest.param("int16", -1, "average", id="int16-average"),
    pytest.param("uint16", 0, "nearest", id="uint16-nearest"),
    pytest.param("uint8", 255, "mode", id="uint8-mode"),
]


@pytest.mark.parametrize(("dtype", "nodata", "resampling"), CASES)
@pytest.mark.parametrize(
    ("shape", "chunks"),
    [
        pytest.param((200, 168), 64, id="ragged-last-tiles"),
        pytest.param((2, 128, 192), 64, id="two-bands"),
    ],
)
@pytest.mark.parametrize(
    "merged_bytes",
    [pytest.param(0, id="mosaics-of-tile-levels"), pytest.param(2**20, id="merged-levels")],
)
def test_each_level_equals_a_downsample_of_the_whole_raster(
    dtype, nodata, resampling, shape, chunks, merged_bytes, vrt_path, monkeypatch
):
    """Tiles of a multiple of every factor: reading the VRT at 1/f gives the whole
    raster's level exactly (float tolerance for averages), nodata and NaN left out; from
    VRT mosaics of the tiles' own levels, or (levels up to ``merged_bytes``) one file
    each. GDAL reads with nearest resampling here: min, max or mode values prove it used
    the levels."""
    monkeypatch.setattr(xr_tiles.overviews, "MERGED_LEVEL_BYTES", merged_bytes)
    array = make_raster(shape, dtype, nodata=nodata, chunks=chunks)
    if resampling == "mode":
        array = array.copy(data=np.random.default_rng(1).integers(0, 4, shape).astype(dtype))
    array = with_holes(array, nodata).chunk(chunks)
    array.tiles.to_vrt(vrt_path, overviews=FACTORS, resampling=resampling, blocksize=16)

    values = array.values.reshape((-1, *shape[-2:]))
    with rasterio.open(vrt_path) as dataset:
        assert len(dataset.overviews(1)) == len(FACTORS)
    for factor in FACTORS:
        expected = downsample(values, factor, resampling, None if np.isnan(nodata) else nodata)
        level = read_level(vrt_path, factor)
        if resampling == "average" and values.dtype.kind == "f":
            np.testing.assert_allclose(level, expected, rtol=1e-6, equal_nan=True)
        else:
            np.testing.assert_array_equal(level, expected, strict=True)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, values)


def test_gdal_lists_the_factors_and_reduced_reads_use_them(vrt_path):
    """The 1/2 level is a mosaic of the tiles' levels; the 1/4 level, 64 x 64 pixels a
    tile, is also one file of the whole level."""
    array = make_raster((1024, 768), "float32", chunks=256)
    array.tiles.to_vrt(vrt_path, overviews="auto", resampling="max")
    with rasterio.open(vrt_path) as dataset:
        assert dataset.overviews(1) == [2, 4]  # 1024 / 4 fits one 256-pixel block
        small = dataset.read(1, out_shape=(64, 48))  # 1/16: from the 1/4 level
        half = dataset.read(1, out_shape=(512, 384))
    quarter = downsample(array.values[np.newaxis], 4, "max", None)[0]
    # GDAL's nearest read of the 1/4 level: every fourth pixel, from the second.
    np.testing.assert_array_equal(small, quarter[2::4, 2::4])
    np.testing.assert_array_equal(half, downsample(array.values[np.newaxis], 2, "max", None)[0])
    vrt = ET.parse(vrt_path).getroot()
    listed = [o.findtext("SourceFilename") for o in vrt.iter("Overview")]
    write = tiles_folder(vrt_path).name
    assert listed == [
        f"mosaic_tiles/{write}/overviews/overview_2.vrt",
        f"mosaic_tiles/{write}/overviews/overview_4.tif",
    ]
    with rasterio.open(tiles_folder(vrt_path) / "overviews" / "overview_4.tif") as level:
        assert level.shape == (256, 192)
        assert level.crs == array.rio.crs
        assert level.transform == array.rio.transform() @ Affine.scale(4)


def test_auto_writes_no_overviews_for_a_raster_of_one_block(vrt_path):
    with pytest.warns(UserWarning, match=r"overviews='auto' makes no level: the 200 x 256 "):
        make_raster((200, 256), chunks=100).tiles.to_vrt(vrt_path, overviews="auto")
    with rasterio.open(vrt_path) as dataset:
        assert dataset.overviews(1) == []
    with rasterio.open(tile_files(vrt_path)[0]) as tile:
        assert tile.overviews(1) == []


COG_CASES = [
    pytest.param((512, 512), "float32", "zstd", id="zstd"),
    pytest.param((512, 512), "int16", "deflate", id="deflate"),
    pytest.param((512, 512), "uint16", "lzw", id="lzw"),
    pytest.param((512, 512), "float64", "none", id="none"),
    pytest.param((512, 512), "uint8", "packbits", id="packbits"),
    pytest.param((512, 512), "float32", "lerc", id="lerc"),
    pytest.param((512, 512), "uint8", "jpeg", id="jpeg"),
    pytest.param((3, 512, 512), "uint8", "jpeg", id="jpeg-rgb"),
    pytest.param((4, 512, 512), "uint8", "webp", id="webp-rgba"),
    pytest.param((2, 600, 520), "uint16", "zstd", id="bands-ragged"),
]


@pytest.mark.parametrize(("shape", "dtype", "codec"), COG_CASES)
def test_every_tile_is_a_valid_cloud_optimized_geotiff(shape, dtype, codec, vrt_path):
    array = make_raster(shape, dtype, chunks=512)
    array.tiles.to_vrt(vrt_path, codec=codec, overviews=[2, 4, 8], resampling="average")
    for path in tile_files(vrt_path):
        valid, errors, warnings_ = cog_validate(path, strict=True, quiet=True)
        assert valid, (path.name, errors, warnings_)
        with rasterio.open(path) as tile:
            assert tile.overviews(1) == [2, 4, 8]
            assert tile.crs == array.rio.crs
    if codec not in ("jpeg", "webp"):
        np.testing.assert_array_equal(read_with_gdal(vrt_path).values, array.values.reshape(
            (-1, *shape[-2:])))


def test_the_ifds_come_first_and_the_smallest_level_s_data_first(vrt_path):
    """The layout rio-cogeo checks, seen with tifffile: IFDs ascending before any data,
    data of the pages in reverse order."""
    make_raster((512, 512), chunks=512).tiles.to_vrt(vrt_path, overviews=[2, 4, 8])
    (path,) = tile_files(vrt_path)
    with tifffile.TiffFile(path) as tiff:
        pages = list(tiff.pages)
        ifds = [page.offset for page in pages]
        data = [(min(page.dataoffsets), max(page.dataoffsets)) for page in pages]
        assert [page.shape for page in pages] == [(512, 512), (256, 256), (128, 128), (64, 64)]
        assert [page.subfiletype for page in pages] == [0, 1, 1, 1]
    assert ifds == sorted(ifds)
    assert ifds[0] < 300
    assert max(ifds) < min(start for start, _ in data)
    for smaller, larger in zip(data[::-1], data[-2::-1], strict=False):
        assert smaller[1] < larger[0]


def test_a_bigtiff_with_overviews_is_laid_out_cloud_optimized(tmp_path):
    """Tiles past 4 GiB are BigTIFF (tifffile's rule); the layout is the same. A small
    BigTIFF stands in for one."""
    geotags = geotiff_tags(None, Affine.identity(), None, np.dtype("uint16"))
    levels = [synthetic_values((64 // f, 48 // f), "uint16", seed=f) for f in (1, 2, 4)]
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer, bigtiff=True) as writer:
        for index, level in enumerate(levels):
            writer.write(level, tile=(16, 16), compression="zstd", metadata=None,
                         subfiletype=1 if index else 0)
    path = tmp_path / "big.tif"
    path.write_bytes(cloud_optimized(buffer.getvalue(), geotags))
    with tifffile.TiffFile(path) as tiff:
        assert tiff.is_bigtiff
        for page, level in zip(tiff.pages, levels, strict=True):
            np.testing.assert_array_equal(page.asarray(), level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        assert cog_validate(path, strict=True, quiet=True)[0]
        with rasterio.open(path) as dataset:
            np.testing.assert_array_equal(dataset.read(1, out_shape=(16, 12)), levels[2])


@pytest.mark.parametrize(
    "merged_bytes",
    [pytest.param(0, id="mosaics-of-tile-levels"), pytest.param(2**20, id="merged-levels")],
)
def test_chunks_off_the_factor_warn_and_tiles_keep_their_own_levels(
    vrt_path, merged_bytes, monkeypatch
):
    """Tiles of 48 pixels: factors 2 to 16 stay exact; at 32 windows straddle tiles, and
    each tile's own level is placed on the whole raster's grid: by GDAL at fractional
    offsets in a mosaic VRT (resampled), or at the window a tile starts in for a merged
    level. That level covers the raster without gaps, and each tile alone still reads
    exactly its own downsample."""
    monkeypatch.setattr(xr_tiles.overviews, "MERGED_LEVEL_BYTES", merged_bytes)
    array = make_raster((96, 144), "float32", chunks=48)
    with pytest.warns(UserWarning, match=r"overview factors \[32\] do not divide .*\[48\]"):
        array.tiles.to_vrt(vrt_path, overviews=[2, 4, 8, 16, 32], resampling="average")
    values = array.values[np.newaxis]
    for factor in (2, 4, 8, 16):
        np.testing.assert_allclose(
            read_level(vrt_path, factor), downsample(values, factor, "average", None), rtol=1e-6
        )
    straddling = read_level(vrt_path, 32)
    assert straddling.shape == (1, 3, 5)
    assert np.isfinite(straddling).all()
    assert values.min() <= straddling.min()
    assert straddling.max() <= values.max()
    for path in tile_files(vrt_path):
        with rasterio.open(path) as tile:
            own = tile.read()
            np.testing.assert_allclose(
                tile.read(out_shape=(1, 2, 2)), downsample(own, 32, "average", None), rtol=1e-6
            )


def test_skipped_tiles_are_left_out_of_every_level(vrt_path, monkeypatch):
    monkeypatch.setattr(xr_tiles.overviews, "MERGED_LEVEL_BYTES", 32 * 32 * 2)  # the 1/4 level
    array = make_raster((128, 128), "int16", nodata=-1, chunks=64)
    values = array.values.copy()
    values[values == -1] = 0
    values[64:, :64] = -1  # one tile of nodata only
    array = array.copy(data=values).chunk(64)
    array.tiles.to_vrt(vrt_path, skip_empty=True, overviews=[2, 4], resampling="average")
    assert len(tile_files(vrt_path)) == 3
    level_vrt = tiles_folder(vrt_path) / "overviews" / "overview_2.vrt"
    assert len(ET.parse(level_vrt).getroot().findall(".//SimpleSource")) == 3
    assert (tiles_folder(vrt_path) / "overviews" / "overview_4.tif").exists()
    for factor in (2, 4):
        expected = downsample(values[np.newaxis], factor, "average", -1)
        np.testing.assert_array_equal(read_level(vrt_path, factor), expected)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_every_scheduler_writes_the_same_levels(scheduler, tmp_path):
    array = make_raster((3, 96, 128), "uint16", chunks=32, nodata=0)
    reference = tmp_path / "reference.vrt"
    array.tiles.to_vrt(reference, scheduler="synchronous", overviews=[2, 4], resampling="max")
    path = tmp_path / "out.vrt"
    array.tiles.to_vrt(path, scheduler=scheduler, overviews=[2, 4], resampling="max")
    for mine, theirs in zip(tile_files(path), tile_files(reference), strict=True):
        assert mine.read_bytes() == theirs.read_bytes()
    assert len(tile_files(path)) == 12
    np.testing.assert_array_equal(read_level(path, 4), downsample(array.values, 4, "max", 0))


def test_a_lazy_write_computes_the_levels(vrt_path):
    array = make_raster((128, 128), "float32", chunks=64)
    delayed = array.tiles.to_vrt(vrt_path, overviews=[2, 4], resampling="min", compute=False)
    assert not vrt_path.exists()
    delayed.compute()
    np.testing.assert_array_equal(
        read_level(vrt_path, 4), downsample(array.values[np.newaxis], 4, "min", None)
    )


def test_replacing_a_write_with_overviews_leaves_none_behind(vrt_path):
    array = make_raster((128, 128), "float32", chunks=64)
    array.tiles.to_vrt(vrt_path, overviews=[2, 4])
    array.tiles.to_vrt(vrt_path, mode="w")
    assert sorted(p.name for p in tiles_folder(vrt_path).iterdir()) == [
        "r0_c0.tif", "r0_c1.tif", "r1_c0.tif", "r1_c1.tif"
    ]
    with rasterio.open(vrt_path) as dataset:
        assert dataset.overviews(1) == []


@pytest.mark.parametrize(
    "merged_bytes",
    [pytest.param(0, id="mosaics-of-tile-levels"), pytest.param(2**20, id="merged-levels")],
)
def test_band_groups_of_a_dataset_each_get_their_levels(vrt_path, merged_bytes, monkeypatch):
    """Variables of different dtypes are separate files per block, and so per level."""
    monkeypatch.setattr(xr_tiles.overviews, "MERGED_LEVEL_BYTES", merged_bytes)
    dem = make_raster((96, 128), "float32", chunks=32, name="dem")
    classes = make_raster((96, 128), "uint8", chunks=32, name="classes", seed=4) % 5
    dataset = xr.Dataset({"dem": dem, "classes": classes})
    dataset.tiles.to_vrt(vrt_path, overviews=[2, 4], resampling="max")
    names = {p.name for p in (tiles_folder(vrt_path) / "overviews").iterdir()}
    if merged_bytes:
        assert {"overview_4_part1.tif", "overview_4_part2.tif"} <= names
    values = np.stack([dem.values, classes.values])
    with rasterio.open(vrt_path) as dataset_read:
        assert dataset_read.dtypes == ("float32", "uint8")
        for factor in (2, 4):
            shape = (96 // factor, 128 // factor)
            for band, expected in enumerate(values, 1):
                level = dataset_read.read(band, out_shape=shape)
                np.testing.assert_array_equal(
                    level, downsample(expected[np.newaxis], factor, "max", None)[0]
                )


@pytest.mark.parametrize("entry", ["accessor", "function"])
def test_the_chunk_warning_points_at_the_caller(entry, vrt_path):
    array = make_raster((96, 144), "float32", chunks=48)
    write = array.tiles.to_vrt if entry == "accessor" else functools.partial(
        xr_tiles.to_vrt, array
    )
    with pytest.warns(UserWarning, match="do not divide") as record:
        write(vrt_path, overviews=[32])
    (ours,) = [w for w in record if "do not divide" in str(w.message)]
    assert ours.filename == __file__


@pytest.mark.parametrize("resampling", ["AVERAGE", "Average", Resampling.average])
def test_resampling_is_named_as_gdal_and_rasterio_name_it(resampling, vrt_path):
    array = make_raster((64, 64), "int16", chunks=32)
    array.tiles.to_vrt(vrt_path, overviews=[2], resampling=resampling)
    np.testing.assert_array_equal(
        read_level(vrt_path, 2), downsample(array.values[np.newaxis], 2, "average", None)
    )
