"""Invalid options and inputs: each is refused before anything is written, with a message
that names what is wrong."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr
from affine import Affine

import xr_tiles
from conftest import make_raster

SHAPE = (32, 48)


def raster(shape: tuple[int, ...] = SHAPE, **kwargs: Any) -> Callable[[], xr.DataArray]:
    return lambda: make_raster(shape, **kwargs)


def with_values(values: np.ndarray) -> Callable[[], xr.DataArray]:
    """The default raster's grid holding ``values``."""
    return lambda: make_raster(SHAPE).copy(data=values)


def with_coord(dim: str, edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[], xr.DataArray]:
    def build() -> xr.DataArray:
        array = make_raster(SHAPE)
        return array.assign_coords({dim: edit(array[dim].values.copy())})

    return build


def irregular(coord: np.ndarray) -> np.ndarray:
    coord[5:] += 7.0
    return coord


def swapped(coord: np.ndarray) -> np.ndarray:
    coord[[3, 4]] = coord[[4, 3]]
    return coord


def four_dims() -> xr.DataArray:
    return make_raster((2, *SHAPE)).expand_dims(time=2)


def no_spatial_dims() -> xr.DataArray:
    return xr.DataArray(np.zeros((4, 5), "float32"), dims=("a", "b"))


def empty() -> xr.DataArray:
    return xr.DataArray(
        np.zeros((0, 5), "float32"),
        dims=("y", "x"),
        coords={"y": np.zeros(0), "x": 30.0 * np.arange(5)},
    )


FLOAT = raster()
INT16 = raster(dtype="int16")
UINT8 = raster(dtype="uint8")
UINT8_2 = raster(shape=(2, *SHAPE), dtype="uint8")

Option = xr_tiles.InvalidOptionError
Input = xr_tiles.UnsupportedInputError
DType = xr_tiles.UnsupportedDTypeError

CASES = [
    # the path
    pytest.param(FLOAT, {"path": "mosaic.tif"}, Option, r"path must end in '\.vrt'", id="path-tif"),
    pytest.param(FLOAT, {"path": "mosaic"}, Option, r"path must end in '\.vrt'", id="path-no-suffix"),
    pytest.param(FLOAT, {"path": 123}, Option, r"path must be a str", id="path-int"),
    # the input
    pytest.param(no_spatial_dims, {}, Input, r"no spatial dimensions.*\('a', 'b'\)", id="no-spatial-dims"),
    pytest.param(four_dims, {}, Input, r"dims .*expected \(y, x\) or \(band, y, x\)", id="4-d"),
    pytest.param(with_coord("x", irregular), {}, Input, r"coordinate 'x' must be evenly spaced", id="irregular-x"),
    pytest.param(with_coord("y", swapped), {}, Input, r"coordinate 'y' .*monotonic", id="non-monotonic-y"),
    pytest.param(empty, {}, Input, r"empty \(shape \(0, 5\)\)", id="empty"),
    # dtypes GeoTIFF cannot hold
    pytest.param(with_values(np.ones(SHAPE, "complex64")), {}, DType, r"dtype complex64", id="complex64"),
    pytest.param(with_values(np.ones(SHAPE, object)), {}, DType, r"dtype object", id="object"),
    pytest.param(with_values(np.full(SHAPE, "abc")), {}, DType, r"dtype <U3", id="str"),
    pytest.param(
        with_values(np.full(SHAPE, np.datetime64("2020-01-01", "ns"))), {}, DType,
        r"dtype datetime64", id="datetime64",
    ),
    # codec and level
    pytest.param(FLOAT, {"codec": "foo"}, Option, r"codec must be one of .*zstd.*'foo'", id="codec-unknown"),
    pytest.param(FLOAT, {"codec": "zstd", "level": 30}, Option, r"level for codec 'zstd' .*1 to 22.*30", id="zstd-level-30"),
    pytest.param(FLOAT, {"codec": "deflate", "level": 0}, Option, r"level for codec 'deflate' .*1 to 9.*0", id="deflate-level-0"),
    pytest.param(FLOAT, {"codec": "lzw", "level": 5}, Option, r"codec 'lzw' takes no level", id="lzw-level"),
    pytest.param(FLOAT, {"codec": "jpeg"}, Option, r"codec 'jpeg' cannot hold float32", id="jpeg-float32"),
    pytest.param(UINT8_2, {"codec": "webp"}, Option, r"codec 'webp' needs 3 or 4 bands.*got 2", id="webp-2-bands"),
    pytest.param(UINT8_2, {"codec": "jpeg"}, Option, r"codec 'jpeg' needs 1 or 3 bands.*got 2", id="jpeg-2-bands"),
    # predictor
    pytest.param(FLOAT, {"predictor": 2}, Option, r"predictor=2 .*float32", id="predictor-2-float"),
    pytest.param(INT16, {"predictor": 3}, Option, r"predictor=3 .*int16", id="predictor-3-int"),
    pytest.param(FLOAT, {"predictor": 5}, Option, r"predictor must be .*got 5", id="predictor-5"),
    pytest.param(
        INT16, {"codec": "packbits", "predictor": 2}, Option,
        r"codec 'packbits' takes no predictor", id="predictor-2-packbits",
    ),
    # blocksize, mode, scheduler
    pytest.param(FLOAT, {"blocksize": 100}, Option, r"blocksize must be a positive multiple of 16.*100", id="blocksize-100"),
    pytest.param(FLOAT, {"blocksize": 0}, Option, r"blocksize must be a positive multiple of 16.*0", id="blocksize-0"),
    pytest.param(FLOAT, {"mode": "a"}, Option, r"mode must be .*'a'", id="mode-a"),
    pytest.param(FLOAT, {"scheduler": "foo"}, Option, r"scheduler must be .*'foo'", id="scheduler-foo"),
    pytest.param(FLOAT, {"num_workers": 0}, Option, r"num_workers must be a positive int", id="num-workers-0"),
    # nodata, crs, chunks
    pytest.param(UINT8, {"nodata": -1}, Input, r"nodata=-1 cannot be stored in uint8", id="nodata-negative-uint8"),
    pytest.param(INT16, {"nodata": float("nan")}, Input, r"nodata=nan cannot be stored in int16", id="nodata-nan-int16"),
    pytest.param(FLOAT, {"crs": "not a crs"}, Option, r"crs must be .*'not a crs'", id="crs-garbage"),
    pytest.param(FLOAT, {"chunks": 0}, Option, r"chunks must be .*got 0", id="chunks-0"),
    pytest.param(FLOAT, {"chunks": "abc"}, Option, r"chunks must be .*'abc'", id="chunks-str"),
    pytest.param(FLOAT, {"chunks": {"band": 4}}, Input, r"chunks names \['band'\]", id="chunks-band-dim"),
    # overviews and resampling
    pytest.param(FLOAT, {"overviews": [2, 3]}, Option, r"overviews must be .*powers of two.*\[2, 3\]", id="overviews-3"),
    pytest.param(FLOAT, {"overviews": [1, 2]}, Option, r"overviews must be .*from 2 up.*\[1, 2\]", id="overviews-1"),
    pytest.param(FLOAT, {"overviews": [4, 4]}, Option, r"overviews must be .*distinct.*\[4, 4\]", id="overviews-repeated"),
    pytest.param(FLOAT, {"overviews": []}, Option, r"overviews must be .*got \[\]", id="overviews-empty"),
    pytest.param(FLOAT, {"overviews": 4}, Option, r"overviews must be .*got 4", id="overviews-int"),
    pytest.param(FLOAT, {"overviews": "all"}, Option, r"overviews must be None, 'auto'.*'all'", id="overviews-str"),
    pytest.param(FLOAT, {"overviews": [True, 2]}, Option, r"overviews must be .*True", id="overviews-bool"),
    pytest.param(FLOAT, {"resampling": "bilinear"}, Option, r"resampling must be one of 'nearest', .*'bilinear'", id="resampling-unknown"),
    pytest.param(
        FLOAT, {"overviews": [2], "resampling": "mode"}, Option,
        r"resampling='mode' .*float32 data; use 'average'", id="mode-float",
    ),
]

BUILTIN: dict[type[Exception], type[Exception]] = {Option: ValueError, Input: ValueError, DType: TypeError}


@pytest.mark.parametrize("compute", [pytest.param(True, id="compute"), pytest.param(False, id="lazy")])
@pytest.mark.parametrize(("build", "options", "error", "match"), CASES)
def test_invalid_write_is_refused_before_any_io(
    tmp_path: pathlib.Path,
    build: Callable[[], xr.DataArray],
    options: dict[str, Any],
    error: type[Exception],
    match: str,
    compute: bool,
) -> None:
    options = dict(options)
    out = tmp_path / "out"
    path = options.pop("path", "mosaic.vrt")
    target = out / path if isinstance(path, str) else path
    array = build()

    with pytest.raises(error, match=match) as excinfo:
        array.tiles.to_vrt(target, compute=compute, **options)

    assert isinstance(excinfo.value, BUILTIN[error])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunks", [pytest.param(None, id="own-chunks"), pytest.param(8, id="rechunked")])
def test_invalid_write_of_dask_input_computes_nothing(tmp_path: pathlib.Path, chunks: Any) -> None:
    """Validation must not compute the data: a chunk that raises is never reached."""

    def explode(block: np.ndarray) -> np.ndarray:
        raise AssertionError("validation computed the data")

    array = make_raster(SHAPE, chunks=16)
    meta = np.array((), dtype=array.dtype)
    array = array.copy(data=array.data.map_blocks(explode, dtype=array.dtype, meta=meta))
    with pytest.raises(xr_tiles.InvalidOptionError, match="predictor=2"):
        array.tiles.to_vrt(tmp_path / "out" / "mosaic.vrt", predictor=2, chunks=chunks)
    assert list(tmp_path.iterdir()) == []


def test_many_small_tiles_warn_once_with_the_chunks_that_give_fewer_files(vrt_path):
    array = make_raster((33 * 32, 32 * 32), "uint8", chunks=32)  # 1,056 tiles of 32 x 32
    with pytest.warns(xr_tiles.SmallTilesWarning) as record:
        array.tiles.to_vrt(vrt_path, codec="none")
    warned = [w for w in record if issubclass(w.category, xr_tiles.SmallTilesWarning)]
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "writing 1056 tiles, most of 32 x 32 pixels" in message
    assert "chunks=1024 would write 2" in message
    assert warned[0].filename == __file__  # pointed at the caller, not at xr_tiles


def test_a_one_row_raster_of_small_tiles_is_told_of_long_tiles(vrt_path):
    array = make_raster((1, 1100 * 64), "uint8", chunks=(1, 64))
    array = array.rio.write_transform(Affine(30, 0, 500_000, 0, -30, 4e6))  # one row: no pixel height
    with pytest.warns(xr_tiles.SmallTilesWarning, match=r"most of 1 x 64 pixels.*"
                      r"chunks=\(1, 70400\) would write 1 "):
        array.tiles.to_vrt(vrt_path, codec="none")


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [
        pytest.param((1000 * 16, 16), 16, id="1000-tiles"),
        pytest.param((40 * 256, 32 * 256), 256, id="1280-tiles-of-256"),
    ],
)
def test_a_thousand_tiles_or_tiles_of_256_stay_quiet(shape, chunks, vrt_path):
    """The suite turns warnings into errors: a warning would fail this write."""
    make_raster(shape, "uint8", chunks=chunks).tiles.to_vrt(vrt_path, codec="none")
