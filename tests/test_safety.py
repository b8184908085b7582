"""Safety of ``.tiles.to_vrt`` on local disk, in this process: existing output, replacement,
failures and interrupts, leftovers of killed writes, symbolic links, lazy writes.

GDAL (through rasterio) is the oracle for "readable"; byte snapshots of the whole test
directory are the oracle for "touched nothing", and the files the VRT names (recursively)
for "left no debris". Faults in other processes (kills, limits, full disks, concurrent
writers) are in ``test_faults.py``, ``test_crash_points.py`` and ``test_concurrency.py``.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr
from dask.delayed import Delayed

import xr_tiles
from conftest import (
    assert_only_referenced,
    expected_bands,
    make_raster,
    read_with_gdal,
    silence_writes,
    tile_folder,
    tree,
)
from harness import wait_until

SHAPE = (32, 48)
CHUNKS = 16  # 2 x 3 tiles
TILE_NAMES = {f"r{row}_c{col}.tif" for row in range(2) for col in range(3)}

Snapshot = dict[str, bytes | None]


class ChunkError(RuntimeError):
    """What a chunk of the input raises."""


def names(folder: pathlib.Path) -> set[str]:
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


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
    return old, tree(tmp_path)


def assert_reads(vrt: pathlib.Path, array: xr.DataArray) -> None:
    np.testing.assert_array_equal(read_with_gdal(vrt).values, expected_bands(array))


def written_tiles(root: pathlib.Path) -> int:
    return sum(1 for path in root.glob("*/r*_c*.tif"))


def kept_writes(vrt: pathlib.Path) -> dict[str, dict[str, Any]]:
    """The manifests of the writes that did not publish, by write id."""
    root = vrt.with_name(f"{vrt.stem}_tiles")
    return {path.stem: json.loads(path.read_text()) for path in root.glob("*.json")}


def scheduler_options(scheduler: str, out: pathlib.Path) -> tuple[dict[str, Any], Any]:
    """to_vrt kwargs, and what the failing block waits for before it raises.

    With threads the failing block waits until every other tile is written, so that the
    failure hits a write that has put files, and no task of the failed write is left
    running when to_vrt returns (that race has a test of its own).
    """
    if scheduler == "threads":
        def wait() -> bool:
            return wait_until(lambda: written_tiles(out / "mosaic_tiles") >= len(TILE_NAMES) - 1)

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
    assert tree(tmp_path) == before
    assert_reads(vrt_path, old)


@pytest.mark.parametrize("compute", [pytest.param(True, id="compute"), pytest.param(False, id="lazy")])
def test_default_mode_refuses_a_tiles_folder_of_files_it_did_not_write(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, compute: bool
) -> None:
    tiles = vrt_path.with_name("mosaic_tiles")
    tiles.mkdir(parents=True)
    (tiles / "r0_c0.tif").write_bytes(b"someone else's file")
    before = tree(tmp_path)

    with pytest.raises(xr_tiles.OutputExistsError, match=r"did not write \(r0_c0.tif\)"):
        make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path, compute=compute)

    assert tree(tmp_path) == before


def test_default_mode_writes_into_an_empty_directory(vrt_path: pathlib.Path) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    assert array.tiles.to_vrt(vrt_path) == vrt_path
    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    assert names(tile_folder(vrt_path)) == TILE_NAMES
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


def test_default_mode_writes_over_the_tiles_a_failed_write_kept(vrt_path: pathlib.Path) -> None:
    """"w-" refuses an existing VRT, never the tiles of a write that did not publish: the
    next write deletes those once it has."""
    with pytest.raises(ChunkError):
        failing(make_raster(SHAPE, chunks=CHUNKS)).tiles.to_vrt(vrt_path, scheduler="synchronous")
    assert kept_writes(vrt_path)

    array = make_raster(SHAPE, chunks=CHUNKS, seed=3)
    array.tiles.to_vrt(vrt_path)
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


# --- mode="w" ---------------------------------------------------------------------------


def test_replace_mode_swaps_in_the_new_output_and_drops_every_old_tile(
    vrt_path: pathlib.Path,
) -> None:
    old = make_raster(SHAPE, dtype="int16", seed=0)
    old.tiles.to_vrt(vrt_path, chunks=(8, 12))
    old_folder = tile_folder(vrt_path)
    assert len(names(old_folder)) == 16

    new = make_raster(SHAPE, dtype="float32", seed=1)
    assert new.tiles.to_vrt(vrt_path, chunks=(16, 24), mode="w") == vrt_path

    assert names(vrt_path.parent) == {"mosaic.vrt", "mosaic_tiles"}
    new_folder = tile_folder(vrt_path)
    assert new_folder != old_folder
    assert names(new_folder) == {"r0_c0.tif", "r0_c1.tif", "r1_c0.tif", "r1_c1.tif"}
    back = read_with_gdal(vrt_path)
    assert back.dtypes == ("float32",)
    np.testing.assert_array_equal(back.values, expected_bands(new))
    tile = read_with_gdal(new_folder / "r0_c0.tif")
    np.testing.assert_array_equal(tile.values, expected_bands(new[:16, :24]))
    assert_only_referenced(vrt_path)


def test_replace_mode_into_an_empty_directory(vrt_path: pathlib.Path) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, mode="w")
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


def test_replace_mode_over_a_foreign_vrt_replaces_it(vrt_path: pathlib.Path) -> None:
    vrt_path.parent.mkdir(parents=True)
    vrt_path.write_text("<VRTDataset rasterXSize='1' rasterYSize='1'/>")
    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, mode="w")
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


# --- failures and interrupts --------------------------------------------------------------


SCHEDULERS = [pytest.param("threads", id="threads"), pytest.param("synchronous", id="sync")]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_failed_replacement_keeps_the_previous_output_and_its_own_tiles(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous, scheduler: str
) -> None:
    old, before = previous_output

    options, wait = scheduler_options(scheduler, vrt_path.parent)
    new = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1), before=wait)
    with pytest.raises(ChunkError, match=r"block \(1, 1\) failed") as excinfo:
        new.tiles.to_vrt(vrt_path, mode="w", **options)

    after = tree(tmp_path)
    assert {path: data for path, data in after.items() if path in before} == before
    assert_reads(vrt_path, old)
    ((write_id, manifest),) = kept_writes(vrt_path).items()
    assert manifest["state"] == "aborted"
    kept = names(vrt_path.with_name("mosaic_tiles") / write_id)
    assert kept < TILE_NAMES
    tile_note, note = excinfo.value.__notes__
    assert tile_note.startswith("xr_tiles: raised by tile (row 1, col 1), r1_c1.tif: pixels ")
    assert tile_note.endswith("from the input's block (1, 1) (dask chunk-location, y and x)")
    counted = int(note.removeprefix("xr_tiles: ").split()[0])
    # Tasks of the failed write still running in dask's pool may add tiles afterwards.
    assert counted <= len(kept) if scheduler == "threads" else counted == len(kept)
    assert note.endswith(
        f"of this write's 6 tiles are kept in {vrt_path.parent / 'mosaic_tiles' / write_id}; "
        "to_vrt(..., resume=True) with the same input and options writes only the others "
        "(a write without resume=True deletes them)"
    )


@pytest.mark.parametrize("mode", ["w-", "w"])
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_failed_write_without_previous_output_publishes_nothing(
    vrt_path: pathlib.Path, scheduler: str, mode: str
) -> None:
    options, wait = scheduler_options(scheduler, vrt_path.parent)
    array = failing(make_raster(SHAPE, chunks=CHUNKS), before=wait)
    with pytest.raises(ChunkError, match=r"block \(1, 1\) failed"):
        array.tiles.to_vrt(vrt_path, mode=mode, **options)

    assert not vrt_path.exists()
    assert all(manifest["state"] == "aborted" for manifest in kept_writes(vrt_path).values())
    # The next write, without resume=True, deletes the kept tiles once it has published.
    fine = make_raster(SHAPE, chunks=CHUNKS, seed=5)
    fine.tiles.to_vrt(vrt_path, mode=mode)
    assert_reads(vrt_path, fine)
    assert_only_referenced(vrt_path)


@pytest.mark.parametrize("previous", [pytest.param(True, id="previous"), pytest.param(False, id="fresh")])
def test_interrupt_behaves_like_a_failure(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous: bool
) -> None:
    old = make_raster(SHAPE, chunks=CHUNKS, seed=0)
    if previous:
        old.tiles.to_vrt(vrt_path)
    before = tree(tmp_path)

    array = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1), error=KeyboardInterrupt("^C"))
    with pytest.raises(KeyboardInterrupt) as excinfo:
        array.tiles.to_vrt(vrt_path, mode="w", scheduler="synchronous")

    assert "resume=True" in excinfo.value.__notes__[-1]
    after = tree(tmp_path)
    assert {path: data for path, data in after.items() if path in before} == before
    if previous:
        assert_reads(vrt_path, old)
    else:
        assert not vrt_path.exists()
    assert not vrt_path.with_name(f".{vrt_path.name}.lock").exists()


def test_tasks_of_a_failed_threaded_write_cannot_leave_files_behind(
    vrt_path: pathlib.Path,
) -> None:
    """dask's threaded scheduler raises the first error while other tasks of the graph
    still run in its pool. The next write deletes the failed write's folder meanwhile:
    it renames the folder first, so that a task still running cannot put a file in it.
    """
    release = pathlib.Path(vrt_path.parent / "release")
    slow_started = vrt_path.parent / "slow-started"

    def slow_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info is not None and tuple(block_info[0]["chunk-location"]) == (0, 0):
            slow_started.touch()
            wait_until(release.exists, timeout=10)
        return block

    array = make_raster(SHAPE, chunks=CHUNKS)
    slow = array.copy(data=array.data.map_blocks(slow_block, dtype=array.dtype))
    doomed = failing(slow, before=lambda: wait_until(slow_started.exists))
    with pytest.raises(ChunkError):
        doomed.tiles.to_vrt(vrt_path, scheduler="threads", num_workers=4)

    # The slow task of the failed write still runs; a new write deletes its folder.
    fine = make_raster(SHAPE, chunks=CHUNKS, seed=2)
    fine.tiles.to_vrt(vrt_path)
    release.touch()
    time.sleep(0.3)  # the slow task now tries to put its tile
    assert_reads(vrt_path, fine)
    assert_only_referenced(vrt_path, release, slow_started)


# --- leftovers of killed writes -------------------------------------------------------------


def make_leftovers(out: pathlib.Path) -> None:
    """What writes killed at various points (by SIGKILL, a power cut) leave behind."""
    root = out / "mosaic_tiles"
    (root / "deadbeef0000").mkdir(parents=True)  # a folder whose manifest never came
    (root / "deadbeef0000" / "r0_c0.tif").write_bytes(b"a tile of a killed write")
    (root / "deadbeef0000" / ".r0_c1.tif.123-456.partial").write_bytes(b"half a tile")
    (root / ".feedface0000.deleting").mkdir()  # a folder cleanup was deleting
    (root / ".feedface0000.deleting" / "r0_c0.tif").write_bytes(b"an old tile")
    (root / ".cafebabe0000.json.123-456.partial").write_bytes(b'{"form')  # a manifest, cut
    (out / ".mosaic.vrt.deadbeef0000.partial").write_text("<VRTDataset")  # a VRT, cut
    (out / ".mosaic.vrt.lock").write_text("{}")  # the lock of a dead writer


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
        "other_tiles/deadbeef0000/r0_c0.tif": b"another VRT's tile",
    }
    for name, data in others.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)

    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path, mode=mode)

    for name, data in others.items():
        assert (out / name).read_bytes() == data
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path, *(out / name for name in others))


def test_a_stale_manifest_of_a_dead_writer_does_not_block(vrt_path: pathlib.Path) -> None:
    """A manifest saying "running" whose writer is dead (pid 2**22, not running here)."""
    root = vrt_path.with_name("mosaic_tiles")
    (root / "0123456789ab").mkdir(parents=True)
    (root / "0123456789ab" / "r0_c0.tif").write_bytes(b"a tile")
    from xr_tiles.store.writer import Writer

    writer = {**Writer.current().as_dict(), "pid": 2**22, "process_started": 0.0}
    manifest = {"format": 1, "write_id": "0123456789ab", "state": "running", "tiles": 6,
                "identity": {}, "lock": False, "heartbeat": True, "writer": writer}
    (root / "0123456789ab.json").write_text(json.dumps(manifest))
    array = make_raster(SHAPE, chunks=CHUNKS)
    array.tiles.to_vrt(vrt_path)
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


@pytest.mark.parametrize(
    "other_output",
    [
        # The tiles of "mosaic_tiles.2.vrt" in the same folder.
        pytest.param("mosaic_tiles.2_tiles/0123456789ab/r0_c0.tif", id="mosaic_tiles.2.vrt"),
        # The tiles of "mosaic.vrt.v2.vrt" in the same folder.
        pytest.param("mosaic.vrt.v2_tiles/0123456789ab/r0_c0.tif", id="mosaic.vrt.v2.vrt"),
    ],
)
def test_cleanup_spares_the_tiles_of_other_outputs(vrt_path: pathlib.Path, other_output: str) -> None:
    tile = vrt_path.parent / other_output
    tile.parent.mkdir(parents=True)
    tile.write_bytes(b"a tile of another VRT")

    make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path)
    make_raster(SHAPE, chunks=CHUNKS, seed=1).tiles.to_vrt(vrt_path, mode="w")

    assert tile.read_bytes() == b"a tile of another VRT"
    assert_only_referenced(vrt_path, tile)


# --- what a write deletes: only its own ---------------------------------------------------


def test_a_vrt_naming_files_elsewhere_never_makes_a_write_delete_them(
    vrt_path: pathlib.Path,
) -> None:
    """A hand-edited VRT naming ``../elsewhere.tif`` and an absolute path: replacing it
    deletes neither; updating it (r+) is refused."""
    make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path)
    elsewhere = vrt_path.parent.parent / "elsewhere.tif"
    absolute = vrt_path.parent.parent / "absolute.tif"
    for path in (elsewhere, absolute):
        path.write_bytes(b"precious")
    folder = tile_folder(vrt_path).name
    text = vrt_path.read_text().replace(
        f">mosaic_tiles/{folder}/r0_c0.tif<", ">../elsewhere.tif<"
    ).replace(
        f'relativeToVRT="1">mosaic_tiles/{folder}/r0_c1.tif<', f'relativeToVRT="0">{absolute}<'
    )
    vrt_path.write_text(text)

    with pytest.raises(xr_tiles.InvalidMosaicError, match=r"elsewhere\.tif.*edited by hand"):
        make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path, mode="r+")
    make_raster(SHAPE, chunks=CHUNKS, seed=1).tiles.to_vrt(vrt_path, mode="w")

    assert elsewhere.read_bytes() == b"precious"
    assert absolute.read_bytes() == b"precious"
    assert_only_referenced(vrt_path)


def test_cleanup_never_follows_a_symbolic_link_out_of_the_tiles_folder(
    vrt_path: pathlib.Path,
) -> None:
    make_raster(SHAPE, chunks=CHUNKS).tiles.to_vrt(vrt_path)
    outside = vrt_path.parent.parent / "outside"
    outside.mkdir()
    (outside / "r0_c0.tif").write_bytes(b"precious")
    (outside / "keep.txt").write_bytes(b"precious")
    root = vrt_path.with_name("mosaic_tiles")
    # A link named like a write's folder, and links inside the published write's folder.
    (root / "0123456789ab").symlink_to(outside, target_is_directory=True)
    (tile_folder(vrt_path) / "extra.tif").symlink_to(outside / "r0_c0.tif")
    (tile_folder(vrt_path) / "overviews").mkdir()
    (tile_folder(vrt_path) / "overviews" / "old.vrt").symlink_to(outside / "keep.txt")

    make_raster(SHAPE, chunks=CHUNKS, seed=1).tiles.to_vrt(vrt_path, mode="w")

    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt", "r0_c0.tif"]
    assert all(p.read_bytes() == b"precious" for p in outside.iterdir())
    assert (root / "0123456789ab").is_symlink()  # not ours: left alone


# --- compute=False --------------------------------------------------------------------------


def test_lazy_write_touches_nothing_until_computed(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    array = make_raster(SHAPE, chunks=CHUNKS)
    delayed = array.tiles.to_vrt(vrt_path, compute=False)

    assert isinstance(delayed, Delayed)
    assert tree(tmp_path) == {}

    assert delayed.compute(scheduler="synchronous") == vrt_path
    assert names(tile_folder(vrt_path)) == TILE_NAMES
    assert_reads(vrt_path, array)
    assert_only_referenced(vrt_path)


def test_lazy_replacement_keeps_the_old_output_until_computed(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous
) -> None:
    old, before = previous_output

    new = make_raster(SHAPE, chunks=(16, 24), seed=1)
    delayed = new.tiles.to_vrt(vrt_path, mode="w", compute=False)
    assert tree(tmp_path) == before
    assert_reads(vrt_path, old)

    assert delayed.compute() == vrt_path
    assert names(tile_folder(vrt_path)) == {"r0_c0.tif", "r0_c1.tif", "r1_c0.tif", "r1_c1.tif"}
    assert_reads(vrt_path, new)
    assert_only_referenced(vrt_path)


def test_failed_lazy_write_keeps_the_previous_output(
    vrt_path: pathlib.Path, tmp_path: pathlib.Path, previous_output: Previous
) -> None:
    old, before = previous_output

    array = failing(make_raster(SHAPE, chunks=CHUNKS, seed=1))
    delayed = array.tiles.to_vrt(vrt_path, mode="w", compute=False)
    with pytest.raises(ChunkError):
        delayed.compute(scheduler="synchronous")

    after = tree(tmp_path)
    assert {path: data for path, data in after.items() if path in before} == before
    assert_reads(vrt_path, old)
    # Its input failed, which leaves no trace in the store: the write counts as running
    # until silent for a minute (its tasks may run anywhere)...
    with pytest.raises(xr_tiles.WriteConflictError, match="a write silent for 60 s counts as dead"):
        make_raster(SHAPE, chunks=CHUNKS, seed=2).tiles.to_vrt(vrt_path, mode="w")
    assert tree(tmp_path) == after
    # ... then the next write to the path deletes what it kept.
    silence_writes(vrt_path)
    make_raster(SHAPE, chunks=CHUNKS, seed=2).tiles.to_vrt(vrt_path, mode="w")
    assert_only_referenced(vrt_path)


