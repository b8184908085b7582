"""Real faults in a writing process: a file-size limit (RLIMIT_FSIZE, EFBIG), a full
filesystem (a small tmpfs, in a mount namespace of the test's own), too many open files
(RLIMIT_NOFILE), an interrupt (SIGINT) and SIGKILL, each in a child process.

Each write must fail with a clear error (or die), the previous output must read exactly as
before, and the next write must publish and leave only what its VRT names.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
from typing import Any

import pytest

from conftest import assert_only_referenced, tree
from harness import Write, child, ended, fingerprint, wait_until

pytestmark = pytest.mark.slow


def replaced(vrt: pathlib.Path, **options: Any) -> tuple[Write, tuple[Any, ...], dict]:
    """An old output at ``vrt``, and a write that replaces it (``options``)."""
    Write(str(vrt), seed=0, mode="w-", shape=(512, 512)).run()
    return (Write(str(vrt), seed=1, mode="w", shape=(512, 512), **options),
            fingerprint(str(vrt)), tree(vrt.parent))


def assert_old_output(vrt: pathlib.Path, old: tuple[Any, ...], files: dict) -> None:
    assert fingerprint(str(vrt)) == old
    now = tree(vrt.parent)
    assert {path: now.get(path) for path in files} == files


def assert_next_write_is_clean(vrt: pathlib.Path) -> None:
    next_write = Write(str(vrt), seed=2, mode="w", shape=(512, 512))
    next_write.run()
    assert fingerprint(str(vrt)) == fingerprint(str(clean_copy(next_write, vrt)))
    assert_only_referenced(vrt)


def clean_copy(write: Write, vrt: pathlib.Path) -> pathlib.Path:
    """The same write, done from scratch elsewhere: what a reader must find."""
    path = vrt.parent.parent / "reference" / vrt.name
    shutil.rmtree(path.parent, ignore_errors=True)
    dataclasses.replace(write, path=str(path), mode="w-").run()
    return path


@pytest.mark.parametrize(
    ("limit", "fails_at"),
    [
        pytest.param(512, "the manifest", id="manifest"),
        pytest.param(64 * 1024, "a tile", id="tile"),
        pytest.param(3000, "the VRT", id="vrt"),
    ],
)
def test_a_file_size_limit_fails_the_write_and_keeps_the_old_output(limit, fails_at, vrt_path):
    # Tiles of random floats are ~256 KiB; constant ones a few hundred bytes, and then
    # the first file over 3000 bytes is the VRT (its manifest is about 2 KB).
    write, old, files = replaced(vrt_path, constant=fails_at == "the VRT")
    result = ended(child(write, limits={"RLIMIT_FSIZE": limit}))
    assert result.get("error") == "OSError", result
    assert "File too large" in result["message"]
    if fails_at != "the manifest":
        assert "resume=True" in result["notes"][-1]
    if fails_at == "a tile":  # the error names the tile whose file could not be put
        assert result["notes"][0].startswith("xr_tiles: raised by tile (row ")
    assert_old_output(vrt_path, old, files)
    assert_next_write_is_clean(vrt_path)


def test_a_lazy_write_whose_tile_fails_is_kept_for_resume_at_once(vrt_path):
    """compute=False: the failing tile task marks the write aborted where it fails, so
    that resume=True takes its tiles at once, not after a minute's silence."""
    write, old, files = replaced(vrt_path)
    result = ended(child(write, limits={"RLIMIT_FSIZE": 64 * 1024}, script="lazy"))
    assert result.get("error") == "OSError", result
    assert "File too large" in result["message"]
    assert "resume=True" in result["notes"][-1]
    (manifest,) = vrt_path.parent.glob("mosaic_tiles/*.json")
    assert json.loads(manifest.read_text())["state"] == "aborted"
    assert_old_output(vrt_path, old, files)

    dataclasses.replace(write, resume=True).run()
    assert f"mosaic_tiles/{manifest.stem}/" in vrt_path.read_text()  # it resumed that one
    assert fingerprint(str(vrt_path)) == fingerprint(str(clean_copy(write, vrt_path)))
    assert_only_referenced(vrt_path)


def test_a_write_whose_folder_was_deleted_does_not_publish(vrt_path):
    """A lazy write taken for dead by another writer (silent for a minute: its input
    stalled) has lost its folder by the time it publishes: it must fail, not publish a
    VRT naming files that are gone."""
    write, old, files = replaced(vrt_path)
    result = ended(child(write, script="taken_for_dead"))
    assert result.get("error") == "WriteConflictError", result
    assert "were deleted by another write" in result["message"]
    assert "resume=True" not in " ".join(result["notes"])
    assert_old_output(vrt_path, old, files)
    assert_next_write_is_clean(vrt_path)


@pytest.mark.parametrize("spare", [0, 1], ids=["lock", "manifest"])
def test_too_many_open_files_fails_the_write_and_keeps_the_old_output(spare, vrt_path):
    write, old, files = replaced(vrt_path)
    # The limit leaves ``spare`` descriptors beyond those open once warmed up: none for
    # the lock, or one for it and none for the manifest.
    result = ended(child(write, limits={"RLIMIT_NOFILE": f"+{spare}"}))
    assert result.get("error") == "OSError", result
    assert "Too many open files" in result["message"]
    assert_old_output(vrt_path, old, files)
    assert_next_write_is_clean(vrt_path)


def new_tiles(vrt: pathlib.Path, files: dict) -> int:
    """How many tiles are there that were not there before (``files``, of the folder)."""
    tiles = vrt.parent.glob(f"{vrt.stem}_tiles/*/r*.tif")
    return sum(1 for tile in tiles if tile.relative_to(vrt.parent).as_posix() not in files)


def test_an_interrupt_fails_the_write_and_keeps_the_old_output(vrt_path):
    write, old, files = replaced(vrt_path, delay=0.3, scheduler="threads", chunks=128)
    process = child(write)
    assert wait_until(lambda: new_tiles(vrt_path, files) >= 4)
    process.send_signal(signal.SIGINT)
    result = ended(process)
    assert result.get("error") == "KeyboardInterrupt", result
    assert "tiles are kept" in result["notes"][-1]
    assert_old_output(vrt_path, old, files)
    assert_next_write_is_clean(vrt_path)


def test_sigkill_mid_write_keeps_the_old_output(vrt_path):
    write, old, files = replaced(vrt_path, delay=0.3, scheduler="threads", chunks=128)
    process = child(write)
    assert wait_until(lambda: new_tiles(vrt_path, files) >= 4)
    process.kill()
    assert ended(process)["code"] == -signal.SIGKILL
    assert_old_output(vrt_path, old, files)
    assert_next_write_is_clean(vrt_path)


def mount_namespace() -> list[str] | None:
    """A command prefix that runs a command in a mount namespace of its own, as root in
    it (so that it may mount a tmpfs); None where this machine allows none."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--mount"] if os.geteuid() == 0 else [unshare, "--mount", "--map-root-user"]
    probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           check=False, capture_output=True)
    return prefix if probe.returncode == 0 else None


def test_a_full_filesystem_fails_the_write_and_keeps_the_old_output(tmp_path):
    prefix = mount_namespace()
    if prefix is None:
        pytest.skip("no mount namespace here (unshare, or mounting a tmpfs in it, refused)")
    disk = tmp_path / "disk"
    disk.mkdir()
    # 3 MiB: the old output (constant tiles, a few KiB) fits, the new one (16 tiles of
    # 256 KiB random floats) does not.
    mounted = [*prefix, "sh", "-c", f'mount -t tmpfs -o size=3m tmpfs {disk} && exec "$@"', "sh"]
    write = Write(str(disk / "out" / "mosaic.vrt"), seed=1, mode="w", shape=(1024, 1024))
    result = ended(child(write, wrapper=mounted, script="full_disk"))
    assert result.get("failure", {}).get("error") == "OSError", result
    assert "No space left on device" in result["failure"]["message"]
    assert "resume=True" in result["failure"]["notes"][-1]
    assert result["failure"]["notes"][0].startswith("xr_tiles: raised by tile (row ")
    assert result["old_intact"] is True
    assert result["next"] is True
