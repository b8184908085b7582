"""One writer at a time on a local path: an exclusive ``flock`` on a hidden file beside
the VRT, ``.<name>.lock``, which names its holder.

The kernel releases the lock when its holder dies, however it dies, so a killed write
never blocks the next. The file exists only while a write holds it: the holder deletes it
before letting go, and a process that locked a file no longer at that path (its holder
deleted it meanwhile) tries again on the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import time
from dataclasses import dataclass

from ..errors import WriteConflictError
from .writer import Writer

LOCK_SUFFIX = ".lock"
# A probe (``holder``) holds a shared lock for microseconds; a contender that meets one
# tries again before it concludes that a write runs.
RETRIES = 5
RETRY_S = 0.01


@dataclass(frozen=True)
class Holder:
    """The write that holds a lock, as the lock file names it (None: not written yet)."""

    write_id: str | None
    writer: Writer | None

    def __str__(self) -> str:
        if self.writer is None:
            return "another write (it has not named itself yet)"
        return f"write {self.write_id} by {self.writer}"


class PathLock:
    """A held lock; ``release`` deletes its file, then lets go."""

    def __init__(self, path: pathlib.Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if _is_at(self._fd, self.path):
                os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def lock_path(vrt: pathlib.Path) -> pathlib.Path:
    return vrt.with_name(f".{vrt.name}{LOCK_SUFFIX}")


def acquire(path: pathlib.Path, write_id: str, writer: Writer) -> PathLock:
    """Lock ``path`` for ``write_id``, or raise ``WriteConflictError`` naming the holder."""
    for attempt in range(RETRIES + 1):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            stale = holder.writer is not None and holder.writer.is_dead()
            if stale and _is_at(fd, path):
                # Held by a child its dead writer forked (the lock is shared with it).
                os.unlink(path)
            os.close(fd)
            if attempt == RETRIES:
                raise WriteConflictError(_conflict(path, holder)) from None
            time.sleep(RETRY_S)
            continue
        if _is_at(fd, path):
            break
        os.close(fd)  # its holder deleted it after we opened it: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"write": write_id, "writer": writer.as_dict()}).encode())
    return PathLock(path, fd)


def holder(path: pathlib.Path) -> Holder | None:
    """The write holding the lock at ``path``; None when none does."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _conflict(path: pathlib.Path, holder: Holder) -> str:
    vrt = path.with_name(path.name[1 : -len(LOCK_SUFFIX)])
    return (
        f"{vrt} is being written by {holder}; writes to one path run one at a time: "
        "wait for it to end (a killed write releases its lock at once)"
    )


def _read_holder(fd: int) -> Holder:
    """What the lock file says; its holder writes it right after locking."""
    for _ in range(RETRIES):
        try:
            items = json.loads(os.pread(fd, 1 << 16, 0))
            return Holder(str(items["write"]), Writer.from_dict(items["writer"]))
        except (ValueError, KeyError, TypeError):
            time.sleep(RETRY_S)
    return Holder(None, None)


def _is_at(fd: int, path: pathlib.Path) -> bool:
    """Whether the open file ``fd`` is still the one at ``path``."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
