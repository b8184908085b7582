"""Nested VRTs: above ``NEST_ABOVE_TILES`` tiles the VRT mosaics sub-VRTs of blocks of
tiles. GDAL must read a nested mosaic exactly as the flat one of the same data (pixels,
windows, levels, georeferencing, band properties), at tile counts around the threshold,
with ragged edges, several bands and band groups, overviews and skipped empty tiles; and
region updates must rewrite only the sub-VRTs of the blocks they touch."""

from __future__ import annotations

import itertools
import json
import pathlib
import re
import subprocess
import sys
from contextlib import nullcontext

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.windows import Window

import xr_tiles
import xr_tiles.overviews
import xr_tiles.plan
from conftest import assert_only_referenced, make_raster, read_with_gdal

BLOCK = 2  # tiles a side of a block, in these tests


@pytest.fixture
def nest(monkeypatch):
    """Nest above ``above`` tiles, in blocks of BLOCK x BLOCK tiles."""

    def nest_above(above: int) -> None:
        monkeypatch.setattr(xr_tiles.plan, "NEST_ABOVE_TILES", above)
        monkeypatch.setattr(xr_tiles.plan, "NEST_BLOCK", BLOCK)

    return nest_above


def sources(vrt: pathlib.Path) -> list[str]:
    return re.findall(r'<SourceFilename relativeToVRT="1">([^<]*)</SourceFilename>',
                      vrt.read_text())


def blocks(vrt: pathlib.Path) -> set[str]:
    """The sub-VRTs the VRT names (write folder/name)."""
    return {"/".join(s.split("/")[1:]) for s in sources(vrt) if "/index/" in s}


def written_both_ways(obj, tmp_path, nest, above: int, **options):
    """``obj`` written flat and nested; the two VRTs."""
    flat, nested = tmp_path / "flat" / "flat.vrt", tmp_path / "nested" / "nested.vrt"
    obj.tiles.to_vrt(flat, **options)
    nest(above)
    obj.tiles.to_vrt(nested, **options)
    return flat, nested


def assert_read_alike(
    flat: pathlib.Path, nested: pathlib.Path, skip: tuple[str, ...] = ()
) -> None:
    """Everything GDAL reports (but ``skip``), every pixel, windows across blocks and
    every level."""
    one, other = read_with_gdal(flat), read_with_gdal(nested)
    for name in ("transform", "crs", "nodatavals", "dtypes", "descriptions", "scales",
                 "offsets", "units"):
        if name in skip:
            continue
        np.testing.assert_equal(getattr(one, name), getattr(other, name), err_msg=name)
    for band, (a, b) in enumerate(zip(one.bands, other.bands, strict=True), 1):
        np.testing.assert_array_equal(a, b, err_msg=f"band {band}", strict=True)
    with rasterio.open(flat) as a, rasterio.open(nested) as b:
        assert (a.width, a.height, a.count) == (b.width, b.height, b.count)
        assert a.overviews(1) == b.overviews(1)
        windows = (Window(5, 7, 61, 45), Window(a.width - 30, a.height - 20, 30, 20))
        for band, window in itertools.product(a.indexes, windows):
            np.testing.assert_array_equal(a.read(band, window=window),
                                          b.read(band, window=window))
        for band, factor in itertools.product(a.indexes, a.overviews(1)):
            shape = (-(-a.height // factor), -(-a.width // factor))
            np.testing.assert_array_equal(a.read(band, out_shape=shape),
                                          b.read(band, out_shape=shape),
                                          err_msg=f"band {band}, level 1/{factor}")


@pytest.mark.parametrize(
    ("shape", "chunks", "above", "is_nested"),
    [
        pytest.param((96, 128), 32, 12, False, id="12-tiles-at-the-threshold"),
        pytest.param((96, 160), 32, 12, True, id="15-tiles-above-it"),
        pytest.param((100, 150), 32, 12, True, id="ragged-edges"),
        pytest.param((100, 150), (30, 64), 5, True, id="blocks-cut-by-the-edge"),
    ],
)
def test_a_nested_vrt_reads_as_the_flat_one(shape, chunks, above, is_nested, nest, tmp_path):
    array = make_raster((3, *shape), "int16", chunks=chunks, nodata=-1)
    flat, nested = written_both_ways(array, tmp_path, nest, above)
    assert not blocks(flat)
    assert bool(blocks(nested)) == is_nested
    assert_read_alike(flat, nested)
    assert_only_referenced(nested)
    if is_nested:
        # One sub-VRT a block of BLOCK x BLOCK tiles, the last cut by the raster's edge.
        rows, cols = (-(-len(c) // BLOCK) for c in array.chunks[1:])
        assert len(blocks(nested)) == rows * cols
        assert all(s.endswith(".vrt") for s in sources(nested))


def test_a_dataset_of_two_band_groups_nests_every_band(nest, tmp_path):
    elevation = make_raster((90, 130), "float32", chunks=32, nodata=np.nan, name="elevation")
    count = make_raster((90, 130), "uint8", chunks=32, nodata=255, name="count", seed=1)
    dataset = xr.Dataset({"elevation": elevation, "count": count})
    flat, nested = written_both_ways(dataset, tmp_path, nest, 4, overviews=[2, 4])
    assert blocks(nested)
    assert_read_alike(flat, nested)  # each band at 1/2 and 1/4 from its group's level
    assert read_with_gdal(nested).descriptions == ("elevation", "count")


def test_each_band_of_band_groups_reads_from_its_own_merged_levels(nest, tmp_path):
    # Band groups' small levels are files of their own. GDAL once read a nested VRT
    # dataset-wide, took the first band's overview file for every band, and failed:
    # "overview_2_part1.tif: RasterIO(): panBandMap[0] = 2, this band does not exist".
    rng = np.random.default_rng(5)
    big = make_raster((128, 192), "int64", chunks=32, name="big")
    big = big.copy(data=(2**62 + rng.integers(0, 1000, big.shape)).astype("int64"))
    dataset = xr.Dataset({
        "big": big.chunk(32),
        "elevation": make_raster((128, 192), "float32", chunks=32, name="elevation", seed=1),
        "slope": make_raster((128, 192), "float32", chunks=32, name="slope", seed=2),
    })
    nest(4)
    vrt = tmp_path / "groups.vrt"
    dataset.tiles.to_vrt(vrt, overviews=[2, 4])
    assert blocks(vrt)
    with rasterio.open(vrt) as src:
        for band, name in zip(src.indexes, ["big", "elevation", "slope"], strict=True):
            expected = dataset[name].values
            np.testing.assert_array_equal(src.read(band), expected)  # 64-bit exact
            for factor in (2, 4):
                shape = (128 // factor, 192 // factor)
                level = src.read(band, out_shape=shape)
                np.testing.assert_array_equal(
                    level, expected[factor // 2::factor, factor // 2::factor])


@pytest.mark.parametrize(
    ("chunks", "nested_levels"),
    [
        # Blocks of 2 x 2 tiles of 128 start on every level's pixels: each level nests.
        pytest.param(128, {2, 4}, id="aligned"),
        # Blocks start at multiples of 2 x 129 pixels: not on the level of 4's.
        pytest.param(129, {2}, id="level-of-4-flat"),
    ],
)
def test_overview_levels_nest_where_blocks_start_on_their_pixels(
    chunks, nested_levels, nest, monkeypatch, tmp_path
):
    # Levels of tiles over 16 x 16 pixels are mosaics of the tiles' levels, not merged.
    monkeypatch.setattr(xr_tiles.overviews, "MERGED_TILE_PIXELS", 16 * 16)
    array = make_raster((600, 650), "uint16", chunks=chunks, nodata=0)
    with pytest.warns(UserWarning, match="do not divide") if chunks % 4 else nullcontext():
        flat, nested = written_both_ways(array, tmp_path, nest, 4, overviews=[2, 4])
    assert_read_alike(flat, nested)
    folder = nested.with_name("nested_tiles")
    for factor in (2, 4):
        (level,) = folder.glob(f"*/overviews/overview_{factor}.vrt")
        names = sources(level)
        if factor in nested_levels:
            assert names
            assert all(re.search(rf"index/b\d+_\d+_overview_{factor}\.vrt$", n)
                                 for n in names)
        else:
            assert names
            assert all(n.endswith(".tif") for n in names)
    assert_only_referenced(nested)


def test_holes_of_skipped_tiles_and_whole_empty_blocks_read_as_nodata(nest, tmp_path):
    array = make_raster((128, 192), "float32", chunks=32, nodata=-9999.0)
    values = array.values.copy()
    values[:64, :64] = -9999.0  # block (0, 0) entirely empty
    values[64:96, 128:160] = -9999.0  # one tile of block (1, 2)
    array = array.copy(data=values).chunk(32)
    flat, nested = written_both_ways(array, tmp_path, nest, 4, skip_empty=True)
    names = blocks(nested)
    assert len(names) == 5
    assert not any(name.endswith("/index/b0_0.vrt") for name in names)
    assert_read_alike(flat, nested)
    np.testing.assert_array_equal(read_with_gdal(nested).bands[0], values)


# Tiles rows 2-3, cols 2-5 of a 6 x 8 tile mosaic: blocks (1, 1) and (1, 2) of its 3 x 4.
REGION = {"y": slice(64, 128), "x": slice(64, 192)}


def mosaic_of_blocks(vrt: pathlib.Path) -> tuple[xr.DataArray, xr.DataArray, set[str]]:
    """A nested mosaic written at ``vrt`` (blocks of BLOCK x BLOCK tiles), the data of a
    region update of it, and the mosaic's sub-VRTs."""
    old = make_raster((192, 256), "uint16", chunks=32, nodata=0, seed=0)
    new = make_raster((192, 256), "uint16", chunks=32, nodata=0, seed=1)
    old.tiles.to_vrt(vrt, overviews=[2])
    return old, new, blocks(vrt)


def assert_region_blocks_rewritten(
    vrt: pathlib.Path, before: set[str], old: xr.DataArray, new: xr.DataArray
) -> tuple[set[str], set[str], np.ndarray]:
    """Only REGION's blocks have new sub-VRTs, and GDAL reads ``new`` there; the
    sub-VRTs after, those that changed, and the pixels."""
    (first,) = {name.split("/")[0] for name in before}
    after = blocks(vrt)
    changed = {name for name in after if not name.startswith(first)}
    assert {name.split("/", 1)[1] for name in changed} == {"index/b1_1.vrt", "index/b1_2.vrt"}
    assert after - changed == before - {f"{first}/index/b1_1.vrt", f"{first}/index/b1_2.vrt"}
    expected = old.values.copy()
    expected[64:128, 64:192] = new.values[64:128, 64:192]
    np.testing.assert_array_equal(read_with_gdal(vrt).bands[0], expected)
    assert_only_referenced(vrt)
    return after, changed, expected


def test_a_region_update_rewrites_only_the_sub_vrts_of_its_blocks(nest, tmp_path):
    nest(4)
    vrt = tmp_path / "mosaic" / "mosaic.vrt"
    old, new, before = mosaic_of_blocks(vrt)
    new.isel(REGION).tiles.to_vrt(vrt, mode="r+", region=REGION, overviews=[2])
    after, changed, expected = assert_region_blocks_rewritten(vrt, before, old, new)

    # A second update inside one of the new blocks keeps the other: its tiles are the
    # first update's, listed by the sub-VRT the first update wrote.
    third = make_raster((192, 256), "uint16", chunks=32, nodata=0, seed=2)
    region = {"y": slice(64, 96), "x": slice(64, 96)}
    third.isel(region).tiles.to_vrt(vrt, mode="r+", region=region, overviews=[2])
    expected[64:96, 64:96] = third.values[64:96, 64:96]
    np.testing.assert_array_equal(read_with_gdal(vrt).bands[0], expected)
    last = blocks(vrt)
    assert len(last - after) == 1
    assert (after - last) == {
        name for name in changed if name.endswith("b1_1.vrt")}
    assert_only_referenced(vrt)
    nest(10**9)
    whole = tmp_path / "whole" / "flat.vrt"
    old.copy(data=expected).chunk(32).tiles.to_vrt(whole, overviews=[2])
    assert_read_alike(whole, vrt)
    nest(4)

    # A whole write replaces it all, and leaves only its own files.
    old.tiles.to_vrt(vrt, mode="w", overviews=[2])
    assert len({name.split("/")[0] for name in blocks(vrt)}) == 1
    assert_only_referenced(vrt)


class BlockFaultError(RuntimeError):
    """What the failing block of a region update raises."""


def test_a_resumed_region_update_rewrites_only_the_sub_vrts_of_its_blocks(nest, tmp_path):
    nest(4)
    vrt = tmp_path / "mosaic.vrt"
    old, new, before = mosaic_of_blocks(vrt)
    # The region's tile (3, 5) fails once.
    flag = tmp_path / "fault"
    flag.touch()

    def block(values: np.ndarray, block_info=None) -> np.ndarray:
        if block_info[0]["chunk-location"] == (1, 3) and flag.exists():
            raise BlockFaultError("a transient fault")
        return values

    part = new.isel(REGION)
    part = part.copy(data=part.data.map_blocks(block, dtype=part.dtype))
    with pytest.raises(BlockFaultError):
        part.tiles.to_vrt(vrt, mode="r+", region=REGION, overviews=[2],
                          scheduler="synchronous")
    assert blocks(vrt) == before  # the published mosaic is untouched
    flag.unlink()
    part.tiles.to_vrt(vrt, mode="r+", region=REGION, overviews=[2], resume=True)
    assert_region_blocks_rewritten(vrt, before, old, new)


def test_the_command_line_reports_and_validates_a_nested_mosaic(nest, tmp_path):
    nest(4)
    vrt = tmp_path / "mosaic.vrt"
    make_raster((96, 160), "uint8", chunks=32).tiles.to_vrt(vrt)
    info = cli("info", vrt, "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["tiles"]["written"] == 15
    valid = cli("validate", vrt)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    # A sub-VRT gone is reported.
    next(vrt.with_name("mosaic_tiles").glob("*/index/b1_1.vrt")).unlink()
    assert cli("validate", vrt).returncode == 1


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xr_tiles", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)
