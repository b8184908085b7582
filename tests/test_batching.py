"""Tasks of several tiles: how many, and that batching changes nothing but the task count.

Batched writes are checked against unbatched ones byte for byte and against GDAL; input
blocks are counted by an upstream ``map_blocks`` logging each computation (see
test_execution), on threads, processes and a real LocalCluster; failures are real
exceptions raised by a block.
"""

from __future__ import annotations

import logging
import math
import pathlib
import pickle
import threading
import time
from typing import Any

import dask
import dask.system
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from test_execution import (
    assert_each_block_once,
    block_log,
    counted,
    snapshot,
)

import xr_tiles
from conftest import expected_bands, make_raster, read_with_gdal, tile_folder, without_write_ids
from xr_tiles.batching import (
    BATCH_PIXELS,
    CONFIG_KEY,
    TASKS_PER_WORKER,
    Work,
    batches,
    tiles_per_task,
)
from xr_tiles.plan import TilePlan
from xr_tiles.scheduling import thread_count

distributed = pytest.importorskip("distributed")


def per_task(count: int | None) -> Any:
    return dask.config.set({CONFIG_KEY: count})


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as local_cluster:
        yield local_cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as connected:
        yield connected


# --------------------------------------------------------------------------- how many


def test_small_tiles_share_tasks_more_on_a_cluster_than_on_local_threads():
    """32 x 32 uint8 tiles: a millisecond a task on a cluster needs hundreds of tiles
    to be a small share; tens of microseconds locally need tens."""
    local = tiles_per_task(1024, 1024, 100_000, 3, remote=False)
    remote = tiles_per_task(1024, 1024, 100_000, 2, remote=True)
    assert 1 < local < remote
    assert 10 <= local <= 100
    assert 100 <= remote <= 1024
    assert 1_000 <= math.ceil(100_000 / local) <= 10_000  # tasks carrying the write
    assert 50 <= math.ceil(100_000 / remote) <= 1_000


def test_large_tiles_keep_a_task_each():
    assert tiles_per_task(1024 * 1024, 4 * 1024 * 1024, 4096, 2, remote=True) == 1
    assert tiles_per_task(512 * 512, 512 * 512, 4096, 2, remote=True) <= BATCH_PIXELS // (512 * 512)


def test_every_worker_gets_tasks_enough():
    """Few tiles, many workers: tasks enough for each worker to get several."""
    assert tiles_per_task(1024, 1024, 200, 64, remote=True) == 1
    size = tiles_per_task(1024, 1024, 10_000, 16, remote=True)
    assert math.ceil(10_000 / size) >= TASKS_PER_WORKER * 16


def test_dask_config_sets_the_tiles_per_task():
    with per_task(7):
        assert tiles_per_task(1024, 1024, 100_000, 3, remote=False) == 7


@pytest.mark.parametrize("compute", [True, False])
@pytest.mark.parametrize("value", [0, -1, 2.5, "4", True])
def test_a_bad_configured_tiles_per_task_is_refused_before_any_io(value, compute, vrt_path):
    with per_task(value), pytest.raises(xr_tiles.InvalidOptionError, match=CONFIG_KEY):
        make_raster((64, 64), chunks=16).tiles.to_vrt(vrt_path, compute=compute)
    assert not vrt_path.parent.exists()


def test_batches_cover_every_tile_once_in_raster_order_with_kept_ones_riding_along():
    work = Work(range(1, 4), range(2, 6), 2, frozenset({(0, 1, 3), (0, 3, 5), (1, 1, 2)}))
    found = list(batches(work, 5))
    for group in range(2):
        positions = [p for b in found if b.group == group for p in b.positions]
        assert positions == list(range(12))
        kept = {work.tile(p) for b in found if b.group == group for p in b.kept}
        assert kept == {(row, col) for g, row, col in work.kept if g == group}
    assert all(batch.writes <= 5 for batch in found)
    assert sum(batch.writes for batch in found) == work.count == 21


# --------------------------------------------------------------------------- same bytes


def two_dtypes() -> xr.Dataset:
    return xr.Dataset({
        "height": make_raster((96, 80), "float32", chunks=16, seed=1),
        "count": make_raster((96, 80), "int16", chunks=16, seed=2),
    })


def with_holes() -> xr.DataArray:
    array = make_raster((96, 80), "int16", chunks=16, nodata=-1, seed=3)
    return array.where((array.y < 40) | (array.x < 30), -1).astype("int16").rio.write_nodata(-1)


SCENARIOS = {
    "plain": (lambda: make_raster((96, 80), "uint16", chunks=16), {}),
    "ragged-overviews": (lambda: make_raster((100, 90), "float32", chunks=16),
                         {"overviews": [2, 4, 8, 16]}),
    "two-band-groups": (two_dtypes, {"overviews": [2]}),
    "skip-empty": (with_holes, {"skip_empty": True}),
    # The Items' time is the data's own (else each write's own time).
    "stac": (lambda: make_raster((96, 80), "uint8", chunks=16).assign_coords(
        time=np.datetime64("2020-06-01")), {"stac": True}),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_batched_and_unbatched_writes_are_byte_identical(scenario, tmp_path):
    make, options = SCENARIOS[scenario]
    snapshots = {}
    for size in (1, 4, 7, None):
        vrt = tmp_path / str(size) / "mosaic.vrt"
        with per_task(size):
            make().tiles.to_vrt(vrt, scheduler="threads", **options)
        snapshots[size] = comparable(snapshot(vrt))
    assert snapshots[4] == snapshots[1]
    assert snapshots[7] == snapshots[1]
    assert snapshots[None] == snapshots[1]
    source = make()
    back = read_with_gdal(tmp_path / "7" / "mosaic.vrt")
    if isinstance(source, xr.Dataset):  # bands of several dtypes: one read each
        for band, var in enumerate(source.data_vars.values(), 1):
            with rasterio.open(tmp_path / "7" / "mosaic.vrt") as dataset:
                np.testing.assert_array_equal(dataset.read(band), var.values, strict=True)
    elif scenario != "skip-empty":
        np.testing.assert_array_equal(back.values, expected_bands(source), strict=True)


def comparable(found: tuple[str, dict[str, bytes]]) -> tuple[str, dict[str, Any]]:
    """A snapshot with the write ids out of its JSON (a STAC Collection links its Items
    in the write's folder)."""
    text, files = found
    return text, {name: without_write_ids(data.decode()) if name.endswith(".json") else data
                  for name, data in files.items()}


def test_a_batched_region_update_matches_an_unbatched_one(tmp_path):
    base = make_raster((96, 80), "int16", chunks=16, seed=4)
    region = make_raster((32, 48), "int16", chunks=16, seed=5).assign_coords(
        y=base.y[32:64], x=base.x[16:64])
    results = {}
    for size in (1, 3):
        vrt = tmp_path / str(size) / "mosaic.vrt"
        with per_task(size):
            base.tiles.to_vrt(vrt)
            region.tiles.to_vrt(vrt, mode="r+", region={"y": slice(32, 64), "x": slice(16, 64)})
        results[size] = without_write_ids(vrt.read_text()), sorted(
            p.read_bytes() for p in vrt.with_name("mosaic_tiles").rglob("*.tif"))
        expected = expected_bands(base).copy()
        expected[:, 32:64, 16:64] = expected_bands(region)
        np.testing.assert_array_equal(read_with_gdal(vrt).values, expected)
    assert results[3] == results[1]


# --------------------------------------------------------------------------- each block once


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes", "cluster"])
def test_every_input_block_is_computed_once_under_batching(scheduler, request, tmp_path, vrt_path):
    chunks = ((10, 30, 24, 16), (8, 50, 22))
    array = counted(make_raster((80, 80), "int16", chunks=chunks), tmp_path / "log")
    if scheduler == "cluster":
        scheduler = request.getfixturevalue("client")
    with per_task(5):
        array.tiles.to_vrt(vrt_path, scheduler=scheduler, overviews=[2])
    assert_each_block_once(tmp_path / "log", chunks)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array), strict=True)


def test_no_block_moves_between_workers_on_a_cluster(client, tmp_path, vrt_path):
    """Each task computes the blocks of its tiles itself: no worker fetches a block
    from another, and what leaves the workers are the tasks' records."""
    array = counted(make_raster((128, 192), "float32", chunks=16, seed=6), tmp_path / "log")
    client.run(_clear_transfer_logs)
    with per_task(6), distributed.get_task_stream(client) as stream:
        array.tiles.to_vrt(vrt_path, scheduler=client, overviews=[2, 4])
    logs = client.run(_transfer_logs)
    moved = {key for log in logs.values() for entry in log for key in entry["keys"]}
    assert all("-tile'" in str(key) or str(key).startswith("('xr-tiles-") for key in moved), moved
    names = {array.data.name, *array.data.dask.layers}
    assert not any(str(key).strip("('").split("'")[0] in names for key in moved)
    tasks = list(stream.data)
    assert len(tasks) == math.ceil(8 * 12 / 6)  # the write's tasks, and nothing else
    workers = {record["pid"] for record in block_log(tmp_path / "log")}
    assert len(workers) == 2  # both workers computed blocks
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array), strict=True)


def _clear_transfer_logs(dask_worker: Any) -> None:
    dask_worker.transfer_incoming_log.clear()
    dask_worker.transfer_outgoing_log.clear()


def _transfer_logs(dask_worker: Any) -> list[dict[str, Any]]:
    return [*dask_worker.transfer_incoming_log, *dask_worker.transfer_outgoing_log]


# --------------------------------------------------------------------------- failures


class BlockError(RuntimeError):
    """What the failing block raises."""


def failing(array: xr.DataArray, at: tuple[int, int], flag: pathlib.Path) -> xr.DataArray:
    """``array`` whose block ``at`` raises while ``flag`` exists."""

    def block(values: np.ndarray, block_info: Any = None) -> np.ndarray:
        if tuple(block_info[0]["chunk-location"]) == at and flag.exists():
            raise BlockError(f"block {at} failed")
        return values

    return array.copy(data=array.data.map_blocks(block, dtype=array.dtype))


@pytest.mark.parametrize("scheduler", ["synchronous", "cluster"])
def test_a_failing_block_names_its_tile_and_the_batch_s_finished_tiles_are_kept(
    scheduler, request, tmp_path, vrt_path
):
    """One task of all six tiles; block (1, 1), the fifth, fails: the error names the
    tile, the four before it stay, and resume=True computes only the other two."""
    flag = tmp_path / "fault"
    flag.touch()
    array = counted(failing(make_raster((32, 48), "int16", chunks=16, seed=7), (1, 1), flag),
                    tmp_path / "log")
    run_on = request.getfixturevalue("client") if scheduler == "cluster" else scheduler
    with per_task(6), pytest.raises(BlockError, match=r"block \(1, 1\) failed") as excinfo:
        array.tiles.to_vrt(vrt_path, scheduler=run_on)
    tile_note, kept_note = excinfo.value.__notes__
    assert tile_note == (
        "xr_tiles: raised by tile (row 1, col 1), r1_c1.tif: pixels y 16:32, x 16:32 of "
        "the mosaic, from the input's block (1, 1) (dask chunk-location, y and x)"
    )
    assert kept_note.startswith("xr_tiles: 4 of this write's 6 tiles are kept in ")
    (manifest,) = vrt_path.with_name("mosaic_tiles").glob("*.json")
    kept = sorted(path.name for path in manifest.with_suffix("").glob("r*.tif"))
    assert kept == ["r0_c0.tif", "r0_c1.tif", "r0_c2.tif", "r1_c0.tif"]
    flag.unlink()
    for path in (tmp_path / "log").iterdir():
        path.unlink()
    with per_task(6):
        array.tiles.to_vrt(vrt_path, scheduler=run_on, resume=True)
    assert sorted(tuple(r["location"]) for r in block_log(tmp_path / "log")) == [(1, 1), (1, 2)]
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))


def test_the_other_tasks_stop_between_tiles_once_the_write_has_failed(tmp_path, vrt_path):
    """Tasks running when a tile fails do not write on for the failed write: each stops
    at its next tile (a task may hold hundreds)."""
    flag = tmp_path / "fault"
    flag.touch()

    def slow(values: np.ndarray) -> np.ndarray:
        time.sleep(0.01)
        return values

    source = make_raster((128, 128), "uint8", chunks=8)
    array = failing(source.copy(data=source.data.map_blocks(slow, dtype="uint8")), (2, 0), flag)
    # Three tasks of 86 tiles on three threads, all running when the 33rd tile of the
    # first fails; without the stop, the other two write all theirs: 32 + 2 x 86 tiles.
    with per_task(86), pytest.raises(BlockError):
        array.tiles.to_vrt(vrt_path, scheduler="threads", num_workers=3)
    (manifest,) = vrt_path.with_name("mosaic_tiles").glob("*.json")
    at_failure = len(list(manifest.with_suffix("").glob("r*.tif")))
    time.sleep(1.0)
    later = len(list(manifest.with_suffix("").glob("r*.tif")))
    assert later - at_failure <= 2  # the tile the other two threads had in hand
    assert at_failure < 32 + 86


def test_a_failing_tile_of_a_second_band_group_names_its_group(tmp_path, vrt_path):
    flag = tmp_path / "fault"
    flag.touch()
    dataset = xr.Dataset({
        "a": make_raster((32, 32), "float32", chunks=16),
        "b": failing(make_raster((32, 32), "int16", chunks=16), (0, 1), flag),
    })
    with pytest.raises(BlockError) as excinfo:
        dataset.tiles.to_vrt(vrt_path, scheduler="synchronous")
    assert excinfo.value.__notes__[0].startswith(
        "xr_tiles: raised by tile (row 0, col 1, band group 1), r0_c1_part2.tif: "
    )


# --------------------------------------------------------------------------- progress


def test_the_progress_bar_counts_tiles(capsys, vrt_path):
    with per_task(5):
        make_raster((96, 128), chunks=16).tiles.to_vrt(vrt_path, progress=True)
    out = capsys.readouterr().out
    assert "| 100% Completed | 48 of 48 tiles | " in out
    counts = [int(part.split(" of ")[0].replace(",", ""))
              for part in out.split("Completed | ")[1:]]
    assert counts == sorted(counts)
    assert all(count % 5 == 0 or count == 48 for count in counts)  # whole tasks' tiles


def test_the_progress_bar_counts_tiles_on_a_cluster(capsys, client, vrt_path):
    with per_task(4):
        make_raster((64, 96), chunks=16).tiles.to_vrt(vrt_path, scheduler=client, progress=True)
    assert "| 100% Completed | 24 of 24 tiles | " in capsys.readouterr().out


# --------------------------------------------------------------------------- dask's settings


@pytest.mark.parametrize("chunksize", [None, 1, 3])
def test_dask_s_dispatch_chunksize_changes_nothing(tmp_path, chunksize):
    array = make_raster((96, 128), "int16", chunks=16)
    vrt = tmp_path / "mosaic.vrt"
    with dask.config.set(chunksize=chunksize):
        array.tiles.to_vrt(vrt, scheduler="threads")
    np.testing.assert_array_equal(read_with_gdal(vrt).values, expected_bands(array), strict=True)
    assert len(list(tile_folder(vrt).iterdir())) == 48


def plan(shape: tuple[int, int], chunk: int) -> TilePlan:
    rows, cols = (-(-side // chunk) for side in shape)
    return TilePlan(y_chunks=(chunk,) * rows, x_chunks=(chunk,) * cols,
                    transform=Affine.identity(), folder="out_tiles")


@pytest.mark.parametrize(
    ("shape", "chunk", "threads"),
    [
        pytest.param((4096, 4096), 256, 3, id="small-tiles-get-one-more"),
        pytest.param((8192, 8192), 1024, 2, id="megapixel-tiles-one-per-core"),
    ],
)
def test_unsized_threaded_writes_get_one_more_thread_for_small_tiles(shape, chunk, threads):
    assert thread_count(plan(shape, chunk), cores=2) == threads


def test_the_thread_pool_has_the_size_asked_for(tmp_path):
    """A write nobody sized runs on cores + 1 threads (small tiles); num_workers wins."""
    seen: set[int] = set()

    def record(block: np.ndarray) -> np.ndarray:
        seen.add(threading.get_ident())
        time.sleep(0.002)  # long enough for every pool thread to take a block
        return block

    array = make_raster((64, 64), "int16", chunks=8)
    meta = np.empty((0, 0), array.dtype)
    array = array.copy(data=array.data.map_blocks(record, dtype=array.dtype, meta=meta))
    with per_task(1):
        array.tiles.to_vrt(tmp_path / "default.vrt", scheduler="threads")
    assert len(seen) == thread_count(plan((64, 64), 8), dask.system.CPU_COUNT)
    seen.clear()
    array.tiles.to_vrt(tmp_path / "one.vrt", scheduler="threads", num_workers=1)
    assert len(seen) == 1


def test_a_lazy_resumed_write_s_tasks_carry_their_own_kept_tiles_only(tmp_path, vrt_path):
    """Every task is pickled on its own (processes, a cluster): it must not carry the
    write's whole kept set, or the graph grows as tiles x kept tiles."""
    flag = tmp_path / "fault"
    flag.touch()
    array = failing(make_raster((64, 128), "int16", chunks=8, seed=8), (4, 0), flag)
    with pytest.raises(BlockError):
        array.tiles.to_vrt(vrt_path, scheduler="synchronous")
    flag.unlink()
    delayed = array.tiles.to_vrt(vrt_path, resume=True, compute=False)
    tasks = [node.args[0] for key, node in dict(delayed.__dask_graph__()).items()
             if isinstance(key, tuple) and str(key[0]).endswith("-tile")]
    assert tasks
    assert all(not task.job.work.kept for task in tasks)
    kept = {task.batch.positions.start for task in tasks if task.batch.kept}
    assert not kept  # one tile a task: the kept ones need no task (no merged levels)
    sizes = {len(pickle.dumps(task)) for task in tasks}
    assert max(sizes) - min(sizes) < 200
    assert delayed.compute() == vrt_path
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))


def test_an_executor_as_the_scheduler_with_num_workers(tmp_path, vrt_path):
    """dask takes an Executor as a scheduler (its size is the executor's)."""
    from concurrent.futures import ThreadPoolExecutor

    array = make_raster((64, 64), "int16", chunks=16)
    with ThreadPoolExecutor(2) as executor:
        array.tiles.to_vrt(vrt_path, scheduler=executor, num_workers=2)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array), strict=True)
