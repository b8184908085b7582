"""``index="gti"`` and ``stac=True`` through ``to_vrt``: GDAL's GTI driver reads
``<stem>.gti.gpkg`` as it reads the VRT (pixels, levels, georeferencing), flat or nested,
after region updates and on S3; the STAC Collection validates and odc-stac loads its
items back as the input; both follow the output through replacements, and what cannot
be indexed is refused before anything is written."""

from __future__ import annotations

import json
import os
import pathlib
import posixpath
import subprocess
import sys
import time

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from test_nested import assert_read_alike
from test_stac_documents import offline_validator

import xr_tiles
import xr_tiles.plan
from conftest import (
    assert_only_referenced,
    assert_store_only_referenced,
    make_raster,
    read_with_gdal,
    tree,
)

# GTI's layer metadata has no band descriptions (only its XML form has, which pyogrio
# cannot write): the README says so.
GTI_LACKS = ("descriptions",)


def gti(vrt: pathlib.Path) -> pathlib.Path:
    return vrt.with_name(f"{vrt.stem}.gti.gpkg")


def collection(vrt: pathlib.Path) -> pathlib.Path:
    return vrt.with_name(f"{vrt.stem}_stac") / "collection.json"


def grid_of(vrt: pathlib.Path) -> GeoBox:
    """The VRT's grid, as GDAL reads it."""
    with rasterio.open(vrt) as dataset:
        return GeoBox(dataset.shape, dataset.transform, dataset.crs)


def catalogued(vrt: pathlib.Path) -> set[pathlib.Path]:
    """What the output holds besides the VRT's files: the tile index, the collection, the
    items it links, and what the VRT's write staged."""
    found = {path for path in (gti(vrt), collection(vrt)) if path.exists()}
    if collection(vrt).exists():
        document = json.loads(collection(vrt).read_text())
        found |= {(collection(vrt).parent / link["href"]).resolve()
                  for link in document["links"] if link["rel"] == "item"}
    found |= set(vrt.with_name(f"{vrt.stem}_tiles").glob("*/staged/*"))
    return found


def assert_only_catalogued(vrt: pathlib.Path) -> None:
    assert_only_referenced(vrt, *catalogued(vrt))


@pytest.mark.parametrize(
    ("nested", "options"),
    [
        pytest.param(False, {}, id="flat"),
        pytest.param(True, {}, id="nested"),
        pytest.param(False, {"overviews": [2, 4], "resampling": "average"}, id="overviews"),
        pytest.param(True, {"skip_empty": True}, id="nested-holes"),
    ],
)
def test_the_tile_index_reads_as_the_vrt(nested, options, monkeypatch, tmp_path):
    if nested:
        monkeypatch.setattr(xr_tiles.plan, "NEST_ABOVE_TILES", 4)
        monkeypatch.setattr(xr_tiles.plan, "NEST_BLOCK", 2)
    array = make_raster((2, 150, 200), "float32", chunks=(40, 48), nodata=-9999.0)
    values = array.values.copy()
    values[:, :40, :48] = -9999.0  # a tile of nodata only
    array = array.copy(data=values).chunk({"y": 40, "x": 48})
    vrt = tmp_path / "dem.vrt"
    array.tiles.to_vrt(vrt, index="gti", **options)
    assert_read_alike(vrt, gti(vrt), skip=GTI_LACKS)
    with rasterio.open(gti(vrt)) as dataset:
        assert dataset.driver == "GTI"
    assert_only_catalogued(vrt)


def test_the_tile_index_follows_region_updates_and_replacements(tmp_path):
    vrt = tmp_path / "dem.vrt"
    old = make_raster((128, 192), "uint16", chunks=32, nodata=0, seed=0)
    new = make_raster((128, 192), "uint16", chunks=32, nodata=0, seed=1)
    old.tiles.to_vrt(vrt, index="gti", overviews=[2])
    region = {"y": slice(32, 96), "x": slice(64, 128)}
    new.isel(region).tiles.to_vrt(vrt, mode="r+", region=region, index="gti", overviews=[2])
    expected = old.values.copy()
    expected[32:96, 64:128] = new.values[32:96, 64:128]
    np.testing.assert_array_equal(read_with_gdal(gti(vrt)).bands[0], expected)
    assert_read_alike(vrt, gti(vrt), skip=GTI_LACKS)
    assert_only_catalogued(vrt)
    # A replacement without the index deletes it: it would name deleted tiles.
    new.tiles.to_vrt(vrt, mode="w")
    assert not gti(vrt).exists()
    assert_only_referenced(vrt)


def test_a_lazy_write_publishes_them_when_computed(tmp_path):
    vrt = tmp_path / "dem.vrt"
    array = make_raster((96, 128), "float32", chunks=32, nodata=np.nan)
    delayed = array.tiles.to_vrt(vrt, index="gti", stac=True, compute=False)
    assert not gti(vrt).exists()
    assert not collection(vrt).exists()
    assert delayed.compute() == vrt
    np.testing.assert_array_equal(read_with_gdal(gti(vrt)).bands[0], array.values)
    assert len(list(pystac.Collection.from_file(str(collection(vrt))).get_items())) == 12
    assert_only_catalogued(vrt)


def test_a_new_output_is_refused_where_a_tile_index_is_left(tmp_path):
    vrt = tmp_path / "dem.vrt"
    gti(vrt).write_bytes(b"not mine")
    before = tree(tmp_path)
    with pytest.raises(xr_tiles.OutputExistsError, match=r"dem\.gti\.gpkg is there already"):
        make_raster(chunks=32).tiles.to_vrt(vrt, index="gti")
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    ("make", "options", "match"),
    [
        pytest.param(lambda: make_raster(chunks=32), {"index": "vrt"},
                     r"index must be None or 'gti', got 'vrt'", id="unknown-index"),
        pytest.param(lambda: xr.Dataset({"a": make_raster(chunks=32),
                                         "b": make_raster(dtype="uint8", chunks=32)}),
                     {"index": "gti"}, r"index='gti' needs every tile to hold every band",
                     id="two-dtypes"),
        pytest.param(lambda: make_raster(chunks=32, crs=None), {"index": "gti"},
                     r"index='gti' needs a CRS", id="gti-without-crs"),
        pytest.param(lambda: make_raster(chunks=32, crs=None), {"stac": True},
                     r"stac=True needs a CRS", id="stac-without-crs"),
        pytest.param(lambda: make_raster(chunks=32), {"stac": "yes"},
                     r"stac must be True or False", id="stac-not-a-flag"),
    ],
)
def test_what_cannot_be_catalogued_is_refused_before_any_io(make, options, match, tmp_path):
    with pytest.raises(xr_tiles.InvalidOptionError, match=match):
        make().tiles.to_vrt(tmp_path / "out" / "dem.vrt", **options)
    assert not (tmp_path / "out").exists()


def test_a_gdal_without_the_gti_driver_is_refused_before_any_io(tmp_path):
    """GDAL_SKIP unregisters the driver, as a GDAL built without it lacks it."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import xr_tiles\n"
        "from conftest import make_raster\n"
        "make_raster(chunks=32).tiles.to_vrt(sys.argv[2], index='gti')\n"
    )
    out = tmp_path / "out" / "dem.vrt"
    done = subprocess.run(
        [sys.executable, "-c", script, str(pathlib.Path(__file__).parents[1]), str(out)],
        capture_output=True, text=True, env={**os.environ, "GDAL_SKIP": "GTI"}, check=False,
    )
    assert done.returncode == 1
    assert "InvalidOptionError: index='gti' needs GDAL's GTI driver" in done.stderr
    assert not out.parent.exists()


# --------------------------------------------------------------------------- STAC


def test_the_collection_validates_and_loads_back_as_the_input(tmp_path):
    array = make_raster((3, 100, 150), "int16", chunks=(32, 48), nodata=-1)
    vrt = tmp_path / "dem.vrt"
    array.tiles.to_vrt(vrt, stac=True, index="gti")
    loaded = pystac.Collection.from_file(str(collection(vrt)))
    validator = offline_validator()
    loaded.validate(validator=validator)
    items = list(loaded.get_items())
    assert len(items) == 4 * 4
    for item in items:
        item.validate(validator=validator)
    assert {asset.href for asset in loaded.assets.values()} >= {"../dem.vrt"}

    import odc.stac

    data = odc.stac.load(items, geobox=grid_of(vrt))
    assert list(data.data_vars) == ["b0", "b1", "b2"]
    for index, name in enumerate(data.data_vars):
        np.testing.assert_array_equal(data[name].isel(time=0).values, array.values[index])
    assert_only_catalogued(vrt)


def test_a_region_update_keeps_the_items_of_the_tiles_it_keeps(tmp_path):
    vrt = tmp_path / "dem.vrt"
    old = make_raster((96, 128), "uint8", chunks=32, seed=0)
    new = make_raster((96, 128), "uint8", chunks=32, seed=1)
    old.tiles.to_vrt(vrt, stac=True)
    (first,) = {p.parent for p in vrt.with_name("dem_tiles").glob("*/*.json")}
    before = {p.name: p.read_bytes() for p in first.glob("*.json")}
    region = {"y": slice(32, 64), "x": slice(0, 64)}
    time.sleep(1.1)  # a second later: the data has no time, and the mosaic's stays
    new.isel(region).tiles.to_vrt(vrt, mode="r+", region=region, stac=True)

    items = list(pystac.Collection.from_file(str(collection(vrt))).get_items())
    assert len(items) == 12
    paths = [pathlib.Path(item.get_self_href()) for item in items]
    assert {path.name for path in paths if path.parent != first} == {"r1_c0.json", "r1_c1.json"}
    assert all(path.read_bytes() == before[path.name] for path in paths if path.parent == first)
    assert len({item.datetime for item in items}) == 1  # one time slice, not one a write
    import odc.stac

    data = odc.stac.load(items, geobox=grid_of(vrt))
    assert data.sizes["time"] == 1
    expected = old.values.copy()
    expected[32:64, 0:64] = new.values[32:64, 0:64]
    np.testing.assert_array_equal(data["elevation"].isel(time=0).values, expected)
    assert_only_catalogued(vrt)
    # Without stac=True, a replacement deletes the collection and the items.
    old.tiles.to_vrt(vrt, mode="w")
    assert not collection(vrt).parent.exists()
    assert_only_referenced(vrt)


def test_items_of_data_with_times_span_them_in_the_collection(tmp_path):
    vrt = tmp_path / "t2m.vrt"
    first = make_raster((64, 96), "float32", chunks=32).assign_coords(
        time=np.datetime64("2020-01-01"))
    later = first.assign_coords(time=np.datetime64("2024-06-01")) + 1
    first.tiles.to_vrt(vrt, stac=True)
    region = {"y": slice(0, 32), "x": slice(0, 32)}
    later.isel(region).tiles.to_vrt(vrt, mode="r+", region=region, stac=True)
    loaded = pystac.Collection.from_file(str(collection(vrt)))
    interval = loaded.extent.temporal.intervals[0]
    assert [t.isoformat() for t in interval] == ["2020-01-01T00:00:00+00:00",
                                                 "2024-06-01T00:00:00+00:00"]
    times = sorted(item.datetime.year for item in loaded.get_items())
    assert times == [2020] * 5 + [2024]


def test_a_mosaic_of_an_earlier_version_takes_region_updates_and_resumes(tmp_path):
    """Its record lacks the options added since (index, stac): they are their defaults."""
    vrt = tmp_path / "dem.vrt"
    old = make_raster((64, 96), "uint16", chunks=32, nodata=0)
    old.tiles.to_vrt(vrt)
    text = vrt.read_text()
    earlier = text.replace('&quot;index&quot;: null, ', "").replace(', &quot;stac&quot;: false', "")
    earlier = earlier.replace('"index": null, ', "").replace(', "stac": false', "")
    assert earlier != text
    assert "stac" not in earlier
    vrt.write_text(earlier)
    old.tiles.to_vrt(vrt, mode="w-", resume=True)  # the same write: only tidied
    assert vrt.read_text() == earlier
    region = {"y": slice(0, 32), "x": slice(0, 32)}
    (old + 1).isel(region).tiles.to_vrt(vrt, mode="r+", region=region)
    assert read_with_gdal(vrt).bands[0][0, 0] == old.values[0, 0] + 1


# --------------------------------------------------------------------------- S3


def test_on_s3_the_tile_index_and_collection_follow_the_vrt(bucket, monkeypatch):
    monkeypatch.setattr(xr_tiles.plan, "NEST_ABOVE_TILES", 4)
    monkeypatch.setattr(xr_tiles.plan, "NEST_BLOCK", 2)
    name, options, fs = bucket
    url = f"s3://{name}/dem/dem.vrt"
    old = make_raster((128, 192), "uint16", chunks=32, nodata=0, seed=0)
    new = make_raster((128, 192), "uint16", chunks=32, nodata=0, seed=1)
    catalogues = {"index": "gti", "stac": True, "overviews": [2], "storage_options": options}
    old.tiles.to_vrt(url, **catalogues)
    region = {"y": slice(32, 96), "x": slice(64, 128)}
    new.isel(region).tiles.to_vrt(url, mode="r+", region=region, **catalogues)

    vrt = xr_tiles.gdal_path(url)
    assert_read_alike(vrt, vrt.replace(".vrt", ".gti.gpkg"), skip=GTI_LACKS)
    expected = old.values.copy()
    expected[32:96, 64:128] = new.values[32:96, 64:128]
    np.testing.assert_array_equal(read_with_gdal(vrt).bands[0], expected)
    fs.invalidate_cache()
    document = json.loads(fs.cat_file(f"{name}/dem/dem_stac/collection.json"))
    links = [link["href"] for link in document["links"] if link["rel"] == "item"]
    assert len(links) == 24
    for href in links:
        key = posixpath.normpath(f"{name}/dem/dem_stac/{href}")
        item = json.loads(fs.cat_file(key))
        (asset,) = item["assets"].values()
        tile = posixpath.normpath(posixpath.join(posixpath.dirname(key), asset["href"]))
        assert fs.size(tile) == asset["file:size"]

    old.tiles.to_vrt(url, mode="w", storage_options=options)
    fs.invalidate_cache()
    assert not fs.exists(f"{name}/dem/dem.gti.gpkg")
    assert not fs.exists(f"{name}/dem/dem_stac/collection.json")
    assert_store_only_referenced(fs, f"{name}/dem/dem.vrt")
