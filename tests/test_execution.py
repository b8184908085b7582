"""How a write runs on dask: tasks of one or more tiles, every input block computed once, any scheduler.

GDAL (through rasterio) is the oracle for what was written; dask and the filesystem are real.
Block computations are logged by an upstream ``map_blocks`` that writes one small file per
call, so that the log works across threads, processes and distributed workers alike.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import pathlib
import pickle
import threading
import time
import uuid
from collections import Counter
from typing import Any

import dask
import dask.array as da
import dask.threaded
import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from affine import Affine
from dask.callbacks import Callback
from dask.core import get_dependencies
from dask.delayed import Delayed

import xr_tiles
from conftest import (
    expected_bands,
    make_raster,
    read_with_gdal,
    silence_writes,
    tile_folder,
    without_write_ids,
)
from xr_tiles.fusion import MAX_DEPTH

# --------------------------------------------------------------------------- helpers


def _record_block(block: np.ndarray, log_dir: str, block_info: Any = None) -> np.ndarray:
    """Log one block computation (where, which shape, which process and thread)."""
    info = block_info[None]
    record = {
        "location": list(info["chunk-location"]),
        "shape": list(block.shape),
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "main_thread": threading.current_thread() is threading.main_thread(),
    }
    path = pathlib.Path(log_dir) / f"{uuid.uuid4().hex}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record))
    temporary.rename(path)
    return block


def counted(array: xr.DataArray, log_dir: pathlib.Path) -> xr.DataArray:
    """``array`` (dask-backed) with every block computation logged under ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    data = array.data
    assert isinstance(data, da.Array), "counted() needs a dask-backed array"
    logged = data.map_blocks(
        _record_block,
        log_dir=str(log_dir),
        dtype=data.dtype,
        meta=np.empty((0,) * data.ndim, data.dtype),
    )
    return array.copy(data=logged)


def block_log(log_dir: pathlib.Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(log_dir.glob("*.json"))]


def assert_each_block_once(log_dir: pathlib.Path, chunks: tuple[tuple[int, ...], ...]) -> None:
    """Every block of a dask array with ``chunks`` was computed exactly once, none whole."""
    records = block_log(log_dir)
    per_block = Counter(tuple(record["location"]) for record in records)
    expected_locations = set(itertools.product(*(range(len(c)) for c in chunks)))
    assert set(per_block) == expected_locations
    assert set(per_block.values()) == {1}, f"blocks computed more than once: {per_block}"
    assert len(records) == len(expected_locations)
    for record in records:
        location = record["location"]
        assert tuple(record["shape"]) == tuple(c[i] for c, i in zip(chunks, location, strict=True))
    full_shape = tuple(sum(c) for c in chunks)
    if len(expected_locations) > 1:
        assert all(tuple(r["shape"]) != full_shape for r in records), "whole array computed"


def tiles_folder(vrt: pathlib.Path) -> pathlib.Path:
    return tile_folder(vrt)


def snapshot(vrt: pathlib.Path) -> tuple[str, dict[str, bytes]]:
    """The VRT text (write ids left out) and the bytes of every file in the write's
    folder, by relative path."""
    folder = tiles_folder(vrt)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return without_write_ids(vrt.read_text()), {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in files
    }


def assert_only_output(vrt: pathlib.Path) -> None:
    """Beside the VRT: the VRT and its tiles folder, holding the folder of one write and
    nothing else (no manifest, nothing staged)."""
    assert sorted(p.name for p in vrt.parent.iterdir()) == sorted([vrt.name, f"{vrt.stem}_tiles"])
    assert [p.name for p in vrt.with_name(f"{vrt.stem}_tiles").iterdir()] == [tiles_folder(vrt).name]


def tile_names(rows: int, cols: int, row_digits: int, col_digits: int) -> list[str]:
    return [
        f"r{row:0{row_digits}d}_c{col:0{col_digits}d}.tif"
        for row in range(rows)
        for col in range(cols)
    ]


def assert_tiles_follow_chunks(
    array: xr.DataArray,
    vrt: pathlib.Path,
    y_chunks: tuple[int, ...],
    x_chunks: tuple[int, ...],
) -> None:
    """One tile per (y, x) chunk, each a GeoTIFF of the chunk's size, place and values."""
    assert sum(y_chunks) == array.sizes["y"]
    assert sum(x_chunks) == array.sizes["x"]
    rows, cols = len(y_chunks), len(x_chunks)
    names = tile_names(rows, cols, len(str(rows - 1)), len(str(cols - 1)))
    assert sorted(p.name for p in tiles_folder(vrt).iterdir()) == sorted(names)
    values = expected_bands(array)
    transform = array.rio.transform(recalc=True)
    row_offsets = np.cumsum((0, *y_chunks))
    col_offsets = np.cumsum((0, *x_chunks))
    for name, (row, col) in zip(names, itertools.product(range(rows), range(cols)), strict=True):
        tile = read_with_gdal(tiles_folder(vrt) / name)
        y0, y1 = row_offsets[row], row_offsets[row + 1]
        x0, x1 = col_offsets[col], col_offsets[col + 1]
        assert tile.values.shape == (values.shape[0], y_chunks[row], x_chunks[col]), name
        np.testing.assert_array_equal(tile.values, values[:, y0:y1, x0:x1], strict=True)
        assert tile.transform == transform @ Affine.translation(int(x0), int(y0)), name
        assert tile.crs == array.rio.crs
    back = read_with_gdal(vrt)
    np.testing.assert_array_equal(back.values, values, strict=True)
    assert back.transform == transform
    assert_only_output(vrt)


def tile_keys(graph: dict[Any, Any]) -> list[tuple[Any, ...]]:
    return [k for k in graph if isinstance(k, tuple) and "-tile" in str(k[0])]


IRREGULAR = ((10, 30, 24), (7, 50, 23))


def band_chunks(chunks: tuple[tuple[int, ...], ...]) -> dict[str, tuple[int, ...]]:
    """(band, y, x) chunks as the dict xarray's .chunk takes for make_raster's dims."""
    return dict(zip(("band", "y", "x"), chunks, strict=True))


# --------------------------------------------------------------------------- each block once


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", "processes"])
def test_every_input_block_is_computed_exactly_once(scheduler, tmp_path, vrt_path):
    array = counted(make_raster((64, 80), "int16", chunks=IRREGULAR), tmp_path / "log")
    path = array.tiles.to_vrt(vrt_path, scheduler=scheduler)
    assert_each_block_once(tmp_path / "log", IRREGULAR)
    np.testing.assert_array_equal(read_with_gdal(path).values, expected_bands(array), strict=True)


def test_every_block_of_a_band_stack_is_computed_once(tmp_path, vrt_path):
    chunks = ((3,), (32, 32), (40, 40))
    array = counted(
        make_raster((3, 64, 80), "uint16", chunks=band_chunks(chunks)), tmp_path / "log"
    )
    array.tiles.to_vrt(vrt_path)
    assert_each_block_once(tmp_path / "log", chunks)
    assert_tiles_follow_chunks(array, vrt_path, (32, 32), (40, 40))


def test_band_chunks_are_merged_and_each_input_block_is_computed_once(tmp_path, vrt_path):
    """Bands split over chunks still give one file per (y, x) block holding all bands."""
    chunks = ((1, 1, 1), (32, 32), (40, 40))
    array = counted(
        make_raster((3, 64, 80), "float32", chunks=band_chunks(chunks)), tmp_path / "log"
    )
    array.tiles.to_vrt(vrt_path)
    assert_each_block_once(tmp_path / "log", chunks)
    assert_tiles_follow_chunks(array, vrt_path, (32, 32), (40, 40))


def test_rechunking_with_chunks_option_computes_each_input_block_once(tmp_path, vrt_path):
    source_chunks = ((16,) * 4, (20,) * 4)
    array = counted(make_raster((64, 80), chunks=source_chunks), tmp_path / "log")
    array.tiles.to_vrt(vrt_path, chunks=(24, 30))
    assert_each_block_once(tmp_path / "log", source_chunks)
    assert_tiles_follow_chunks(array, vrt_path, (24, 24, 16), (30, 30, 20))


def test_blocks_two_band_groups_need_are_computed_once(tmp_path, vrt_path):
    """A block feeding two tiles (here two dtypes, so two files) is not run twice."""
    base = counted(make_raster((64, 80), "float32", chunks=(32, 40)), tmp_path / "log")
    dataset = xr.Dataset({"height": base, "rounded": base.astype("int16")})
    dataset.tiles.to_vrt(vrt_path, scheduler="threads")
    assert_each_block_once(tmp_path / "log", ((32, 32), (40, 40)))
    with rasterio.open(vrt_path) as back:
        np.testing.assert_array_equal(back.read(2), base.values.astype("int16"), strict=True)


def test_two_writes_of_one_input_in_one_compute_share_its_blocks(tmp_path):
    array = counted(make_raster((64, 80), chunks=(32, 40)), tmp_path / "log")
    first = array.tiles.to_vrt(tmp_path / "a" / "one.vrt", compute=False)
    second = array.tiles.to_vrt(tmp_path / "b" / "two.vrt", codec="deflate", compute=False)
    assert block_log(tmp_path / "log") == []
    paths = dask.compute(first, second)
    assert paths == (tmp_path / "a" / "one.vrt", tmp_path / "b" / "two.vrt")
    assert_each_block_once(tmp_path / "log", ((32, 32), (40, 40)))
    for path in paths:
        assert_tiles_follow_chunks(array, path, (32, 32), (40, 40))


# --------------------------------------------------------------------------- the graph


def _tile_dependencies(delayed: Delayed) -> tuple[dict[Any, Any], str, list[tuple[Any, ...]]]:
    graph = dict(delayed.__dask_graph__())
    commit = delayed.key
    assert isinstance(commit, str)
    assert commit.startswith("xr-tiles-")
    assert commit.endswith("-commit")
    prefix = commit.removesuffix("-commit")
    keys = tile_keys(graph)
    assert all(key[0] == f"{prefix}-tile" for key in keys)
    return graph, prefix, keys


@pytest.mark.parametrize(
    ("shape", "chunks"),
    [
        pytest.param((64, 80), IRREGULAR, id="2d-irregular"),
        pytest.param((64, 80), (16, 16), id="2d-regular"),
        pytest.param((2, 64, 80), {"band": -1, "y": 32, "x": 20}, id="3d"),
        pytest.param((64, 80), (64, 80), id="single-chunk"),
    ],
)
def test_one_write_task_per_tile_depending_only_on_its_block(shape, chunks, tmp_path, vrt_path):
    array = counted(make_raster(shape, chunks=chunks), tmp_path / "log")
    data = array.data
    delayed = array.tiles.to_vrt(vrt_path, compute=False)
    graph, prefix, keys = _tile_dependencies(delayed)

    rows, cols = len(data.chunks[-2]), len(data.chunks[-1])
    assert len(keys) == rows * cols
    assert sorted(keys) == sorted(
        (f"{prefix}-tile", 0, row, col) for row in range(rows) for col in range(cols)
    )
    band_index = (0,) * (data.ndim - 2)
    for key in keys:
        _, _, row, col = key
        block = (data.name, *band_index, row, col)
        assert block in graph
        assert get_dependencies(graph, key) == {f"{prefix}-prepare", block}
    assert get_dependencies(graph, f"{prefix}-prepare") == set()
    # The final task publishes: after the begin (a resume may have no tile to write).
    assert get_dependencies(graph, delayed.key) == {*keys, f"{prefix}-prepare"}
    # The write layer hangs directly off the input's layer, nothing in between.
    assert delayed.__dask_graph__().dependencies[prefix] == {data.name}
    assert block_log(tmp_path / "log") == []


def numpy_input() -> xr.DataArray:
    return make_raster((64, 80), "int16", chunks=(16, 20))


def map_blocks_input() -> xr.DataArray:
    scaled = (make_raster((64, 80), chunks=(16, 20)) * 2).astype("float64")
    return scaled.copy(data=scaled.data.map_blocks(np.negative))


def two_group_input() -> xr.Dataset:
    return xr.Dataset({"a": numpy_input(), "b": numpy_input().astype("uint8")})


@pytest.mark.parametrize(
    ("make_input", "groups"),
    [
        pytest.param(numpy_input, 1, id="numpy-backed"),
        pytest.param(map_blocks_input, 1, id="chain-of-block-operations"),
        pytest.param(two_group_input, 2, id="two-band-groups"),
    ],
)
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
@pytest.mark.parametrize("tiles_per_task", [1, 3])
def test_the_scheduler_runs_the_write_s_tasks_only(
    make_input, groups, scheduler, tiles_per_task, vrt_path
):
    """Each task also runs the input tasks only its tiles need: the scheduler runs one
    task per ``tiles_per_task`` tiles and nothing else (an eager write publishes from
    the caller)."""
    source = make_input()
    started: list[Any] = []
    with dask.config.set({"xr_tiles.tiles-per-task": tiles_per_task}), Callback(
        pretask=lambda key, graph, state: started.append(key)
    ):
        source.tiles.to_vrt(vrt_path, scheduler=scheduler)
    assert len(started) == groups * -(-4 * 4 // tiles_per_task)
    assert len(set(started)) == len(started)
    expected = two_group_input() if groups == 2 else make_input()
    with rasterio.open(vrt_path) as back:
        for band, var in enumerate(expected.data_vars.values() if groups == 2 else [expected], 1):
            np.testing.assert_array_equal(back.read(band), var.values, strict=True)


def test_a_chain_of_block_operations_deeper_than_the_inlining_cap_writes(vrt_path):
    """Inlined tasks run by recursion: past the cap, inputs stay tasks of their own, so a
    chain longer than Python's stack is deep still writes (without the cap it did not)."""
    source = make_raster((64, 80), "int32", chunks=(32, 40))
    data = source.data
    for _ in range(1000):
        data = data.map_blocks(np.add, 1, dtype=data.dtype)
    started: list[Any] = []
    with Callback(pretask=lambda key, graph, state: started.append(key)):
        source.copy(data=data).tiles.to_vrt(vrt_path, scheduler="synchronous")
    assert 4 * 1000 // (MAX_DEPTH + 1) < len(started) < 4 * 1000
    with rasterio.open(vrt_path) as back:
        np.testing.assert_array_equal(back.read(1), source.values + 1000, strict=True)


def test_band_groups_get_one_write_task_per_tile_each(tmp_path, vrt_path):
    """Two dtypes make two band groups: one file and one task per (group, tile)."""
    chunks = {"y": 32, "x": 40}
    base = make_raster((64, 80), chunks=chunks)
    dataset = xr.Dataset(
        {
            "height": base,
            "count": make_raster((64, 80), "int16", chunks=chunks, seed=1),
            "slope": make_raster((64, 80), chunks=chunks, seed=2),
        }
    )
    names = {var: dataset[var].data.name for var in dataset.data_vars}
    delayed = dataset.tiles.to_vrt(vrt_path, compute=False)
    graph, prefix, keys = _tile_dependencies(delayed)

    assert len(keys) == 2 * 2 * 2
    for key in keys:
        _, group, row, col = key
        expected_inputs = (
            {(names["height"], row, col), (names["slope"], row, col)}
            if group == 0
            else {(names["count"], row, col)}
        )
        assert get_dependencies(graph, key) == {f"{prefix}-prepare", *expected_inputs}

    assert dask.compute(delayed) == (vrt_path,)
    files = sorted(p.name for p in tiles_folder(vrt_path).iterdir())
    assert files == sorted(
        f"r{r}_c{c}_part{g}.tif" for r in range(2) for c in range(2) for g in (1, 2)
    )
    with rasterio.open(vrt_path) as back:  # bands of differing dtypes: one read each
        assert back.dtypes == ("float32", "int16", "float32")
        for index, var in enumerate(("height", "count", "slope"), 1):
            np.testing.assert_array_equal(back.read(index), dataset[var].values, strict=True)


def test_the_graph_pickles_and_the_unpickled_graph_writes(tmp_path, vrt_path):
    array = make_raster((64, 80), "uint8", chunks=(32, 40))
    delayed = array.tiles.to_vrt(vrt_path, compute=False)
    restored = pickle.loads(pickle.dumps(delayed))
    assert restored.compute(scheduler="synchronous") == vrt_path
    assert_tiles_follow_chunks(array, vrt_path, (32, 32), (40, 40))


# --------------------------------------------------------------------------- schedulers


def scheduler_input() -> xr.DataArray:
    return make_raster(
        (3, 64, 80),
        "uint16",
        chunks={"band": -1, "y": IRREGULAR[0], "x": IRREGULAR[1]},
        nodata=0,
        seed=7,
    )


@pytest.fixture(scope="module")
def reference_output(tmp_path_factory) -> tuple[str, dict[str, bytes]]:
    vrt = tmp_path_factory.mktemp("reference") / "mosaic.vrt"
    scheduler_input().tiles.to_vrt(vrt, scheduler="synchronous")
    return snapshot(vrt)


@pytest.mark.parametrize(
    ("scheduler", "num_workers", "config"),
    [
        pytest.param(None, None, None, id="default"),
        pytest.param("threads", None, None, id="threads"),
        pytest.param("threads", 2, None, id="threads-2-workers"),
        pytest.param("single-threaded", None, None, id="single-threaded"),
        pytest.param("processes", None, None, id="processes"),
        pytest.param("processes", 2, None, id="processes-2-workers"),
        pytest.param(None, None, "synchronous", id="config-synchronous"),
        pytest.param(None, 2, "threads", id="config-threads-2-workers"),
        pytest.param(dask.threaded.get, None, None, id="get-function-threaded"),
        pytest.param(dask.get, None, None, id="get-function-synchronous"),
    ],
)
def test_every_scheduler_writes_identical_files(
    scheduler, num_workers, config, reference_output, vrt_path
):
    array = scheduler_input()
    with dask.config.set(scheduler=config) if config else _nothing():
        path = array.tiles.to_vrt(vrt_path, scheduler=scheduler, num_workers=num_workers)
    assert path == vrt_path
    text, tiles = snapshot(path)
    reference_text, reference_tiles = reference_output
    assert sorted(tiles) == sorted(reference_tiles)
    for name, data in tiles.items():
        assert data == reference_tiles[name], f"{name} differs from the synchronous write"
    assert text == reference_text
    back = read_with_gdal(path)
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)
    assert back.nodatavals == (0.0, 0.0, 0.0)
    assert_only_output(path)


class _nothing:  # noqa: N801  (a do-nothing context manager)
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_configured_synchronous_scheduler_is_honoured(tmp_path, vrt_path):
    array = counted(make_raster((64, 80), chunks=(16, 16)), tmp_path / "log")
    with dask.config.set(scheduler="synchronous"):
        array.tiles.to_vrt(vrt_path)
    records = block_log(tmp_path / "log")
    assert len(records) == 20
    assert all(r["main_thread"] and r["pid"] == os.getpid() for r in records)


def test_explicit_scheduler_wins_over_the_configured_one(tmp_path, vrt_path):
    array = counted(make_raster((64, 80), chunks=(16, 16)), tmp_path / "log")
    with dask.config.set(scheduler="synchronous"):
        array.tiles.to_vrt(vrt_path, scheduler="threads")
    records = block_log(tmp_path / "log")
    assert len(records) == 20
    assert not any(r["main_thread"] for r in records)
    assert {r["pid"] for r in records} == {os.getpid()}


def test_processes_scheduler_computes_blocks_in_other_processes(tmp_path, vrt_path):
    chunks = ((8,) * 8, (10,) * 8)
    array = counted(make_raster((64, 80), chunks=chunks), tmp_path / "log")
    array.tiles.to_vrt(vrt_path, scheduler="processes", num_workers=1)
    assert_each_block_once(tmp_path / "log", chunks)
    pids = {r["pid"] for r in block_log(tmp_path / "log")}
    assert len(pids) == 1, "num_workers=1 should give one worker process"
    assert os.getpid() not in pids
    assert_tiles_follow_chunks(array, vrt_path, *chunks)


def test_num_workers_is_passed_to_the_threaded_scheduler(tmp_path, vrt_path):
    array = counted(make_raster((64, 80), chunks=(8, 8)), tmp_path / "log")
    array.tiles.to_vrt(vrt_path, scheduler="threads", num_workers=1)
    records = block_log(tmp_path / "log")
    assert len(records) == 80
    assert len({r["thread"] for r in records}) == 1
    assert not records[0]["main_thread"]


# --------------------------------------------------------------------------- distributed


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as local_cluster:
        yield local_cluster


def test_distributed_client_writes_identical_files(cluster, reference_output, tmp_path):
    """scheduler=client, an active default Client, and client.compute of the Delayed."""
    from distributed import Client

    array = scheduler_input()
    reference_text, reference_tiles = reference_output
    with Client(cluster, set_as_default=False) as client:
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2
        assert os.getpid() not in worker_pids

        # 1. An explicit client, while the default scheduler stays the local one.
        explicit = tmp_path / "explicit" / "mosaic.vrt"
        logged = counted(array, tmp_path / "log-explicit")
        assert logged.tiles.to_vrt(explicit, scheduler=client) == explicit
        assert_each_block_once(tmp_path / "log-explicit", logged.data.chunks)
        assert {r["pid"] for r in block_log(tmp_path / "log-explicit")} <= worker_pids
        assert snapshot(explicit) == (reference_text, reference_tiles)
        assert_only_output(explicit)

        # 2. A Delayed handed to client.compute.
        delayed_path = tmp_path / "delayed" / "mosaic.vrt"
        delayed = array.tiles.to_vrt(delayed_path, compute=False)
        assert not delayed_path.parent.exists()
        assert client.compute(delayed).result() == delayed_path
        assert snapshot(delayed_path) == (reference_text, reference_tiles)

    # 3. An active Client is dask's default scheduler, and the write follows it.
    with Client(cluster) as client:
        default = tmp_path / "default" / "mosaic.vrt"
        logged = counted(array, tmp_path / "log-default")
        assert logged.tiles.to_vrt(default) == default
        assert_each_block_once(tmp_path / "log-default", logged.data.chunks)
        assert {r["pid"] for r in block_log(tmp_path / "log-default")} <= worker_pids
        assert snapshot(default) == (reference_text, reference_tiles)
        back = read_with_gdal(default)
        np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)

        # 4. scheduler="distributed" names the active Client.
        named = tmp_path / "named" / "mosaic.vrt"
        logged = counted(array, tmp_path / "log-named")
        assert logged.tiles.to_vrt(named, scheduler="distributed") == named
        assert {r["pid"] for r in block_log(tmp_path / "log-named")} <= worker_pids
        assert snapshot(named) == (reference_text, reference_tiles)


# --------------------------------------------------------------------------- compute=False


def test_compute_false_returns_a_delayed_and_writes_nothing_until_computed(tmp_path, vrt_path):
    array = counted(make_raster((64, 80), "float64", chunks=IRREGULAR), tmp_path / "log")
    delayed = array.tiles.to_vrt(vrt_path, compute=False)
    assert isinstance(delayed, Delayed)
    assert not vrt_path.parent.exists()
    assert block_log(tmp_path / "log") == []

    (result,) = dask.compute(delayed)
    assert isinstance(result, pathlib.Path)
    assert result == vrt_path
    assert result.is_absolute()
    assert_each_block_once(tmp_path / "log", IRREGULAR)
    assert_tiles_follow_chunks(array, vrt_path, *IRREGULAR)


def test_compute_false_with_the_processes_scheduler(tmp_path, vrt_path):
    array = make_raster((2, 40, 56), "int32", chunks={"y": 16, "x": 32})
    delayed = array.tiles.to_vrt(vrt_path, compute=False)
    assert not vrt_path.parent.exists()
    assert delayed.compute(scheduler="processes", num_workers=2) == vrt_path
    assert_tiles_follow_chunks(array, vrt_path, (16, 16, 8), (32, 24))


def test_compute_false_output_matches_an_eager_write(tmp_path):
    array = make_raster(
        (3, 64, 80),
        "uint16",
        chunks={"band": -1, "y": IRREGULAR[0], "x": IRREGULAR[1]},
        nodata=0,
        seed=7,
    )
    eager = array.tiles.to_vrt(tmp_path / "eager" / "mosaic.vrt")
    lazy = array.tiles.to_vrt(tmp_path / "lazy" / "mosaic.vrt", compute=False).compute()
    assert snapshot(eager) == snapshot(lazy)


def _fail_once_a_tile_is_written(block: np.ndarray, folder: str, block_info: Any = None):
    """Raise in the last block, but only after the write put some tiles (waits for it)."""
    if block_info[None]["chunk-location"] == (3, 2):
        for _ in range(500):
            if list(pathlib.Path(folder).glob("mosaic_tiles/*/*.tif")):
                raise ZeroDivisionError("block (3, 2) failed")
            time.sleep(0.02)
    return block


def test_a_failed_lazy_write_keeps_its_tiles_hidden_and_resume_finishes_it(vrt_path):
    array = make_raster((64, 80), chunks=(20, 30))
    failing = array.copy(
        data=array.data.map_blocks(
            _fail_once_a_tile_is_written,
            folder=str(vrt_path.parent),
            dtype=array.dtype,
            meta=np.empty((0, 0), array.dtype),
        )
    )
    delayed = failing.tiles.to_vrt(vrt_path, compute=False)
    with pytest.raises(ZeroDivisionError, match=r"block \(3, 2\) failed"):
        delayed.compute(scheduler="threads", num_workers=2)
    assert not vrt_path.exists()
    kept = sorted(p.name for p in tiles_folder(vrt_path).iterdir())
    assert kept, "the tiles the failed write finished are kept"
    # Its input failed: nothing of xr_tiles ran to say so, and its tasks may run anywhere,
    # so it counts as running until silent for a minute. Then a write without resume=True
    # writes all, and deletes them once it publishes.
    with pytest.raises(xr_tiles.WriteConflictError, match="silent for 60 s counts as dead"):
        array.tiles.to_vrt(vrt_path)
    # (Until the failed compute's tasks still in dask's pool have ended, which beat.)
    wait_for_no_conflict(lambda: (silence_writes(vrt_path), array.tiles.to_vrt(vrt_path)))
    assert_tiles_follow_chunks(array, vrt_path, (20, 20, 20, 4), (30, 30, 20))
    assert_only_output(vrt_path)


def wait_for_no_conflict(write: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return write()
        except xr_tiles.WriteConflictError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------- inputs and chunks


@pytest.mark.parametrize(
    ("open_chunks", "option", "scheduler", "y_chunks", "x_chunks"),
    [
        pytest.param(None, 32, "processes", (32, 32), (32, 32, 16), id="lazy-file-processes"),
        pytest.param(None, None, "threads", (64,), (80,), id="lazy-file-default-chunks"),
        pytest.param(
            {"y": 32, "x": 40}, None, "threads", (32, 32), (40, 40), id="dask-file-chunks"
        ),
    ],
)
def test_file_backed_input_writes_one_tile_per_chunk(
    open_chunks, option, scheduler, y_chunks, x_chunks, tmp_path, vrt_path
):
    source = tmp_path / "source.tif"
    make_raster((3, 64, 80), "int16").rio.to_raster(
        source, tiled=True, blockxsize=16, blockysize=16
    )
    with rioxarray.open_rasterio(source, chunks=open_chunks) as array:
        assert array.tiles.to_vrt(vrt_path, chunks=option, scheduler=scheduler) == vrt_path
        assert_tiles_follow_chunks(array, vrt_path, y_chunks, x_chunks)


def test_dataset_tiles_follow_the_first_chunked_variable(tmp_path, vrt_path):
    """Variables chunked differently are rechunked alike; each input block computed once."""
    b_chunks, c_chunks = ((16,) * 4, (40, 40)), ((32, 32), (20,) * 4)
    dataset = xr.Dataset(
        {
            "a": make_raster((64, 80)),
            "b": counted(make_raster((64, 80), chunks=b_chunks, seed=1), tmp_path / "log-b"),
            "c": counted(make_raster((64, 80), chunks=c_chunks, seed=2), tmp_path / "log-c"),
        }
    )
    dataset.tiles.to_vrt(vrt_path)
    assert_each_block_once(tmp_path / "log-b", b_chunks)
    assert_each_block_once(tmp_path / "log-c", c_chunks)
    stacked = xr.concat([dataset[v] for v in "abc"], dim="band")
    assert_tiles_follow_chunks(stacked, vrt_path, *b_chunks)


@pytest.mark.parametrize(
    ("shape", "dtype", "chunks", "y_chunks", "x_chunks"),
    [
        pytest.param((1100, 1030), "uint8", None, (1024, 76), (1024, 6), id="numpy-1024-default"),
        pytest.param((64, 80), "float32", None, (64,), (80,), id="numpy-small"),
        pytest.param((64, 80), "int16", (16, 16), (16,) * 4, (16,) * 5, id="dask-regular"),
        pytest.param((64, 80), "float32", IRREGULAR, *IRREGULAR, id="dask-irregular"),
        pytest.param(
            (64, 80),
            "uint16",
            (13, 17),
            (13, 13, 13, 13, 12),
            (17, 17, 17, 17, 12),
            id="not-multiples-of-16",
        ),
        pytest.param((64, 80), "float64", (-1, -1), (64,), (80,), id="single-chunk"),
        pytest.param(
            (2, 48, 40),
            "int32",
            {"band": 1, "y": 20, "x": 15},
            (20, 20, 8),
            (15, 15, 10),
            id="bands-split-over-chunks",
        ),
    ],
)
def test_one_tile_file_per_chunk(shape, dtype, chunks, y_chunks, x_chunks, vrt_path):
    array = make_raster(shape, dtype, chunks=chunks)
    assert array.tiles.to_vrt(vrt_path) == vrt_path
    assert_tiles_follow_chunks(array, vrt_path, y_chunks, x_chunks)


@pytest.mark.parametrize(
    ("source_chunks", "option", "y_chunks", "x_chunks"),
    [
        pytest.param(None, 24, (24, 24, 16), (24, 24, 24, 8), id="int"),
        pytest.param(None, (20, 30), (20, 20, 20, 4), (30, 30, 20), id="tuple"),
        pytest.param(None, {"y": 16}, (16,) * 4, (80,), id="dict-y-only"),
        pytest.param(None, {"x": 25, "y": 10}, (10,) * 6 + (4,), (25, 25, 25, 5), id="dict"),
        pytest.param(None, (-1, 32), (64,), (32, 32, 16), id="tuple-whole-y"),
        pytest.param(None, 1024, (64,), (80,), id="larger-than-raster"),
        pytest.param((16, 16), (24, 40), (24, 24, 16), (40, 40), id="dask-rechunked"),
        pytest.param(IRREGULAR, 32, (32, 32), (32, 32, 16), id="irregular-regularised"),
    ],
)
def test_chunks_option_sets_the_tiles(source_chunks, option, y_chunks, x_chunks, vrt_path):
    array = make_raster((64, 80), "int16", chunks=source_chunks)
    array.tiles.to_vrt(vrt_path, chunks=option)
    assert_tiles_follow_chunks(array, vrt_path, y_chunks, x_chunks)


def test_chunks_option_on_a_band_stack(vrt_path):
    array = make_raster((3, 64, 80), "uint8", chunks={"band": 1, "y": 64, "x": 80})
    array.tiles.to_vrt(vrt_path, chunks={"y": 32, "x": 48})
    assert_tiles_follow_chunks(array, vrt_path, (32, 32), (48, 32))


@pytest.mark.parametrize("chunks", [None, -1], ids=["numpy", "dask"])
def test_one_by_one_raster_is_one_tile(chunks, vrt_path):
    transform = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 4_000_000.0)
    array = make_raster((1, 1), "float32").rio.write_transform(transform)
    if chunks is not None:
        array = array.chunk(chunks)
    vrt = array.tiles.to_vrt(vrt_path)
    assert sorted(p.name for p in tiles_folder(vrt).iterdir()) == ["r0_c0.tif"]
    tile = read_with_gdal(tiles_folder(vrt) / "r0_c0.tif")
    assert tile.values.shape == (1, 1, 1)
    assert tile.transform == transform
    back = read_with_gdal(vrt)
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)
    assert back.transform == transform


@pytest.mark.parametrize(
    ("shape", "chunks", "first", "last", "count"),
    [
        pytest.param((20, 100), (2, 10), "r0_c0.tif", "r9_c9.tif", 100, id="10x10"),
        pytest.param((10, 110), (10, 10), "r0_c00.tif", "r0_c10.tif", 11, id="1x11"),
        pytest.param((22, 33), (2, 3), "r00_c00.tif", "r10_c10.tif", 121, id="11x11"),
        pytest.param((110, 10), (10, 10), "r00_c0.tif", "r10_c0.tif", 11, id="11x1"),
    ],
)
def test_tile_names_are_zero_padded_in_raster_order(shape, chunks, first, last, count, vrt_path):
    array = make_raster(shape, "uint8", chunks=chunks)
    array.tiles.to_vrt(vrt_path)
    names = sorted(p.name for p in tiles_folder(vrt_path).iterdir())
    assert len(names) == count
    assert (names[0], names[-1]) == (first, last)
    assert len({len(name) for name in names}) == 1, "names of unequal length do not sort"
    y_chunks, x_chunks = (tuple(c) for c in array.chunks[-2:])
    assert_tiles_follow_chunks(array, vrt_path, y_chunks, x_chunks)
    # The VRT lists its sources in the same, raster order.
    text = vrt_path.read_text()
    folder = tiles_folder(vrt_path).name
    positions = [text.index(f"mosaic_tiles/{folder}/{name}<") for name in names]
    assert positions == sorted(positions)


def test_distributed_client_writes_the_same_overviews(cluster, tmp_path):
    from distributed import Client

    array = make_raster((2, 64, 96), "int16", chunks={"band": -1, "y": 32, "x": 32}, nodata=-1)
    reference = tmp_path / "reference" / "mosaic.vrt"
    array.tiles.to_vrt(reference, scheduler="synchronous", overviews=[2, 4], resampling="min")
    path = tmp_path / "client" / "mosaic.vrt"
    with Client(cluster, set_as_default=False) as client:
        array.tiles.to_vrt(path, scheduler=client, overviews=[2, 4], resampling="min")
    text, tiles = snapshot(path)
    assert sorted(tiles) == [
        "overviews/overview_2.tif", "overviews/overview_4.tif", *tile_names(2, 3, 1, 1)
    ]
    assert (text, tiles) == snapshot(reference)
    assert_only_output(path)
