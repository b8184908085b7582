"""skip_empty=True: tiles of nodata only are neither written nor listed; GDAL reads nodata there."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
import xarray as xr

from conftest import make_raster, read_with_gdal, tile_folder
from xr_tiles.errors import InvalidOptionError

CHUNKS = (16, 20)  # 64 x 80 raster: 4 x 4 tiles


def tiles_folder(vrt):
    return tile_folder(vrt)


def source_files(vrt) -> list[str]:
    root = ET.parse(vrt).getroot()
    return sorted({s.text for s in root.iter("SourceFilename")})  # type: ignore[misc]


def sparse_raster(dtype: str, nodata: float, empty: list[tuple[int, int]]) -> xr.DataArray:
    """A 4 x 4-tile raster whose tiles at ``empty`` (row, col) hold nodata only."""
    array = make_raster((64, 80), dtype, nodata=nodata, chunks=CHUNKS)
    values = array.values.copy()
    if not np.isnan(nodata):
        values[values == nodata] = 0  # no accidental nodata elsewhere
    for row, col in empty:
        values[row * 16 : (row + 1) * 16, col * 20 : (col + 1) * 20] = nodata
    return array.copy(data=values).chunk(dict(zip(("y", "x"), CHUNKS, strict=True)))


SEVENTY_PERCENT = [(r, c) for r in range(4) for c in range(4) if (r, c) not in
                   {(0, 0), (1, 2), (2, 1), (3, 3), (3, 0)}]


@pytest.mark.parametrize(
    ("dtype", "nodata"),
    [
        pytest.param("int16", -9999, id="int16"),
        pytest.param("uint8", 0, id="uint8-zero"),
        pytest.param("float32", np.nan, id="float32-nan"),
        pytest.param("float64", -1e30, id="float64-numeric"),
    ],
)
def test_empty_tiles_are_neither_written_nor_listed(dtype, nodata, vrt_path, caplog):
    array = sparse_raster(dtype, nodata, SEVENTY_PERCENT)
    with caplog.at_level(logging.INFO, logger="xr_tiles"):
        array.tiles.to_vrt(vrt_path, skip_empty=True)

    written = sorted(p.name for p in tiles_folder(vrt_path).iterdir())
    assert written == ["r0_c0.tif", "r1_c2.tif", "r2_c1.tif", "r3_c0.tif", "r3_c3.tif"]
    folder = tiles_folder(vrt_path)
    assert source_files(vrt_path) == [f"{vrt_path.stem}_tiles/{folder.name}/{name}" for name in written]
    back = read_with_gdal(vrt_path)
    assert back.values is not None
    assert back.values.shape == (1, 64, 80)  # the full extent
    assert back.transform == array.rio.transform(recalc=True)
    np.testing.assert_array_equal(back.values[0], array.values, strict=True)
    assert f"{vrt_path}: 11 of 16 tiles were empty and skipped" in caplog.messages


def test_nan_counts_as_nodata_when_nodata_is_a_number(vrt_path):
    array = sparse_raster("float32", -9999.0, [(0, 0)])
    values = array.values.copy()
    values[:8, :20] = np.nan  # tile (0, 0): half NaN, half nodata
    array.copy(data=values).chunk(dict(zip(("y", "x"), CHUNKS, strict=True))).tiles.to_vrt(
        vrt_path, skip_empty=True
    )
    assert not (tiles_folder(vrt_path) / "r0_c0.tif").exists()
    assert len(list(tiles_folder(vrt_path).iterdir())) == 15
    with rasterio.open(vrt_path) as back:
        assert (back.read(1)[:16, :20] == -9999.0).all()


def test_one_valid_pixel_keeps_a_tile(vrt_path):
    array = sparse_raster("int16", -9999, [(0, 0)])
    values = array.values.copy()
    values[15, 19] = 7
    array = array.copy(data=values).chunk(dict(zip(("y", "x"), CHUNKS, strict=True)))
    array.tiles.to_vrt(vrt_path, skip_empty=True)
    assert len(list(tiles_folder(vrt_path).iterdir())) == 16
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], values, strict=True)


def test_an_all_empty_raster_gives_a_vrt_of_nodata(vrt_path, caplog):
    array = sparse_raster("int16", -9999, [(r, c) for r in range(4) for c in range(4)])
    with caplog.at_level(logging.INFO, logger="xr_tiles"):
        array.tiles.to_vrt(vrt_path, skip_empty=True)
    assert list(tiles_folder(vrt_path).iterdir()) == []
    with rasterio.open(vrt_path) as back:
        assert back.nodata == -9999
        assert (back.read(1) == -9999).all()
    assert f"{vrt_path}: 16 of 16 tiles were empty and skipped" in caplog.messages


def test_without_skip_empty_empty_tiles_are_written(vrt_path, caplog):
    with caplog.at_level(logging.INFO, logger="xr_tiles"):
        sparse_raster("int16", -9999, SEVENTY_PERCENT).tiles.to_vrt(vrt_path)
    assert len(list(tiles_folder(vrt_path).iterdir())) == 16
    assert not caplog.messages


def test_band_groups_skip_their_own_empty_tiles(vrt_path):
    """Each band group's file is empty or not by its own nodata."""
    heights = sparse_raster("float32", np.nan, [(0, 0), (0, 1)])
    counts = sparse_raster("int16", -1, [(0, 1), (2, 2)])
    dataset = xr.Dataset({"height": heights, "count": counts})
    dataset.tiles.to_vrt(vrt_path, skip_empty=True)
    names = {p.name for p in tiles_folder(vrt_path).iterdir()}
    skipped = {"r0_c0_part1.tif", "r0_c1_part1.tif", "r0_c1_part2.tif", "r2_c2_part2.tif"}
    every = {f"r{r}_c{c}_part{g}.tif" for r in range(4) for c in range(4) for g in (1, 2)}
    assert names == every - skipped
    with rasterio.open(vrt_path) as back:
        np.testing.assert_array_equal(back.read(1), heights.values, strict=True)
        np.testing.assert_array_equal(back.read(2), counts.values, strict=True)


@pytest.mark.parametrize("scheduler", ["synchronous", "processes"])
def test_skipping_works_with_every_local_scheduler(scheduler, vrt_path):
    array = sparse_raster("uint16", 0, SEVENTY_PERCENT)
    array.tiles.to_vrt(vrt_path, skip_empty=True, scheduler=scheduler)
    assert len(list(tiles_folder(vrt_path).iterdir())) == 5
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values[0], array.values, strict=True)


def test_skip_empty_without_nodata_is_refused_before_anything_is_written(tmp_path):
    array = make_raster((64, 80), "int16", chunks=CHUNKS)
    vrt = tmp_path / "out" / "mosaic.vrt"
    with pytest.raises(InvalidOptionError, match=r"skip_empty=True needs a nodata value.*nodata="):
        array.tiles.to_vrt(vrt, skip_empty=True)
    assert not vrt.parent.exists()


def test_skip_empty_with_a_nodata_argument_is_accepted(vrt_path):
    array = make_raster((64, 80), "int16", chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, skip_empty=True, nodata=-32768)
    with rasterio.open(vrt_path) as back:
        assert back.nodata == -32768


@pytest.mark.parametrize("value", [1, "yes", None])
def test_skip_empty_must_be_a_bool(value, vrt_path):
    with pytest.raises(InvalidOptionError, match="skip_empty must be True or False"):
        make_raster(chunks=CHUNKS, nodata=0).tiles.to_vrt(vrt_path, skip_empty=value)
