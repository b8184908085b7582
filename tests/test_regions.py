"""Region updates (``mode="r+"``) against GDAL: the read-back is the old raster with the
region replaced, every overview level is an independent downsample of the new whole
raster, only the region's tiles are written, and what does not fit is refused with the
directory byte for byte as it was."""

from __future__ import annotations

import re
import uuid
import warnings

import fsspec
import numpy as np
import pytest
import rasterio
import rasterio.shutil
import rioxarray
import xarray as xr

import xr_tiles
from conftest import (
    assert_only_referenced,
    downsample,
    expected_bands,
    make_raster,
    read_with_gdal,
    tree,
)

SHAPE = (200, 296)  # 64-pixel tiles: 4 x 5, the last row and column ragged
CHUNKS = 64
LEVELS = [2, 4, 8]


def mosaic(seed: int, dtype: str = "uint16", nodata: float = 0, bands: int | None = None,
           shape: tuple[int, int] = SHAPE) -> xr.DataArray:
    full = shape if bands is None else (bands, *shape)
    return make_raster(full, dtype, nodata=nodata, seed=seed, chunks=CHUNKS)


def region_of(array: xr.DataArray, y: slice, x: slice) -> xr.DataArray:
    return array.isel(y=y, x=x)


def with_region(old: xr.DataArray, new: xr.DataArray, y: slice, x: slice) -> np.ndarray:
    values = expected_bands(old).copy()
    values[:, y, x] = expected_bands(new)[:, y, x]
    return values


def sources(vrt) -> list[str]:
    return re.findall(r'<SourceFilename relativeToVRT="1">([^<]*)</SourceFilename>', vrt.read_text())


def tile_sources(vrt) -> dict[str, str]:
    """Each tile the VRT names (its file name) -> the write folder it is in."""
    found = {}
    for source in sources(vrt):
        parts = source.split("/")
        if parts[-1].startswith("r"):
            found[parts[-1]] = parts[1]
    return found


def assert_levels_are_downsamples(vrt, values: np.ndarray, resampling: str, nodata) -> None:
    with rasterio.open(vrt) as dataset:
        assert dataset.overviews(1) == LEVELS
    for index, factor in enumerate(LEVELS):
        with rasterio.open(vrt, OVERVIEW_LEVEL=index) as level:
            np.testing.assert_array_equal(
                level.read(), downsample(values, factor, resampling, nodata),
                err_msg=f"level 1/{factor}",
            )


REGIONS = [
    pytest.param(slice(64, 128), slice(128, 256), id="inside"),
    pytest.param(slice(128, 200), slice(192, 296), id="ragged-corner"),
    pytest.param(slice(0, 200), slice(0, 64), id="first-column"),
    pytest.param(slice(0, 200), slice(0, 296), id="everything"),
]


@pytest.mark.parametrize(("y", "x"), REGIONS)
@pytest.mark.parametrize("overviews", [None, LEVELS], ids=["no-overviews", "overviews"])
def test_a_region_update_rewrites_only_its_tiles(y, x, overviews, vrt_path):
    old, new = mosaic(0), mosaic(1)
    old.tiles.to_vrt(vrt_path, overviews=overviews, resampling="average")
    root = vrt_path.with_name("mosaic_tiles")
    before = {name: (root / folder / name).read_bytes()
              for name, folder in tile_sources(vrt_path).items()}
    old_folder = set(tile_sources(vrt_path).values())

    region_of(new, y, x).tiles.to_vrt(
        vrt_path, mode="r+", region={"y": y, "x": x}, overviews=overviews, resampling="average"
    )

    expected = with_region(old, new, y, x)
    back = read_with_gdal(vrt_path)
    np.testing.assert_array_equal(back.values, expected, strict=True)
    assert back.transform == old.rio.transform()
    assert back.nodatavals == (0.0,)
    # Only the region's tiles are in the new write's folder; the others stay where they
    # were, byte for byte.
    rows = range(y.start // CHUNKS, -(-y.stop // CHUNKS))
    cols = range(x.start // CHUNKS, -(-x.stop // CHUNKS))
    region_tiles = {f"r{row}_c{col}.tif" for row in rows for col in cols}
    placed = tile_sources(vrt_path)
    (new_folder,) = {placed[name] for name in region_tiles}
    assert new_folder not in old_folder
    written = {p.name for p in (vrt_path.with_name("mosaic_tiles") / new_folder).glob("*.tif")}
    assert written == region_tiles
    for name, folder in placed.items():
        if name not in region_tiles:
            assert folder in old_folder
            assert (vrt_path.with_name("mosaic_tiles") / folder / name).read_bytes() == before[name]
    if overviews:
        assert_levels_are_downsamples(vrt_path, expected, "average", 0)
    assert_only_referenced(vrt_path)


@pytest.mark.parametrize(
    ("dtype", "nodata", "resampling"),
    [
        pytest.param("float32", np.nan, "min", id="float32-nan-min"),
        pytest.param("int16", -1, "nearest", id="int16-nearest"),
        pytest.param("uint8", 255, "mode", id="uint8-mode"),
    ],
)
def test_levels_stay_exact_after_updates_of_several_regions(dtype, nodata, resampling, vrt_path):
    """Three writes' tiles in one mosaic; the whole-raster levels rebuilt each time from
    the last one, without reading the untouched tiles."""
    old = mosaic(0, dtype, nodata, bands=2)
    old.tiles.to_vrt(vrt_path, overviews=LEVELS, resampling=resampling)
    expected = expected_bands(old).copy()
    for seed, (y, x) in enumerate([(slice(0, 64), slice(64, 192)), (slice(64, 200), slice(128, 296))], 1):
        new = mosaic(seed, dtype, nodata, bands=2)
        region_of(new, y, x).tiles.to_vrt(vrt_path, mode="r+", region="auto",
                                          overviews=LEVELS, resampling=resampling)
        expected[:, y, x] = expected_bands(new)[:, y, x]
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected, strict=True)
    assert len(set(tile_sources(vrt_path).values())) == 3
    assert_levels_are_downsamples(vrt_path, expected, resampling, nodata)
    assert_only_referenced(vrt_path)


def test_region_auto_finds_the_region_from_the_coordinates(vrt_path, tmp_path):
    old, new = mosaic(0), mosaic(1)
    y, x = slice(64, 192), slice(192, 296)
    explicit = tmp_path / "explicit" / "mosaic.vrt"
    for path, region in ((vrt_path, "auto"), (explicit, {"y": y, "x": x})):
        old.tiles.to_vrt(path)
        region_of(new, y, x).tiles.to_vrt(path, mode="r+", region=region)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, read_with_gdal(explicit).values)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, with_region(old, new, y, x))


def test_a_region_of_empty_tiles_drops_them_and_their_levels(vrt_path):
    """With skip_empty, a tile the update makes nodata only is listed no more, and the
    whole-raster levels hold nodata there."""
    old = mosaic(0, "int16", -1)
    old.tiles.to_vrt(vrt_path, overviews=LEVELS, resampling="max", skip_empty=True)
    y, x = slice(0, 64), slice(0, 128)
    empty = region_of(old, y, x).copy(data=np.full((64, 128), -1, np.int16))
    empty.tiles.to_vrt(vrt_path, mode="r+", region="auto", overviews=LEVELS, resampling="max",
                       skip_empty=True)
    expected = expected_bands(old).copy()
    expected[:, y, x] = -1
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected)
    assert "r0_c0.tif" not in tile_sources(vrt_path)
    assert_levels_are_downsamples(vrt_path, expected, "max", -1)
    assert_only_referenced(vrt_path)


def test_a_dataset_of_two_band_groups_updates_both(vrt_path):
    def dataset(seed: int) -> xr.Dataset:
        height = mosaic(seed, "float32", -9999.0)
        classes = (height > 0).astype("uint8").rio.write_nodata(255, encoded=True)
        return xr.Dataset({"height": height, "class": classes})

    old, new = dataset(0), dataset(1)
    old.tiles.to_vrt(vrt_path, overviews=LEVELS, resampling="nearest")
    y, x = slice(64, 128), slice(0, 128)
    new.isel(y=y, x=x).tiles.to_vrt(vrt_path, mode="r+", region="auto", overviews=LEVELS)
    back = read_with_gdal(vrt_path)
    for band, name in enumerate(("height", "class")):
        expected = old[name].values.copy()
        expected[y, x] = new[name].values[y, x]
        np.testing.assert_array_equal(back.bands[band], expected)
    assert_only_referenced(vrt_path)


def test_a_lazy_region_update_writes_when_computed(vrt_path, tmp_path):
    old, new = mosaic(0), mosaic(1)
    old.tiles.to_vrt(vrt_path)
    before = tree(tmp_path)
    y, x = slice(0, 64), slice(0, 64)
    delayed = region_of(new, y, x).tiles.to_vrt(vrt_path, mode="r+", region="auto", compute=False)
    assert tree(tmp_path) == before
    assert delayed.compute() == vrt_path
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, with_region(old, new, y, x))
    assert_only_referenced(vrt_path)


def test_a_region_update_on_an_object_store(tmp_path):
    root = f"memory://{uuid.uuid4().hex}"
    old, new = mosaic(0), mosaic(1)
    y, x = slice(128, 200), slice(0, 128)
    old.tiles.to_vrt(f"{root}/mosaic.vrt", overviews=LEVELS, resampling="average")
    region_of(new, y, x).tiles.to_vrt(f"{root}/mosaic.vrt", mode="r+", region="auto",
                                      overviews=LEVELS, resampling="average")
    fs = fsspec.filesystem("memory")
    fs.get(f"{root}/", f"{tmp_path}/", recursive=True)
    expected = with_region(old, new, y, x)
    np.testing.assert_array_equal(read_with_gdal(tmp_path / "mosaic.vrt").values, expected)
    assert_levels_are_downsamples(tmp_path / "mosaic.vrt", expected, "average", 0)
    assert_only_referenced(tmp_path / "mosaic.vrt")
    fs.rm(root, recursive=True)


def test_a_region_update_on_s3_reads_back_through_vsis3(bucket):
    name, options, fs = bucket
    url = f"s3://{name}/dem/mosaic.vrt"
    old, new = mosaic(0), mosaic(1)
    y, x = slice(64, 128), slice(64, 192)
    old.tiles.to_vrt(url, storage_options=options, overviews=LEVELS)
    region_of(new, y, x).tiles.to_vrt(url, storage_options=options, mode="r+", region="auto",
                                      overviews=LEVELS)
    expected = with_region(old, new, y, x)
    path = xr_tiles.gdal_path(url)
    np.testing.assert_array_equal(read_with_gdal(path).values, expected)
    assert_levels_are_downsamples(path, expected, "nearest", 0)
    fs.invalidate_cache()
    assert len(fs.ls(f"{name}/dem/mosaic_tiles")) == 2  # the first write's, the update's


# --------------------------------------------------------------------------- refusals


@pytest.fixture
def existing(vrt_path, tmp_path):
    mosaic(0).tiles.to_vrt(vrt_path, overviews=LEVELS, resampling="average")
    return tree(tmp_path)


def data(y: slice, x: slice, **changes) -> xr.DataArray:
    return region_of(mosaic(1, **changes), y, x)


REFUSALS = [
    pytest.param(
        data(slice(32, 96), slice(0, 64)), {"region": {"y": slice(32, 96), "x": slice(0, 64)}},
        r"does not fall on tile boundaries.*aligned region around it is \{'y': slice\(0, 128\), "
        r"'x': slice\(0, 64\)\}", id="misaligned",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": {"y": slice(0, 64), "x": slice(0, 128)}},
        r"the data is 64 x 64 pixels \(y, x\), but the region .* is 64 x 128", id="shape",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": {"y": slice(64, 128), "x": slice(0, 64)}},
        r"coordinates do not put it at \{'y': slice\(64, 128\).*but at \{'y': slice\(0, 64\)",
        id="coordinates-elsewhere",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": {"lat": slice(0, 64)}},
        r"region names \['lat'\], but the data's spatial dims are 'y' and 'x'", id="dims",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64), dtype="int16"), {"region": "auto"},
        r"band 1 dtype: 'uint16' vs 'int16'", id="dtype",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64), nodata=7), {"region": "auto"},
        r"band 1 nodata: '0' vs '7'", id="nodata",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64), bands=2), {"region": "auto"},
        r"bands: 1 vs 2", id="band-count",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)).rio.write_crs("EPSG:4326"), {"region": "auto"},
        r"crs: EPSG:32633 vs EPSG:4326", id="crs",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": "auto", "codec": "deflate"},
        r"codec='deflate' \(the mosaic has codec='zstd'\); drop codec to keep the mosaic's", id="codec",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": "auto", "overviews": [2, 4]},
        r"overviews=\[2, 4\] \(the mosaic has overviews=\[2, 4, 8\]\)", id="overviews",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)), {"region": "auto", "blocksize": 512},
        r"blocksize=512 \(the mosaic has blocksize=256\)", id="blocksize",
    ),
    pytest.param(
        data(slice(0, 64), slice(0, 64)).assign_coords(x=lambda a: a.x + 10.0), {"region": "auto"},
        r"region='auto': the data starts 0\.333 columns .* between its pixels", id="off-grid",
    ),
]


@pytest.mark.parametrize(("array", "options", "match"), REFUSALS)
def test_data_that_does_not_fit_is_refused_naming_what_differs_and_touching_nothing(
    array, options, match, existing, vrt_path, tmp_path
):
    options = {"overviews": LEVELS, "resampling": "average", **options}
    with pytest.raises(xr_tiles.RegionMismatchError, match=match) as info:
        array.tiles.to_vrt(vrt_path, mode="r+", **options)
    assert tree(tmp_path) == existing
    assert isinstance(info.value, ValueError)


def test_r_plus_refuses_a_missing_vrt(vrt_path, tmp_path):
    with pytest.raises(xr_tiles.InvalidMosaicError, match="does not exist: write it first"):
        mosaic(0).tiles.to_vrt(vrt_path, mode="r+")
    assert tree(tmp_path) == {}


def test_r_plus_refuses_a_vrt_xr_tiles_did_not_write(vrt_path, tmp_path):
    vrt_path.parent.mkdir(parents=True)
    plain = vrt_path.with_name("plain.tif")
    mosaic(0).rio.to_raster(plain)
    rasterio.shutil.copy(plain, vrt_path, driver="VRT")  # GDAL's own VRT of it
    before = tree(tmp_path)
    with pytest.raises(xr_tiles.InvalidMosaicError, match="no xr_tiles metadata"):
        mosaic(1).tiles.to_vrt(vrt_path, mode="r+")
    assert tree(tmp_path) == before


def test_r_plus_refuses_a_mosaic_whose_tiles_are_missing(existing, vrt_path, tmp_path):
    (tile,) = list(vrt_path.parent.rglob("r1_c2.tif"))
    tile.unlink()
    before = tree(tmp_path)
    with pytest.raises(xr_tiles.InvalidMosaicError, match=r"missing .*r1_c2\.tif"):
        data(slice(0, 64), slice(0, 64)).tiles.to_vrt(vrt_path, mode="r+", region="auto",
                                                      overviews=LEVELS, resampling="average")
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    ("options", "match"),
    [
        pytest.param({"region": "auto"}, r"pass mode='r\+' with it", id="region-without-r+"),
        pytest.param({"mode": "r+", "chunks": 32}, "drop chunks", id="chunks-with-r+"),
        pytest.param({"mode": "r+", "region": {"y": slice(0, 64, 2)}}, "step 1|integer", id="step"),
        pytest.param({"mode": "r+", "region": {"y": (0, 64)}}, "dict of the spatial dims", id="tuple"),
        pytest.param({"mode": "r+", "region": "everything"}, "'auto' or a dict", id="string"),
    ],
)
def test_bad_region_options_are_refused_before_any_io(options, match, vrt_path, tmp_path):
    with pytest.raises(xr_tiles.InvalidOptionError, match=match):
        mosaic(0).tiles.to_vrt(vrt_path, **options)
    assert tree(tmp_path) == {}


def test_files_that_xr_tiles_did_not_name_stay_in_the_output_s_folders(vrt_path):
    """A GIS's sidecar beside a tile (GDAL's statistics, in ``.aux.xml``) and a user's
    file in a write's folder are not xr_tiles': a region update that replaces other tiles
    of that folder deletes those tiles only."""
    old, new = mosaic(0), mosaic(1)
    old.tiles.to_vrt(vrt_path)
    folder = vrt_path.with_name("mosaic_tiles") / tile_sources(vrt_path)["r0_c0.tif"]
    with rasterio.open(folder / "r0_c0.tif") as tile, warnings.catch_warnings():
        # GDALComputeRasterStatistics, whose results GDAL keeps in a sidecar on closing
        warnings.simplefilter("ignore", rasterio.errors.RasterioDeprecationWarning)
        tile.statistics(1, approx=False)
    sidecar, notes = folder / "r0_c0.tif.aux.xml", folder / "NOTES.txt"
    assert sidecar.exists()
    notes.write_text("checked by hand")

    y, x = slice(64, 128), slice(128, 256)
    region_of(new, y, x).tiles.to_vrt(vrt_path, mode="r+", region={"y": y, "x": x})

    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, with_region(old, new, y, x))
    assert not (folder / "r1_c2.tif").exists()  # replaced, and deleted
    assert notes.read_text() == "checked by hand"
    assert_only_referenced(vrt_path, sidecar, notes)


def test_a_region_update_takes_the_mosaic_s_own_options(vrt_path):
    """No option repeated: the codec, level, predictor, blocksize, overviews and
    resampling are the mosaic's, and GDAL reads every level exact."""
    old, new = mosaic(0), mosaic(1)
    y, x = slice(64, 128), slice(128, 256)
    old.tiles.to_vrt(vrt_path, codec="deflate", level=3, predictor=False, blocksize=32,
                     overviews=LEVELS, resampling="average")
    region_of(new, y, x).tiles.to_vrt(vrt_path, mode="r+", region="auto")
    values = with_region(old, new, y, x)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, values)
    assert_levels_are_downsamples(vrt_path, values, "average", 0)
    with rasterio.open(vrt_path.parent / f"{vrt_path.stem}_tiles" / tile_sources(vrt_path)[
            "r1_c2.tif"] / "r1_c2.tif") as tile:
        assert (tile.compression.name, tile.block_shapes[0]) == ("deflate", (32, 32))
        assert tile.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR", "1") == "1"


def test_options_given_as_the_mosaic_has_them_are_no_mismatch(vrt_path):
    old, new = mosaic(0), mosaic(1)
    old.tiles.to_vrt(vrt_path, overviews="auto", resampling="average")
    patch = region_of(new, slice(0, 64), slice(0, 64))
    patch.tiles.to_vrt(vrt_path, mode="r+", region="auto", overviews="auto", codec="ZSTD",
                       resampling="AVERAGE", blocksize=256, stac=False)
    values = with_region(old, new, slice(0, 64), slice(0, 64))
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, values)


def test_what_means_the_same_does_not_block_an_update_and_the_mosaic_keeps_its_bands(
    vrt_path, tmp_path
):
    """A patch read back from a GeoTIFF by rioxarray: scale 1 and offset 0 (none), its
    band named ``1`` and no description; the mosaic keeps its description and unit."""
    old = mosaic(0, dtype="float32", nodata=np.nan)
    old.attrs.update(long_name="elevation", units="m")
    old.tiles.to_vrt(vrt_path)
    patch_file = tmp_path / "patch.tif"
    region_of(mosaic(1, dtype="float32", nodata=np.nan), slice(0, 64), slice(64, 128)) \
        .rio.write_nodata(float("nan"), encoded=False).rio.to_raster(patch_file)
    patch = rioxarray.open_rasterio(patch_file)
    assert (patch.attrs["scale_factor"], patch.attrs["add_offset"]) == (1.0, 0.0)
    patch.tiles.to_vrt(vrt_path, mode="r+", region="auto")
    back = read_with_gdal(vrt_path)
    assert (back.descriptions, back.units) == (("elevation",), ("m",))
    with rasterio.open(patch_file) as source:
        np.testing.assert_array_equal(back.values[:, 0:64, 64:128], source.read())


def test_a_band_unit_given_differently_is_refused(existing, vrt_path, tmp_path):
    patch = data(slice(0, 64), slice(0, 64))
    patch.attrs["units"] = "ft"
    with pytest.raises(xr_tiles.RegionMismatchError, match=r"band 1 unit: None vs 'ft'"):
        patch.tiles.to_vrt(vrt_path, mode="r+", region="auto")
    assert tree(tmp_path) == existing
