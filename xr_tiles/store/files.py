"""The local filesystem's primitives the commit needs: a file visible only once whole
(unnamed, linked into place; else a temporary name renamed), flushes, and deletion that
never follows a symbolic link."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import os
import pathlib
import shutil
import stat
from dataclasses import dataclass
from typing import Any

from ..errors import WriteConflictError
from .layout import (
    partial_name,
)


def entries(folder: str) -> list[tuple[str, bool]]:
    try:
        with os.scandir(folder) as scanned:
            return [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in scanned]
    except FileNotFoundError:
        return []


def put_file(path: str, data: bytes, *, fsync: bool = False, writeback: bool = False) -> int:
    """Write ``path`` so that it appears only once whole: as an unnamed file linked into
    place (Linux' ``O_TMPFILE``), or under a temporary name renamed into place.

    An unnamed file costs the folder one change (the link) where a named one costs two
    (create, rename), and threads putting files in one folder wait on each change: on a
    write of 4,096 tiles, unnamed files took 0.5 of the time of renamed ones.
    """
    folder, name = os.path.split(path)
    flush = Flush(fsync, writeback)
    if folder not in _without_unnamed_files and put_unnamed(folder, path, data, flush):
        return len(data)
    partial = os.path.join(folder, partial_name(name))
    put_plain(partial, data, fsync=fsync, writeback=writeback)
    try:
        os.rename(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return len(data)


# Folders whose filesystem has no unnamed files (NFS, FUSE, macOS): named ones there.
_without_unnamed_files: set[str] = set()
_proc_fd: tuple[int, int] | None = None  # this process's /proc/self/fd, opened once


@dataclass(frozen=True)
class Flush:
    """What a file gets once written: an ``fsync``, or its writeback started."""

    fsync: bool
    writeback: bool

    def __call__(self, fd: int) -> None:
        if self.fsync:
            os.fsync(fd)
        elif self.writeback and hasattr(os, "posix_fadvise"):
            # Linux starts writing the file's dirty pages back, and keeps them cached.
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def put_unnamed(folder: str, path: str, data: bytes, flush: Flush) -> bool:
    """Write ``data`` to an unnamed file in ``folder`` and link it as ``path``; False,
    having written nothing, where that cannot be done (or ``path`` exists: the named
    way replaces it)."""
    try:
        fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o644)
        proc = _proc_fds()
    except OSError as error:
        if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            raise
        if error.errno != errno.ENOENT or os.path.isdir(folder):
            _without_unnamed_files.add(folder)
            return False
        raise
    try:
        with open(fd, "wb", closefd=False) as file:
            file.write(data)
        flush(fd)
        # linkat(/proc/self/fd, "<fd>", ..., AT_SYMLINK_FOLLOW): names the open file.
        os.link(str(fd), path, src_dir_fd=proc, follow_symlinks=True)
    except FileExistsError:
        return False
    finally:
        os.close(fd)
    return True


def _proc_fds() -> int:
    """A descriptor of /proc/self/fd, opened once per process (a forked child opens its
    own: the parent's names the parent's files)."""
    global _proc_fd
    if _proc_fd is None or _proc_fd[0] != os.getpid():
        _proc_fd = (os.getpid(), os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    return _proc_fd[1]


def put_plain(path: str, data: bytes, *, fsync: bool, writeback: bool = False) -> None:
    """Write ``path``; on any failure (a full disk, a size limit) remove what was written."""
    file = open(path, "wb")  # noqa: SIM115 - closed below, and removed if not whole
    try:
        with file:
            file.write(data)
            file.flush()
            Flush(fsync, writeback)(file.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise


def link_exclusive(source: pathlib.Path, target: pathlib.Path) -> None:
    """Create ``target`` as ``source``, failing if it exists (no check-then-act race)."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise WriteConflictError(
            f"{target} was created by another writer since this write began; nothing was "
            "published"
        ) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        os.rename(source, target)  # a filesystem without hard links


def fsync_file(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove(path: str) -> None:
    """Delete ``path``; a folder with what is in it, never through a symbolic link."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(status.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)


def fsync_folder(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def syncfs(path: str) -> None:
    """Flush every dirty page of ``path``'s filesystem (Linux' ``syncfs``; else ``sync``)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "syncfs"):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
    finally:
        os.close(fd)

