"""How writes are handed to dask's local schedulers: batches that stay balanced."""

from __future__ import annotations

import pathlib
import threading
import time

import dask
import dask.system
import numpy as np
import pytest
from affine import Affine

from conftest import expected_bands, make_raster, read_with_gdal, tile_folder
from xr_tiles.plan import TilePlan
from xr_tiles.scheduling import MAX_BATCH, dispatch_batch, thread_count


def plan(shape: tuple[int, int], chunk: int) -> TilePlan:
    rows, cols = (-(-side // chunk) for side in shape)
    return TilePlan(
        y_chunks=(chunk,) * rows, x_chunks=(chunk,) * cols, transform=Affine.identity(),
        folder="out_tiles",
    )


@pytest.mark.parametrize(
    ("shape", "chunk", "workers", "batch"),
    [
        pytest.param((4096, 4096), 256, 2, MAX_BATCH, id="many-small-tiles"),
        pytest.param((8192, 8192), 1024, 2, 1, id="megapixel-tiles"),
        pytest.param((2048, 2048), 512, 2, 2, id="few-mid-tiles"),
        pytest.param((512, 512), 256, 2, 1, id="four-tiles"),
        pytest.param((4096, 4096), 256, 64, 1, id="many-workers"),
    ],
)
def test_dispatch_batches_are_small_for_big_or_few_tiles(
    shape: tuple[int, int], chunk: int, workers: int, batch: int
) -> None:
    assert dispatch_batch(plan(shape, chunk), workers) == batch


@pytest.mark.parametrize("chunksize", [None, 1, 3])
def test_threaded_writes_are_identical_whatever_the_dispatch_batch(
    tmp_path: pathlib.Path, chunksize: int | None
) -> None:
    array = make_raster((96, 128), "int16", chunks=16)
    vrt = tmp_path / "mosaic.vrt"
    with dask.config.set(chunksize=chunksize):
        array.tiles.to_vrt(vrt, scheduler="threads")
    np.testing.assert_array_equal(read_with_gdal(vrt).values, expected_bands(array), strict=True)
    assert len(list(tile_folder(vrt).iterdir())) == 48


@pytest.mark.parametrize(
    ("shape", "chunk", "threads"),
    [
        pytest.param((4096, 4096), 256, 3, id="small-tiles-get-one-more"),
        pytest.param((8192, 8192), 1024, 2, id="megapixel-tiles-one-per-core"),
    ],
)
def test_unsized_threaded_writes_get_one_more_thread_for_small_tiles(
    shape: tuple[int, int], chunk: int, threads: int
) -> None:
    assert thread_count(plan(shape, chunk), cores=2) == threads


def test_the_thread_pool_has_the_size_asked_for(tmp_path: pathlib.Path) -> None:
    """A write nobody sized runs on cores + 1 threads (small tiles); num_workers wins."""
    seen: set[int] = set()

    def record(block: np.ndarray) -> np.ndarray:
        seen.add(threading.get_ident())
        time.sleep(0.002)  # long enough for every pool thread to take a block
        return block

    array = make_raster((64, 64), "int16", chunks=8)
    meta = np.empty((0, 0), array.dtype)
    array = array.copy(data=array.data.map_blocks(record, dtype=array.dtype, meta=meta))
    array.tiles.to_vrt(tmp_path / "default.vrt", scheduler="threads")
    assert len(seen) == thread_count(plan((64, 64), 8), dask.system.CPU_COUNT)
    seen.clear()
    array.tiles.to_vrt(tmp_path / "one.vrt", scheduler="threads", num_workers=1)
    assert len(seen) == 1
