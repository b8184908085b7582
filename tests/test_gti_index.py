"""The GTI index of a mosaic xr_tiles wrote reads, through GDAL, exactly as its VRT does."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import rasterio
import xarray as xr

from conftest import make_raster, tile_folder
from xr_tiles.encode import TileSpec
from xr_tiles.geotags import GeoTags
from xr_tiles.index.gti import gti_index
from xr_tiles.plan import TilePlan
from xr_tiles.source import Band


def published(tmp_path: pathlib.Path, obj: xr.DataArray | xr.Dataset, **options) -> pathlib.Path:
    """Write ``obj`` as ``m.vrt`` and its GTI beside it as ``m.gti.gpkg``, from what the
    write left: its one write's folder, the tiles in it and its overview levels."""
    vrt = obj.tiles.to_vrt(tmp_path / "m.vrt", **options)
    folder = tile_folder(vrt)
    chunks = obj.chunksizes
    factors = tuple(options.get("overviews", ()))
    with rasterio.open(vrt) as mosaic:
        transform, crs = mosaic.transform, mosaic.crs
        bands = [
            Band(dtype=np.dtype(dtype), nodata=nodata, scale=scale, offset=offset,
                 unit=unit or None, metadata=mosaic.tags(number))
            for number, dtype, nodata, scale, offset, unit in zip(
                mosaic.indexes, mosaic.dtypes, mosaic.nodatavals, mosaic.scales,
                mosaic.offsets, mosaic.units, strict=True)
        ]
    plan = TilePlan(
        y_chunks=tuple(chunks["y"]), x_chunks=tuple(chunks["x"]), transform=transform,
        folder="m_tiles", overviews=factors,
        merged=tuple(f for f in factors if (folder / f"overviews/overview_{f}.tif").exists()),
    )
    spec = TileSpec(
        dtype=bands[0].dtype, band_count=len(bands), compression=None, compressionargs={},
        predictor=1, blocksize=256, nodata=bands[0].nodata, rgb=False, geotags=GeoTags((), None),
    )
    sources = [(t, folder.name) for t in plan.tiles() if (folder / plan.filename(t)).exists()]
    levels = [(f, plan.overview_path(f, 0, folder.name)) for f in factors]
    index = tmp_path / "m.gti.gpkg"
    index.write_bytes(gti_index(plan, bands, [spec], crs, sources, levels))
    return index


def assert_reads_as_vrt(index: os.PathLike[str] | str, vrt: os.PathLike[str] | str) -> None:
    with rasterio.open(index) as gti, rasterio.open(vrt) as mosaic:
        assert gti.driver == "GTI"
        assert (gti.width, gti.height, gti.count) == (mosaic.width, mosaic.height, mosaic.count)
        assert gti.transform == mosaic.transform
        assert gti.crs == mosaic.crs
        assert gti.dtypes == mosaic.dtypes
        assert repr(gti.nodatavals) == repr(mosaic.nodatavals)  # NaN too
        assert (gti.scales, gti.offsets, gti.units) == (mosaic.scales, mosaic.offsets, mosaic.units)
        assert [gti.tags(b) for b in gti.indexes] == [mosaic.tags(b) for b in mosaic.indexes]
        expected = mosaic.read()
        got = gti.read()
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("shape", "dtype", "chunks", "nodata"),
    [
        pytest.param((3, 70, 90), "int16", (32, 40), -9999, id="int16-3-bands-ragged"),
        pytest.param((50, 45), "float32", (16, 16), np.nan, id="float32-nan-ragged"),
        pytest.param((2, 40, 48), "uint8", (20, 16), None, id="uint8-no-nodata"),
        pytest.param((33, 31), "float64", (33, 31), -1e30, id="float64-one-tile"),
    ],
)
def test_gti_reads_as_the_vrt(tmp_path, shape, dtype, chunks, nodata):
    array = make_raster(shape, dtype, chunks=chunks, nodata=nodata)
    assert_reads_as_vrt(published(tmp_path, array), tmp_path / "m.vrt")


def test_band_scaling_units_and_metadata(tmp_path):
    first = make_raster((30, 40), "int16", chunks=(16, 16), nodata=-1, name=None)
    first.attrs.update(scale_factor=0.01, add_offset=-5.0, units="K", sensor="a", scale="x")
    second = make_raster((30, 40), "int16", chunks=(16, 16), nodata=-1, seed=1, name=None)
    second.attrs.update(scale_factor=0.5, units="mm", sensor="b")
    dataset = xr.Dataset({"t": first, "p": second})
    index = published(tmp_path, dataset)
    with rasterio.open(index) as gti:
        assert (gti.scales, gti.offsets, gti.units) == ((0.01, 0.5), (-5.0, 0.0), ("K", "mm"))
        assert gti.tags(2) == {"sensor": "b"}
    # A band's item named like GTI's own ("scale") is left out rather than read as scaling.
    with rasterio.open(tmp_path / "m.vrt") as mosaic:
        assert mosaic.tags(1) == {"sensor": "a", "scale": "x"}
    with rasterio.open(index) as gti:
        assert gti.tags(1) == {"sensor": "a"}


@pytest.mark.parametrize(
    ("dtype", "nodata"),
    [pytest.param("int16", -9999, id="int16"), pytest.param("float32", np.nan, id="float32-nan")],
)
def test_skipped_tiles_read_as_nodata(tmp_path, dtype, nodata):
    array = make_raster((48, 60), dtype, chunks=(16, 20), nodata=nodata)
    values = array.values.copy()
    empty = [(0, 1), (1, 0), (1, 1), (2, 2)]
    for row, col in empty:
        values[row * 16 : (row + 1) * 16, col * 20 : (col + 1) * 20] = nodata
    array = array.copy(data=values).chunk({"y": 16, "x": 20})
    index = published(tmp_path, array, skip_empty=True)

    assert pyogrio.read_info(index, layer="tiles")["features"] == 9 - len(empty)
    assert_reads_as_vrt(index, tmp_path / "m.vrt")
    with rasterio.open(index) as gti:
        hole = gti.read(1, window=((16, 32), (0, 20)))
    assert np.array_equal(hole, np.full((16, 20), nodata, dtype), equal_nan=True)


def test_overview_levels_are_the_written_ones(tmp_path, monkeypatch):
    # 256 px tiles: level 2 is a mosaic of the tiles' levels (a VRT), level 4 one GeoTIFF.
    array = make_raster((2, 300, 260), "int16", chunks=(256, 256), nodata=-9999)
    index = published(tmp_path, array, overviews=[2, 4], resampling="average")
    levels = tile_folder(tmp_path / "m.vrt") / "overviews"
    assert sorted(p.name for p in levels.iterdir()) == ["overview_2.vrt", "overview_4.tif"]
    # GDAL 3.10 would resolve an OVERVIEW_<i>_DATASET path against here, not the index.
    monkeypatch.chdir(tmp_path / "m_tiles")

    with rasterio.open(index) as gti, rasterio.open(tmp_path / "m.vrt") as mosaic:
        assert gti.overviews(1) == gti.overviews(2) == mosaic.overviews(1) == [2, 4]
        for name, factor in [("overview_2.vrt", 2), ("overview_4.tif", 4)]:
            with rasterio.open(levels / name) as level:
                pixels = level.read()
            decimated = gti.read(out_shape=pixels.shape)
            assert decimated.tobytes() == pixels.tobytes(), factor
            assert decimated.tobytes() == mosaic.read(out_shape=pixels.shape).tobytes()
    for number, name in enumerate(["overview_2.vrt", "overview_4.tif"]):
        with rasterio.open(index, overview_level=number) as gti, rasterio.open(levels / name) as level:
            assert (gti.shape, gti.transform) == (level.shape, level.transform)
            assert gti.read().tobytes() == level.read().tobytes()


def test_relative_locations_resolve_against_the_index(tmp_path, monkeypatch):
    array = make_raster((3, 40, 50), "uint16", chunks=(16, 16), nodata=0)
    index = published(tmp_path, array, overviews=[2])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert_reads_as_vrt(os.path.join("..", index.name), index.with_name("m.vrt"))
    assert_reads_as_vrt(index, index.with_name("m.vrt"))
    with rasterio.open(os.path.join("..", index.name)) as gti:
        assert gti.overviews(1) == [2]


def test_index_layout(tmp_path):
    array = make_raster((40, 50), "float32", chunks=(16, 32), nodata=np.nan)
    index = published(tmp_path, array, overviews=[2])
    folder = tile_folder(tmp_path / "m.vrt").name
    assert set(pyogrio.list_layers(index)[:, 0]) == {"tiles", "overview_2"}
    info = pyogrio.read_info(index, layer="tiles")
    assert info["geometry_type"] == "Polygon"
    assert info["capabilities"]["fast_spatial_filter"]  # the GeoPackage's R-tree
    assert info["dataset_metadata"] == {"TILE_INDEX_LAYER": "tiles"}
    metadata = info["layer_metadata"]
    assert {key: metadata[key] for key in ("XSIZE", "YSIZE", "BAND_COUNT", "DATA_TYPE", "NODATA")} == {
        "XSIZE": "50", "YSIZE": "40", "BAND_COUNT": "1", "DATA_TYPE": "Float32", "NODATA": "nan",
    }
    assert metadata["OVERVIEW_0_LAYER"] == "overview_2"

    _, _, geometry, fields = pyogrio.raw.read(index, layer="tiles")
    assert list(fields[0]) == [f"m_tiles/{folder}/r{r}_c{c}.tif" for r in range(3) for c in range(2)]
    for wkb, location in zip(geometry, fields[0], strict=True):
        ring = np.frombuffer(wkb, "<f8", offset=13).reshape(5, 2)
        with rasterio.open(tmp_path / location) as tile:
            left, bottom, right, top = tile.bounds
        assert (ring.min(axis=0).tolist(), ring.max(axis=0).tolist()) == (
            [left, bottom], [right, top]
        )
        assert ring[0].tolist() == ring[-1].tolist()


def test_without_crs(tmp_path):
    array = make_raster((20, 30), "int32", chunks=(8, 16), crs=None, nodata=-1)
    index = published(tmp_path, array)
    assert_reads_as_vrt(index, tmp_path / "m.vrt")
    with rasterio.open(index) as gti:
        assert gti.crs is None


def test_no_tiles_read_as_nodata(tmp_path):
    array = make_raster((20, 30), "int16", chunks=(8, 16), nodata=-7)
    index = published(tmp_path, array.where(array < -1e9, -7), skip_empty=True)
    assert pyogrio.read_info(index, layer="tiles")["features"] == 0
    assert_reads_as_vrt(index, tmp_path / "m.vrt")
    with rasterio.open(index) as gti:
        assert (gti.read() == -7).all()
