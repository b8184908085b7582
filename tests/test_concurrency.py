"""Writers of one path in several processes: one at a time, the others refused with
``WriteConflictError`` naming the one that runs, the output exactly one of the inputs;
a writer that died never blocks the next. On local disk the path's lock says who runs;
on S3 the writers' manifests and the VRT's conditional PUT."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time

import pytest

import xr_tiles
from conftest import assert_only_referenced, assert_store_only_referenced
from harness import Write, child, ended, fingerprint, wait_until

pytestmark = pytest.mark.slow


def slow_write(path: str, seed: int, **options) -> Write:
    return Write(path, seed=seed, mode="w", shape=(512, 512), chunks=128, delay=0.3,
                 scheduler="threads", **options)


def clean(write: Write, folder: pathlib.Path) -> tuple:
    """What GDAL reads of ``write`` done alone, elsewhere."""
    path = folder / "mosaic.vrt"
    Write(str(path), seed=write.seed, mode="w-", shape=write.shape, chunks=write.chunks).run()
    return fingerprint(str(path))


def test_a_second_writer_fails_fast_naming_the_first_and_touching_nothing(vrt_path, tmp_path):
    Write(str(vrt_path), seed=0, mode="w-", shape=(512, 512), chunks=128).run()
    barrier = tmp_path / "go"
    second = child(Write(str(vrt_path), seed=2, mode="w", shape=(512, 512), chunks=128),
                   barrier=barrier)
    assert second.stdout is not None
    assert second.stdout.readline().strip() == "ready"  # started, warmed up, waiting
    first = child(slow_write(str(vrt_path), 1))
    assert wait_until(lambda: len(list(vrt_path.parent.glob("mosaic_tiles/*.json"))) == 1)
    (manifest,) = vrt_path.parent.glob("mosaic_tiles/*.json")
    started = time.monotonic()
    barrier.touch()
    refused = ended(second)
    assert refused.get("error") == "WriteConflictError", refused
    assert f"pid {first.pid} on {socket.gethostname()}, started " in refused["message"]
    assert "is being written by write " in refused["message"]
    assert time.monotonic() - started < 5  # at once, not when the first has ended
    # The second touched nothing: the only manifest is the first's.
    assert [path.name for path in vrt_path.parent.glob("mosaic_tiles/*.json")] == [manifest.name]
    assert "result" in ended(first)
    assert fingerprint(str(vrt_path)) == clean(slow_write("", 1), tmp_path / "one")
    assert_only_referenced(vrt_path)


def race(path: str, barrier: pathlib.Path, **options) -> int:
    """Two slow writes of ``path`` (seeds 1 and 2), released at the same instant: the
    seed of the one that won; the other must have lost with ``WriteConflictError``."""
    writers = {seed: child(slow_write(path, seed, **options), barrier=barrier) for seed in (1, 2)}
    for process in writers.values():
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    barrier.touch()
    results = {seed: ended(process) for seed, process in writers.items()}
    won = [seed for seed, result in results.items() if "result" in result]
    lost = [seed for seed, result in results.items() if result.get("error") == "WriteConflictError"]
    assert (len(won), len(lost)) == (1, 1), results
    return won[0]


@pytest.mark.parametrize("round_", range(3))
def test_two_writers_started_at_once_one_wins_and_the_output_is_its_input(
    round_, vrt_path, tmp_path
):
    winner = race(str(vrt_path), tmp_path / "go")
    assert fingerprint(str(vrt_path)) == clean(slow_write("", winner), tmp_path / "winner")
    assert_only_referenced(vrt_path)


def test_the_lock_of_a_killed_writer_does_not_block_the_next(vrt_path, tmp_path):
    Write(str(vrt_path), seed=0, mode="w-", shape=(512, 512), chunks=128).run()
    old = set(vrt_path.parent.glob("mosaic_tiles/*/r*.tif"))
    first = child(slow_write(str(vrt_path), 1))
    assert wait_until(lambda: len(set(vrt_path.parent.glob("mosaic_tiles/*/r*.tif")) - old) >= 4)
    first.kill()
    ended(first)
    assert vrt_path.with_name(".mosaic.vrt.lock").exists()  # its file stays; its lock went
    Write(str(vrt_path), seed=2, mode="w", shape=(512, 512), chunks=128).run()
    assert fingerprint(str(vrt_path)) == clean(Write("", seed=2, shape=(512, 512), chunks=128),
                                               tmp_path / "two")
    assert_only_referenced(vrt_path)


def test_two_s3_writers_at_once_one_wins_and_the_loser_deletes_only_its_own(bucket, tmp_path):
    """Both may pass the start (neither manifest is there yet); the VRT's conditional
    PUT lets only one publish, and the other deletes its own tiles."""
    name, options, fs = bucket
    url = f"s3://{name}/dem/mosaic.vrt"
    Write(url, seed=0, mode="w-", shape=(512, 512), chunks=128, storage_options=options).run()
    winner = race(url, tmp_path / "go", storage_options=options)
    reference = tmp_path / "winner"
    assert fingerprint(xr_tiles.gdal_path(url)) == clean(slow_write("", winner), reference)
    assert_store_only_referenced(fs, f"{name}/dem/mosaic.vrt")


def pid_namespace() -> list[str] | None:
    """A command prefix that runs a command in a pid namespace of its own, as a container
    of this host would (same kernel and boot id, its own pids); None where refused."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--pid", "--fork", "--mount-proc"]
    if os.geteuid() != 0:
        prefix.insert(1, "--map-root-user")
    probe = subprocess.run([*prefix, "true"], check=False, capture_output=True)
    return prefix if probe.returncode == 0 else None


@pytest.mark.parametrize("script", ["write", "lazy"])
def test_a_writer_in_another_container_of_the_host_is_not_taken_for_dead(
    script, vrt_path, tmp_path
):
    """Its pid means nothing here (pid 1 there may be any process here, or none): it
    runs while it holds the lock, or while its manifest is fresh."""
    prefix = pid_namespace()
    if prefix is None:
        pytest.skip("no pid namespace here (unshare refused)")
    Write(str(vrt_path), seed=0, mode="w-", shape=(512, 512), chunks=128).run()
    first = child(slow_write(str(vrt_path), 1), wrapper=prefix, script=script)
    # Its manifest, and its folder, which follows the manifest.
    folder = vrt_path.with_name("mosaic_tiles")
    assert wait_until(lambda: [path.with_suffix("").is_dir() for path in folder.glob("*.json")]
                      == [True], 60)
    before = sorted(path.name for path in vrt_path.parent.glob("mosaic_tiles/*"))
    with pytest.raises(xr_tiles.WriteConflictError, match="is being written by write "):
        Write(str(vrt_path), seed=2, mode="w", shape=(512, 512), chunks=128).run()
    assert sorted(path.name for path in vrt_path.parent.glob("mosaic_tiles/*")) == before
    assert "result" in ended(first)
    assert fingerprint(str(vrt_path)) == clean(slow_write("", 1), tmp_path / "one")
    assert_only_referenced(vrt_path)


def test_a_lazy_write_on_worker_processes_is_seen_running_by_its_own_process(
    vrt_path, tmp_path
):
    """compute=False computed by dask's process pool: its tasks beat from the workers,
    so a second write from the process that built it is refused, and cleanup spares it."""
    Write(str(vrt_path), seed=0, mode="w-", shape=(512, 512), chunks=128).run()
    lazy = slow_write(str(vrt_path), 1).run(compute=False)
    results: list[object] = []
    computing = threading.Thread(
        target=lambda: results.append(lazy.compute(scheduler="processes", num_workers=2))
    )
    computing.start()
    try:
        folder = vrt_path.with_name("mosaic_tiles")
        assert wait_until(lambda: len(list(folder.glob("*/r*.tif"))) > 16, 60)  # its first
        for attempt in ({"mode": "w"}, {"mode": "w", "resume": True}):
            with pytest.raises(xr_tiles.WriteConflictError, match="is being written by write"):
                Write(str(vrt_path), seed=2, shape=(512, 512), chunks=128, **attempt).run()
    finally:
        computing.join()
    assert results == [vrt_path]
    assert fingerprint(str(vrt_path)) == clean(slow_write("", 1), tmp_path / "one")
    assert_only_referenced(vrt_path)
