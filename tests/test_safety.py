"""Safety of ``.tiles.to_vrt``: existing output, replacement, failures, interrupts, leftovers.

GDAL (through rasterio) is the oracle for "readable"; byte snapshots of the whole test
directory are the oracle for "touched nothing" and "left no debris".
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr
from dask.delayed import Delayed

import xr_tiles
from conftest import expected_bands, make_raster, read_with_gdal

SHAPE = (32, 48)
CHUNKS = 16  # 2 x 3 tiles
TILE_NAMES = {f"r{row}_c{col}.tif" for row in range(2) for col in range(3)}
STAGING_SUFFIXES = (".partial", ".trash")

Snapshot = dict[str, bytes | None]


class ChunkError(RuntimeError):
    """What a chunk of the input raises."""


def snapshot(folder: pathlib.Path) -> Snapshot:
    """Every path under ``folder`` (hidden ones included): file bytes, or None for a folder."""
    return {
        path.relative_to(folder).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def names(folder: pathlib.Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def staging(folder: pathlib.Path) -> set[str]:
    return {name for name in names(folder) if name.endswith(STAGING_SUFFIXES)}


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def failing(
    array: xr.DataArray,
    *,
    at: tuple[int, int] = (1, 1),
    error: BaseException | None = None,
    before: Callable[[], Any] | None = None,
) -> xr.DataArray:
    """``array`` (dask-backed) whose block ``at`` runs ``before()``, then raises ``error``."""
    to_raise = ChunkError(f"block {at} failed") if error is None else error

    def compute_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info is not None and tuple(block_info[0]["chunk-location"]) == at:
            if before is not None:
                before()
            raise to_raise
        return block

    meta = np.array((), dtype=array.dtype)
    return array.copy(data=array.data.map_blocks(compute_block, dtype=array.dtype, meta=meta))


Previous = tuple[xr.DataArray, Snapshot]


@pytest.fixture
def previous_output(vrt_path: pathlib.Path, tmp_path: pathlib.Path) -> Previous:
    """An earlier write at ``vrt_path``: its input, and a snapshot of the folder with it."""
    old = make_raster(SHAPE, chunks=CHUNKS, seed=0)
    old.tiles.to_vrt(vrt_path)
    return old, snapshot(tmp_path)


def assert_reads(vrt: pathlib.Path, array: xr.DataArray) -> None:
    np.testing.assert_array_equal(read_with_gdal(vrt).values, expected_bands(array))


def staged_tile_count(out: pathlib.Path) -> int:
    return sum(len(names(path)) for path in out.glob(".mosaic_tiles.*.partial"))


def scheduler_options(scheduler: str, out: pathlib.Path) -> tuple[dict[str, Any], Any]:
    """to_vrt kwargs, and what the failing block waits for before it raises.

    With threads the failing block waits until every other tile is staged, so that the
    failure hits a write that has staged files, and no task of the failed write is left
    running when to_vrt returns (that race has a test of its own).
    """
    if scheduler == "threads":
        def wait() -> bool:
            return wait_until(lambda: staged_tile_count(out) == len(TILE_NAMES) - 1)

        return {"scheduler": "threads", "num_workers": 4}, wait
    return {"scheduler": scheduler}, None


# --- mode="w-" --------------------------------------------------------------------------


@pytest.mark.parametrize("compute", [pytest.param(True, id="compute"), pytest.param(False, id="lazy")])
def test_default_mode_refuses_an_existing_vrt_and_touches_nothing(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous, compute: bool
) -> None:
    old, before = previous_output

    new = make_raster(SHAPE, chunks=CHUNKS, seed=1)
    with pytest.raises(FileExistsError, match="mosaic") as excinfo:
        new.tiles.to_vrt(vrt_path, compute=compute)

    assert isinstance(excinfo.value, xr_tiles.OutputExistsError)
    assert snapshot(tmp_path) == before
    assert_reads(vrt_path, old)


@pytest.mark.parametrize("compute", [pytest.param(True, id="compute"), pytest.param(False, id="lazy")])
def test_default_mode_refuses_a_tiles_folder_without_vrt(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, compute: bool
) -> None:
    tiles = vrt_path.with_name("mosaic_tiles")
    tiles.mkdir(parents=True)
    (tiles / "r0_c0.tif").write_bytes(b"someone else's file")
    before = snapshot(tmp_path)

    with pytest.raises(xr_tiles.OutputExistsError, match="mosaic_tiles"):
        make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path, compute=compute)

    assert snapshot(tmp_path) == before


def test_default_mode_writes_into_an_empty_directory(vrt_path: pathlib.Path) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    assert array.tiles.to_vrt(vrt_path) == vrt_path
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert names(vrt_path.with_name("mosaic_tiles")) == TILE_NAMES
    assert_reads(vrt_path, array)


# --- mode="w" ---------------------------------------------------------------------------


def test_replace_mode_swaps_in_the_new_output_and_drops_every_old_tile(
    vrt_path: pathlib.Path,
) -> None:
    tiles = vrt_path.with_name("mosaic_tiles")
    old = make_raster(SHAPE, dtype="int16", seed=0)
    old.tiles.to_vrt(vrt_path, chunks=(8, 12))
    assert len(names(tiles)) == 16

    new = make_raster(SHAPE, dtype="float32", seed=1)
    assert new.tiles.to_vrt(vrt_path, chunks=(16, 24), mode="w") == vrt_path

    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert names(tiles) == {"r0_c0.tif", "r0_c1.tif", "r1_c0.tif", "r1_c1.tif"}
    back = read_with_gdal(vrt_path)
    assert back.dtypes == ("float32",)
    np.testing.assert_array_equal(back.values, expected_bands(new))
    # r0_c0.tif existed in both writes: it must be the new file.
    tile = read_with_gdal(tiles / "r0_c0.tif")
    np.testing.assert_array_equal(tile.values, expected_bands(new[:16, :24]))


def test_replace_mode_into_an_empty_directory(vrt_path: pathlib.Path) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, mode="w")
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert_reads(vrt_path, array)


# --- failures and interrupts --------------------------------------------------------------


SCHEDULERS = [pytest.param("threads", id="threads"), pytest.param("synchronous", id="sync")]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_failed_replacement_keeps_the_previous_output(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous, scheduler: str
) -> None:
    old, before = previous_output

    options, wait = scheduler_options(scheduler, vrt_path.parent)
    new = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1), before=wait)
    with pytest.raises(ChunkError, match=r"block \(1, 1\) failed"):
        new.tiles.to_vrt(vrt_path, mode="w", **options)

    assert snapshot(tmp_path) == before
    assert_reads(vrt_path, old)


@pytest.mark.parametrize("mode", ["w-", "w"])
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_failed_write_without_previous_output_leaves_nothing(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, scheduler: str, mode: str
) -> None:
    options, wait = scheduler_options(scheduler, vrt_path.parent)
    array = failing(make_raster(SHAPE, chunks=CHUNKS), before=wait)
    with pytest.raises(ChunkError, match=r"block \(1, 1\) failed"):
        array.tiles.to_vrt(vrt_path, mode=mode, **options)

    assert snapshot(tmp_path) in ({}, {"out": None})


@pytest.mark.parametrize("previous", [pytest.param(True, id="previous"), pytest.param(False, id="fresh")])
def test_interrupt_behaves_like_a_failure(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous: bool
) -> None:
    old = make_raster(SHAPE, chunks=CHUNKS, seed=0)
    if previous:
        old.tiles.to_vrt(vrt_path)
    before = snapshot(tmp_path)

    array = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1), error=KeyboardInterrupt("^C"))
    with pytest.raises(KeyboardInterrupt):
        array.tiles.to_vrt(vrt_path, mode="w", scheduler="synchronous")

    if previous:
        assert snapshot(tmp_path) == before
        assert_reads(vrt_path, old)
    else:
        assert snapshot(tmp_path) in ({}, {"out": None})


def test_failed_threaded_write_leaves_no_staging_once_its_tasks_end(tmp_path: pathlib.Path) -> None:
    """dask's threaded scheduler raises the first error while other tasks of the graph
    still run in its pool. A task of the failed write that ends after to_vrt has cleaned
    up must not stage anything anew.

    Here the staging task is still clearing a (slow to remove) leftover of a killed
    write when the failing block raises.
    """
    out = tmp_path / "out"
    out.mkdir()
    first_leftover = out / ".mosaic.vrt.deadbeef0000.partial"
    first_leftover.write_text("<VRTDataset/>")
    slow_leftover = out / ".mosaic_tiles.deadbeef0000.partial"
    slow_leftover.mkdir()
    for index in range(200):
        (slow_leftover / f"d{index}").mkdir()

    array = failing(
        make_raster(SHAPE, chunks=CHUNKS),
        before=lambda: wait_until(lambda: not first_leftover.exists()),
    )
    with pytest.raises(ChunkError):
        array.tiles.to_vrt(out / "mosaic.vrt", scheduler="threads", num_workers=4)

    # Let the failed write's tasks that are still running in dask's pool end.
    wait_until(lambda: not slow_leftover.exists())
    time.sleep(0.3)
    assert {name for name in names(out) if "deadbeef0000" not in name} == set()


# --- leftovers of killed writes -------------------------------------------------------------


def make_leftovers(out: pathlib.Path) -> None:
    """What a write killed mid-way (by SIGKILL, power loss) leaves beside the VRT."""
    staged_tiles = out / ".mosaic_tiles.deadbeef0000.partial"
    staged_tiles.mkdir(parents=True)
    (staged_tiles / "r0_c0.tif").write_bytes(b"half a tile")
    (out / ".mosaic.vrt.deadbeef0000.partial").write_text("<VRTDataset")
    trashed_tiles = out / ".mosaic_tiles.feedface0000.trash"
    trashed_tiles.mkdir()
    (trashed_tiles / "r0_c0.tif").write_bytes(b"an old tile")
    (out / ".mosaic.vrt.feedface0000.trash").write_text("<VRTDataset/>")


@pytest.mark.parametrize("mode", ["w-", "w"])
def test_next_write_removes_leftovers_of_killed_writes_only(
    vrt_path: pathlib.Path, mode: str
) -> None:
    out = vrt_path.parent
    make_leftovers(out)
    others = {
        "notes.txt": b"keep me",
        ".hidden": b"keep me too",
        "mosaic.tif": b"not ours",
        ".other.vrt.deadbeef0000.partial": b"another VRT's staging",
    }
    for name, data in others.items():
        (out / name).write_bytes(data)
    (out / "other_tiles").mkdir()
    (out / "other_tiles" / "r0_c0.tif").write_bytes(b"another VRT's tile")

    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, mode=mode)

    assert names(out) == {"mosaic.vrt", "mosaic_tiles", "other_tiles", *others}
    for name, data in others.items():
        assert (out / name).read_bytes() == data
    assert (out / "other_tiles" / "r0_c0.tif").read_bytes() == b"another VRT's tile"
    assert names(out / "mosaic_tiles") == TILE_NAMES
    assert_reads(vrt_path, array)


@pytest.mark.parametrize(
    "other_output",
    [
        # The staged tiles folder of a write to "mosaic_tiles.2.vrt" in the same folder.
        pytest.param(".mosaic_tiles.2_tiles.0123456789ab.partial", id="mosaic_tiles.2.vrt"),
        # The staged tiles folder of a write to "mosaic.vrt.v2.vrt" in the same folder.
        pytest.param(".mosaic.vrt.v2_tiles.0123456789ab.partial", id="mosaic.vrt.v2.vrt"),
    ],
)
def test_leftover_cleanup_spares_staging_of_other_outputs(
    vrt_path: pathlib.Path, other_output: str
) -> None:
    """Only writes to one path must not run concurrently: the staging of a write to
    another VRT in the same folder is not a leftover of this one."""
    staged = vrt_path.parent / other_output
    staged.mkdir(parents=True)
    (staged / "r0_c0.tif").write_bytes(b"a tile being written")

    make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path)

    assert (staged / "r0_c0.tif").read_bytes() == b"a tile being written"


# --- compute=False --------------------------------------------------------------------------


def test_lazy_write_touches_nothing_until_computed(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    delayed = array.tiles.to_vrt(vrt_path, compute=False)

    assert isinstance(delayed, Delayed)
    assert snapshot(tmp_path) == {}

    assert delayed.compute(scheduler="synchronous") == vrt_path
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert names(vrt_path.with_name("mosaic_tiles")) == TILE_NAMES
    assert_reads(vrt_path, array)


def test_lazy_replacement_keeps_the_old_output_until_computed(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous
) -> None:
    old, before = previous_output

    new = make_raster(SHAPE, chunks=(16, 24), seed=1)
    delayed = new.tiles.to_vrt(vrt_path, mode="w", compute=False)
    assert snapshot(tmp_path) == before
    assert_reads(vrt_path, old)

    assert delayed.compute() == vrt_path
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert names(vrt_path.with_name("mosaic_tiles")) == {
        "r0_c0.tif", "r0_c1.tif", "r1_c0.tif", "r1_c1.tif",
    }
    assert_reads(vrt_path, new)


def test_failed_lazy_write_keeps_the_previous_output(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous
) -> None:
    old, before = previous_output

    array = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1))
    delayed = array.tiles.to_vrt(vrt_path, mode="w", compute=False)
    with pytest.raises(ChunkError):
        delayed.compute(scheduler="synchronous")

    # What the failed lazy write staged, if anything, is hidden and not the output...
    after = {path: data for path, data in snapshot(tmp_path).items() if ".partial" not in path}
    assert after == before
    assert_reads(vrt_path, old)
    # ...and the next write to the path removes it.
    make_raster(SHAPE, chunks=CHUNKS, seed=2).tiles.to_vrt(vrt_path, mode="w")
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
