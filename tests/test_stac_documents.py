"""The STAC documents of real mosaics: valid against the schemas offline, loaded back by
odc-stac exactly, relative, and located where their tiles are."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import odc.stac
import pyproj
import pystac
import pytest
import shapely
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from pystac.validation import validate_dict
from pystac.validation.stac_validator import JsonSchemaSTACValidator
from rasterio.crs import CRS

from conftest import make_raster, north_up, tile_folder
from xr_tiles import UnsupportedInputError
from xr_tiles.index import stac
from xr_tiles.options import parse_options
from xr_tiles.plan import TilePlan
from xr_tiles.source import Band, Raster, read_raster

pytestmark = pytest.mark.filterwarnings(
    # odc-geo 0.5 reprojects geometries with shapely.ops.transform, which shapely 2.1 deprecates.
    "ignore:The 'shapely.ops.transform\\(\\)' function is deprecated:DeprecationWarning",
)

# The extensions' schemas as published at their $id, for validation without a network.
SCHEMAS = pathlib.Path(__file__).parent / "data" / "stac_schemas"
WHEN = dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.UTC)
# A CRS no authority names: its items carry proj:wkt2.
LAEA = "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m"


@dataclass
class Published:
    """A mosaic written by xr_tiles, with its STAC documents written as a write would."""

    array: xr.DataArray | xr.Dataset
    raster: Raster
    plan: TilePlan
    collection_path: pathlib.Path
    item_paths: list[pathlib.Path]

    def documents(self) -> Iterator[tuple[pathlib.Path, dict[str, Any]]]:
        for path in [self.collection_path, *self.item_paths]:
            yield path, json.loads(path.read_bytes())


def publish(obj: xr.DataArray | xr.Dataset, tmp_path: pathlib.Path, *,
            datetime: stac.Time = WHEN) -> Published:
    """Write ``obj`` as ``m.vrt`` with the library; then each cell's item beside its
    tiles (with their real sizes) and the collection in ``m_stac/``."""
    vrt = obj.tiles.to_vrt(tmp_path / "m.vrt")
    folder = tile_folder(vrt)
    options = parse_options(
        codec="zstd", level=None, predictor=None, chunks=None, blocksize=256, nodata=None,
        crs=None, mode="w-", skip_empty=False, overviews=None, resampling="nearest",
    )
    raster = read_raster(obj, options)
    groups = len(raster.groups)
    plan = TilePlan(
        y_chunks=raster.y_chunks, x_chunks=raster.x_chunks, transform=raster.transform,
        folder="m_tiles",
        group_suffixes=("",) if groups == 1 else tuple(f"_part{g + 1}" for g in range(groups)),
    )
    template = stac.item_template(
        plan, raster.bands, raster.band_order, raster.crs, collection_id="m",
        collection_href=f"../../m_stac/{stac.COLLECTION_FILE}", datetime=datetime,
    )
    item_paths = []
    for tile in plan.tiles():
        names = [plan.filename(tile, group) for group in range(groups)]
        files = [(g, name, (folder / name).stat().st_size) for g, name in enumerate(names)]
        path = folder / stac.item_filename(plan, tile)
        path.write_bytes(template.json(tile, files))
        item_paths.append(path)
    collection_path = tmp_path / "m_stac" / stac.COLLECTION_FILE
    collection_path.parent.mkdir()
    hrefs = [os.path.relpath(path, collection_path.parent) for path in item_paths]
    collection_path.write_bytes(stac.collection_json(
        plan, raster.bands, raster.band_order, raster.crs, hrefs, collection_id="m",
        vrt_href="../m.vrt", datetime=datetime, title="m",
    ))
    return Published(obj, raster, plan, collection_path, item_paths)


def offline_validator() -> JsonSchemaSTACValidator:
    """pystac's validator, with the extensions' schemas from ``SCHEMAS`` beside the core
    ones that pystac ships."""
    validator = JsonSchemaSTACValidator()
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        validator.schema_cache[schema["$id"].removesuffix("#")] = schema
    return validator


def validate(document: dict[str, Any]) -> None:
    validator = offline_validator()
    missing = set(document.get("stac_extensions", ())) - set(validator.schema_cache)
    assert not missing, f"no schema at hand (validation would fetch it): {sorted(missing)}"
    validate_dict(document, validator=validator)


def float_bands(shape=(3, 50, 70), chunks=(16, 32)) -> xr.DataArray:
    """float32 with NaN for nodata, and some NaN pixels; ragged edge chunks."""
    array = make_raster(shape, "float32", chunks=chunks, nodata=float("nan"))
    values = array.values.copy()
    values[..., 3:9, 40:47] = np.nan
    return array.copy(data=values).chunk({"y": chunks[0], "x": chunks[1]})


def two_groups() -> xr.Dataset:
    """A float variable and a uint8 one: one file per band group and cell."""
    elevation = make_raster((50, 70), "float32", chunks=(16, 32), nodata=float("nan"))
    mask = make_raster((50, 70), "uint8", chunks=(16, 32), nodata=255, name="mask", seed=1)
    return xr.Dataset({"elevation": elevation, "mask": mask})


MOSAICS = [
    pytest.param(float_bands, id="utm-3-bands-float32-nan-ragged"),
    pytest.param(lambda: make_raster((40, 56), "int16", chunks=(16, 16), nodata=-9999),
                 id="utm-1-band-int16"),
    pytest.param(two_groups, id="two-band-groups"),
    pytest.param(lambda: make_raster((2, 30, 40), "uint16", chunks=(16, 16), crs=LAEA),
                 id="crs-without-code"),
]


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("make", MOSAICS)
def test_every_document_is_valid_stac_offline(make, tmp_path):
    published = publish(make(), tmp_path)
    collection = pystac.Collection.from_file(str(published.collection_path))
    items = list(collection.get_items(recursive=True))
    assert sorted(item.id for item in items) == sorted(
        stac.item_id("m", published.plan, tile) for tile in published.plan.tiles()
    )
    validator = offline_validator()
    for stac_object in [collection, *items]:
        stac_object.validate(validator=validator)
    for _, document in published.documents():
        validate(document)


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    """An item and the collection of a mosaic of three float bands."""
    published = publish(float_bands(), tmp_path_factory.mktemp("mosaic"))
    item = json.loads(published.item_paths[0].read_bytes())
    return item, json.loads(published.collection_path.read_bytes())


def without(*path: str) -> Any:
    def damage(document: dict[str, Any]) -> None:
        *parents, last = path
        for key in parents:
            document = document[key]
        del document[last]
    return damage


def setting(value: Any, *path: str | int) -> Any:
    def damage(document: Any) -> None:
        *parents, last = path
        for key in parents:
            document = document[key]
        document[last] = value
    return damage


@pytest.mark.parametrize("damage", [
    pytest.param(without("properties", "datetime"), id="no-datetime"),
    pytest.param(without("bbox"), id="no-bbox"),
    pytest.param(without("geometry"), id="no-geometry"),
    pytest.param(without("collection"), id="collection-link-without-collection"),
    pytest.param(setting([16], "properties", "proj:shape"), id="proj-shape-of-one-number"),
    pytest.param(setting(32633, "properties", "proj:code"), id="proj-code-a-number"),
    pytest.param(setting("float", "assets", "data", "raster:bands", 0, "data_type"),
                 id="unknown-raster-data-type"),
    pytest.param(setting(-1, "assets", "data", "file:size"), id="negative-file-size"),
    pytest.param(setting([], "assets", "data", "eo:bands"), id="no-eo-bands"),
])
def test_validation_sees_a_broken_item(documents, damage):
    """The schemas the tests validate with catch what STAC and the extensions require,
    so that passing means something."""
    item = json.loads(json.dumps(documents[0]))
    validate(item)
    damage(item)
    with pytest.raises(pystac.STACValidationError):
        validate(item)


@pytest.mark.parametrize("field", ["extent", "license", "description", "links"])
def test_validation_sees_a_broken_collection(documents, field):
    collection = dict(documents[1])
    validate(collection)
    del collection[field]
    with pytest.raises(pystac.STACValidationError):
        validate(collection)


def test_fields_say_what_the_tiles_are(tmp_path):
    published = publish(float_bands(), tmp_path)
    item = json.loads(published.item_paths[-1].read_bytes())
    tile = list(published.plan.tiles())[-1]  # the ragged corner: 2 x 6 pixels
    assert item["id"] == "m-r3_c2"
    assert item["properties"]["proj:code"] == "EPSG:32633"
    assert item["properties"]["proj:shape"] == [2, 6]
    assert item["properties"]["proj:transform"] == list(published.plan.tile_transform(tile))[:6]
    assert item["properties"]["datetime"] == "2024-05-01T10:30:00Z"
    asset = item["assets"]["data"]
    assert asset["file:size"] == (published.item_paths[-1].parent / "r3_c2.tif").stat().st_size
    assert asset["raster:bands"] == [{"data_type": "float32", "nodata": "nan"}] * 3
    assert [band["name"] for band in asset["eo:bands"]] == ["b0", "b1", "b2"]
    assert asset["type"] == pystac.MediaType.COG
    assert asset["roles"] == ["data"]


def test_a_datetime_interval(tmp_path):
    start, end = dt.datetime(2024, 1, 1), dt.datetime(2024, 12, 31, 23, 59, 59)
    published = publish(float_bands(), tmp_path, datetime=(start, end))
    for _, document in published.documents():
        validate(document)
    properties = json.loads(published.item_paths[0].read_bytes())["properties"]
    assert properties["datetime"] is None
    assert (properties["start_datetime"], properties["end_datetime"]) == (
        "2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z")
    collection = json.loads(published.collection_path.read_bytes())
    assert collection["extent"]["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"]]


def test_a_crs_without_a_code_is_given_as_wkt2_and_a_band_without_a_name_by_number():
    laea = CRS.from_proj4(LAEA)
    plan = TilePlan(y_chunks=(4,), x_chunks=(4,), transform=Affine(30, 0, 4_321_000, 0, -30,
                    3_210_000), folder="m_tiles")
    band = Band(dtype=np.dtype("uint8"), nodata=0)
    item = json.loads(stac.item_json(
        plan, next(plan.tiles()), [(0, "r0_c0.tif", 1)], [band], [(0, 0)], laea,
        collection_id="m", collection_href="c.json", datetime=WHEN,
    ))
    validate(item)
    assert item["properties"]["proj:code"] is None
    assert CRS.from_wkt(item["properties"]["proj:wkt2"]) == laea
    assert item["assets"]["band_1"]["eo:bands"] == [{"name": "band_1"}]
    assert item["assets"]["band_1"]["raster:bands"] == [{"data_type": "uint8", "nodata": 0}]


def test_no_crs_is_refused():
    plan = TilePlan(y_chunks=(4,), x_chunks=(4,), transform=Affine.identity(), folder="m_tiles")
    band = Band(dtype=np.dtype("uint8"), nodata=None)
    with pytest.raises(UnsupportedInputError, match="no CRS"):
        stac.item_json(plan, next(plan.tiles()), [(0, "r0_c0.tif", 1)], [band], [(0, 0)], None,
                       collection_id="m", collection_href="c.json", datetime=WHEN)
    with pytest.raises(UnsupportedInputError, match="no CRS"):
        stac.collection_json(plan, [band], [(0, 0)], None, [], collection_id="m",
                             vrt_href="../m.vrt", datetime=WHEN)


# --------------------------------------------------------------------------- odc-stac


@pytest.mark.parametrize("make", MOSAICS)
def test_odc_stac_loads_the_input_back_on_the_items_grid(make, tmp_path):
    published = publish(make(), tmp_path)
    items = list(pystac.Collection.from_file(str(published.collection_path)).get_items(
        recursive=True))
    geobox = items_geobox(items)
    loaded = odc.stac.load(items, geobox=geobox)
    assert loaded.sizes["time"] == 1
    assert loaded.time.values[0] == np.datetime64(WHEN.replace(tzinfo=None))
    expected = expected_variables(published.array)
    assert list(loaded.data_vars) == list(expected)
    for name, values in expected.items():
        got = loaded[name].isel(time=0)
        assert got.dtype == values.dtype, name
        np.testing.assert_array_equal(got.values, values.values, err_msg=name)
        np.testing.assert_allclose(got.x.values, values.x.values, rtol=0, atol=1e-6)
        np.testing.assert_allclose(got.y.values, values.y.values, rtol=0, atol=1e-6)


def items_geobox(items: list[pystac.Item]) -> GeoBox:
    """The grid the items tile, from their proj fields alone: the first one's origin
    and pixel size, and their shapes; every item is a window of it."""
    grids = {item.id: stac_grid(item) for item in items}
    first = grids["m-r0_c0"]
    crs, transform = first.crs, first.affine
    height = sum(grid.shape.y for name, grid in grids.items() if name.endswith("_c0"))
    width = sum(grid.shape.x for name, grid in grids.items() if "-r0_" in name)
    geobox = GeoBox((height, width), transform, crs)
    for grid in grids.values():
        col, row = ~transform * (grid.affine.c, grid.affine.f)
        window = geobox[round(row):round(row) + grid.shape.y, round(col):round(col) + grid.shape.x]
        assert window == grid
    return geobox


def stac_grid(item: pystac.Item) -> GeoBox:
    properties = item.properties
    crs = properties.get("proj:code") or properties["proj:wkt2"]
    return GeoBox(tuple(properties["proj:shape"]), Affine(*properties["proj:transform"]), crs)


def expected_variables(obj: xr.DataArray | xr.Dataset) -> dict[str, xr.DataArray]:
    """The input's bands by the names STAC gives them, north up."""
    arrays = obj.data_vars.values() if isinstance(obj, xr.Dataset) else [obj]
    found = {}
    for array in arrays:
        array = north_up(array).compute()
        if array.ndim == 2:
            found[str(array.name)] = array
        else:
            for label in array.band.values:
                found[str(label)] = array.sel(band=label, drop=True)
    return found


# --------------------------------------------------------------------------- hrefs


def test_hrefs_are_relative_and_resolve(tmp_path):
    published = publish(two_groups(), tmp_path)
    targets = set()
    for path, document in published.documents():
        hrefs = [link["href"] for link in document["links"]]
        hrefs += [asset["href"] for asset in document.get("assets", {}).values()]
        assert "self" not in {link["rel"] for link in document["links"]}
        for href in hrefs:
            assert "://" not in href, (path, href)
            assert not href.startswith("/"), (path, href)
            target = pathlib.Path(os.path.normpath(path.parent / href))
            assert target.is_file(), (path, href)
            targets.add(target)
    folder = published.item_paths[0].parent
    assert targets == {
        published.collection_path, tmp_path / "m.vrt", *published.item_paths,
        *folder.glob("*.tif"),
    }


# --------------------------------------------------------------------------- footprints


def test_footprints_hold_their_tiles(tmp_path):
    published = publish(float_bands((2, 70, 90), (32, 32)), tmp_path)
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    extent = shapely.box(*json.loads(published.collection_path.read_bytes())[
        "extent"]["spatial"]["bbox"][0])
    for path in published.item_paths:
        item = json.loads(path.read_bytes())
        transform = Affine(*item["properties"]["proj:transform"])
        height, width = item["properties"]["proj:shape"]
        geometry = shapely.geometry.shape(item["geometry"])
        centre = shapely.Point(to_lonlat.transform(*(transform * (width / 2, height / 2))))
        assert geometry.contains(centre), path.name
        assert shapely.box(*item["bbox"]).covers(geometry)
        assert extent.covers(geometry)
        assert geometry.is_valid
    assert geometry.exterior.is_ccw


FOOTPRINTS = [
    pytest.param(Affine(30, 0, 300_000, 0, -30, 4_500_000), 256, 256, "EPSG:32633",
                 "Polygon", id="utm-tile"),
    pytest.param(Affine(1000, 0, 200_000, 0, -1000, 6_000_000), 600, 600, "EPSG:32633",
                 "Polygon", id="utm-600-km"),
    pytest.param(Affine(1000, 0, 800_000, 0, -1000, 1_000_000), 100, 100, "EPSG:32660",
                 "MultiPolygon", id="across-the-antimeridian"),
    pytest.param(Affine(0.5, 0, 170, 0, -0.5, 10), 20, 40, "EPSG:4326", "MultiPolygon",
                 id="longitudes-past-180"),
    pytest.param(Affine(10_000, 0, -500_000, 0, -10_000, 500_000), 100, 100, "EPSG:3031",
                 "Polygon", id="around-the-south-pole"),
    pytest.param(Affine(10_000, 0, -300_000, 0, -10_000, 700_000), 100, 100, "EPSG:3413",
                 "Polygon", id="around-the-north-pole"),
    pytest.param(Affine(0.25, 0, -180, 0, -0.25, 90), 720, 1440, "EPSG:4326", "Polygon",
                 id="the-globe"),
    pytest.param(Affine(0.25, 0, 0, 0, -0.25, 90), 720, 1440, "EPSG:4326", "Polygon",
                 id="the-globe-on-0-360"),
]


@pytest.mark.parametrize(("transform", "height", "width", "crs", "kind"), FOOTPRINTS)
def test_footprint_holds_every_pixel(transform, height, width, crs, kind):
    """Pixel centres, transformed apart from the footprint's own code, lie within it;
    and it is a valid counterclockwise GeoJSON geometry within its bbox."""
    geometry, bbox = stac.footprint(transform, height, width, CRS.from_user_input(crs))
    assert geometry["type"] == kind
    shape = shapely.geometry.shape(geometry)
    assert shape.is_valid
    polygons = getattr(shape, "geoms", [shape])
    assert all(polygon.exterior.is_ccw for polygon in polygons)
    rows, cols = np.meshgrid(np.linspace(0.5, height - 0.5, 25), np.linspace(0.5, width - 0.5, 25))
    xs, ys = transform * (cols.ravel(), rows.ravel())
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    lon = (np.asarray(lon) + 180) % 360 - 180
    assert shapely.intersects_xy(shape, lon, lat).all()  # on the cut at 180 too
    west, south, east, north = bbox
    assert -180 <= min(west, east) <= max(west, east) <= 180
    assert -90 <= south < north <= 90
    # West past east: the bbox crosses the antimeridian (STAC item spec, bbox).
    inside_lon = (lon >= west) & (lon <= east) if west <= east else (lon >= west) | (lon <= east)
    assert inside_lon.all()
    assert ((lat >= south) & (lat <= north)).all()


def test_a_footprint_off_the_earth_is_refused():
    sinusoidal = CRS.from_proj4("+proj=sinu +R=6371007.181 +units=m")
    corner = Affine(926.625, 0, -20_015_109, 0, -926.625, 10_007_554)  # MODIS h00v00
    with pytest.raises(UnsupportedInputError, match="off the Earth"):
        stac.footprint(corner, 1200, 1200, sinusoidal)
    stac.footprint(Affine(926.625, 0, -1_111_950, 0, -926.625, 1_111_950), 1200, 1200, sinusoidal)


def test_a_tile_footprint_is_its_corners_where_edges_stay_straight():
    geometry, _ = stac.footprint(Affine(30, 0, 300_000, 0, -30, 4_500_000), 64, 64, "EPSG:32633")
    assert len(geometry["coordinates"][0]) == 5
