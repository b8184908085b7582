"""Tiles written from a header template are the very bytes tifffile writes.

tifffile (its own ``imwrite``) is the oracle here; GDAL reads the same files back in the
round-trip tests.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import rasterio
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import from_bounds

from conftest import make_raster, synthetic_values, tile_folder
from xr_tiles.codecs import CODECS
from xr_tiles.encode import TileSpec, encode_tile, tile_template
from xr_tiles.geotags import geotiff_tags
from xr_tiles.overviews import overview_levels

PLAIN = ["none", "deflate", "zstd", "lzw", "lzma"]
NOT_PLAIN = ["packbits", "lerc", "jpeg", "webp"]
GRIDS = {
    "tiepoint": (Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 4_000_000.0), CRS.from_epsg(32633)),
    "rotated": (Affine(1.0, 0.5, 10.0, 0.2, -1.0, 20.0), None),
}


def tile_spec(codec: str, dtype: str, bands: int, predictor: int, grid: str) -> TileSpec:
    transform, crs = GRIDS[grid]
    nodata = -9999 if np.dtype(dtype).kind in "fi" else None
    return TileSpec(
        dtype=np.dtype(dtype), band_count=bands, compression=CODECS[codec].compression,
        compressionargs={}, predictor=predictor, blocksize=256, nodata=nodata, rgb=False,
        geotags=geotiff_tags(crs, transform, nodata, np.dtype(dtype)),
    )


CASES = [
    pytest.param(codec, dtype, predictor, id=f"{codec}-{dtype}-p{predictor}")
    for codec in PLAIN
    for dtype, predictors in (("uint8", (1, 2)), ("int16", (1, 2)), ("uint32", (1,)),
                              ("float32", (1, 3)), ("float64", (1, 3)))
    for predictor in predictors
    if codec != "none" or predictor == 1
]


@pytest.mark.parametrize(("codec", "dtype", "predictor"), CASES)
@pytest.mark.parametrize(
    ("bands", "shape"),
    [
        pytest.param(1, (256, 256), id="one-internal-tile"),
        pytest.param(3, (512, 300), id="bands-and-padded-edge-tiles"),
        pytest.param(1, (17, 40), id="smaller-than-a-tile"),
    ],
)
def test_template_tiles_are_the_bytes_tifffile_writes(codec, dtype, predictor, bands, shape):
    assert_written_like_tifffile(tile_spec(codec, dtype, bands, predictor, "tiepoint"), shape)


@pytest.mark.parametrize("grid", list(GRIDS))
def test_template_tiles_carry_their_own_origin(grid):
    assert_written_like_tifffile(tile_spec("deflate", "uint16", 2, 2, grid), (100, 70))


@pytest.mark.parametrize("codec", PLAIN)
@pytest.mark.parametrize(
    ("bands", "shape"),
    [pytest.param(1, (512, 512), id="square"), pytest.param(2, (300, 170), id="ragged-bands")],
)
def test_template_tiles_with_overviews_are_tifffile_s_pages_laid_out_cloud_optimized(
    codec, bands, shape
):
    """The oracle: tifffile writes every page, then only the layout changes."""
    spec = dataclasses.replace(
        tile_spec(codec, "float32", bands, 1, "tiepoint"), overviews=(2, 4, 8),
        resampling="average",
    )
    assert_written_like_tifffile(spec, shape)


def assert_written_like_tifffile(spec: TileSpec, shape: tuple[int, int]) -> None:
    template = tile_template(spec, *shape)
    assert template is not None
    block = synthetic_values((spec.band_count, *shape), spec.dtype, seed=3)
    transform = GRIDS["rotated"][0] * Affine.translation(512, 768)
    fast = encode_tile([block], spec, transform, template)
    assert fast == encode_tile([block], spec, transform)
    levels = [block, *overview_levels(block, spec.overviews, spec.resampling, spec.nodata)]
    with tifffile.TiffFile(io.BytesIO(fast)) as tiff:
        assert len(tiff.pages) == len(levels)
        for page, level in zip(tiff.pages, levels, strict=True):
            np.testing.assert_array_equal(page.asarray().reshape(level.shape), level, strict=True)


@pytest.mark.parametrize(
    "make_block",
    [
        pytest.param(lambda: np.broadcast_to(np.float64(7.5), (1, 64, 80)), id="broadcast"),
        pytest.param(lambda: synthetic_values((80, 64), "float64").T[np.newaxis], id="transposed"),
        pytest.param(lambda: synthetic_values((1, 128, 160), "float64")[:, ::2, ::2], id="strided"),
    ],
)
def test_blocks_that_are_views_encode_like_tifffile(make_block):
    spec = tile_spec("zstd", "float64", 1, 3, "tiepoint")
    block = make_block()
    template = tile_template(spec, *block.shape[-2:])
    assert encode_tile([block], spec, Affine.identity(), template) == encode_tile(
        [block], spec, Affine.identity()
    )


@pytest.mark.parametrize("codec", NOT_PLAIN)
def test_codecs_with_their_own_tile_layout_stay_with_tifffile(codec):
    dtype = "uint8"
    bands = 3 if codec in ("jpeg", "webp") else 1
    spec = tile_spec(codec, dtype, bands, 1, "tiepoint")
    assert tile_template(spec, 64, 64) is None


def test_written_tiles_are_what_tifffile_writes_for_their_block(vrt_path):
    array = make_raster((3, 300, 260), "int16", chunks={"band": -1, "y": 256, "x": 128})
    array.tiles.to_vrt(vrt_path, codec="zstd", blocksize=64)
    tiles = sorted(tile_folder(vrt_path).iterdir())
    assert len(tiles) == 2 * 3
    for path in tiles:
        with rasterio.open(path) as tile:
            window = from_bounds(*tile.bounds, transform=array.rio.transform())
            transform = tile.transform
        row, col = round(window.row_off), round(window.col_off)
        block = array.values[:, row : row + tile.height, col : col + tile.width]
        spec = TileSpec(
            dtype=np.dtype("int16"), band_count=3, compression=CODECS["zstd"].compression,
            compressionargs={"level": 3}, predictor=2, blocksize=64, nodata=None, rgb=False,
            geotags=geotiff_tags(array.rio.crs, array.rio.transform(), None, np.dtype("int16")),
        )
        assert path.read_bytes() == encode_tile([block], spec, transform)


def test_tiles_of_rarer_shapes_than_the_templates_cover_are_written_by_tifffile(vrt_path):
    widths = tuple(range(1, 71))  # 70 tile shapes, more than MAX_TEMPLATES
    array = make_raster((8, sum(widths)), "uint16", chunks={"y": 8, "x": widths})
    array.tiles.to_vrt(vrt_path, codec="deflate")
    with rasterio.open(vrt_path) as back:
        np.testing.assert_array_equal(back.read(1), array.values, strict=True)
    assert len(list(tile_folder(vrt_path).iterdir())) == 70
