"""The local disk's primitives for the commit protocol.

Every file is written under a temporary name and renamed into place once whole, so that
a name is never half a file; the VRT replaces the old one in one ``os.replace`` (or, where
there is none, appears in one ``os.link``); ``flush`` makes the tiles durable before the
VRT names them; deletion never follows a symbolic link out of the tiles folder.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import pathlib
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import tifffile

from ..errors import WriteConflictError
from ..plan import SUBFOLDERS
from . import lock
from .files import (
    entries,
    fsync_file,
    fsync_folder,
    link_exclusive,
    put_file,
    put_plain,
    remove,
    syncfs,
)
from .layout import (
    PARTIAL_SUFFIX,
    WRITE_ID_LENGTH,
    deleting_name,
    manifest_name,
)
from .listing import Listing, listing
from .manifest import Manifest
from .writer import Writer

Version = tuple[int, int, int, int]  # device, inode, size, modification time (ns)
# Files this large have their writeback started as they are written, so that the flush
# before the VRT is published waits for less: on 256 KiB tiles a write took 13% more than
# without flushing, against 31% with the final flush alone; on 11 KiB tiles starting
# each file's writeback cost more than it saved.
EARLY_WRITEBACK_BYTES = 128 * 1024


@dataclass(frozen=True)
class LocalStore:
    """A VRT path on the local disk (or a mounted network filesystem) and its tiles
    folder, ``<stem>_tiles/`` beside it. ``durable``: flush before publishing."""

    vrt: pathlib.Path
    durable: bool = True

    lockable = True  # its writers take the path's lock

    @property
    def root_name(self) -> str:
        """The tiles folder as the VRT names it (relative to the VRT)."""
        return f"{self.vrt.stem}_tiles"

    @property
    def root(self) -> pathlib.Path:
        return self.vrt.with_name(self.root_name)

    @property
    def result(self) -> pathlib.Path:
        """What ``to_vrt`` returns: the VRT's path."""
        return self.vrt

    def where(self, write_id: str | None = None) -> str:
        """A path for messages: the VRT, or a write's folder."""
        return str(self.vrt if write_id is None else self.root / write_id)

    @functools.cached_property
    def _root(self) -> str:
        # Worked out once, not per tile: pathlib costs microseconds a call.
        return os.fspath(self.root)

    # --- what is there -----------------------------------------------------------------

    def read_vrt(self) -> tuple[str | None, Version | None]:
        """The VRT's text and version (None, None when there is none)."""
        try:
            with open(self.vrt, "rb") as file:
                return file.read().decode("utf-8"), _version(os.fstat(file.fileno()))
        except FileNotFoundError:
            return None, None

    def vrt_version(self) -> Version | None:
        try:
            return _version(os.stat(self.vrt))
        except FileNotFoundError:
            return None

    def list_root(self) -> Listing:
        holder = lock.holder(lock.lock_path(self.vrt))
        try:
            with os.scandir(self._root) as scanned:
                entries = [
                    (entry.name, entry.is_dir(follow_symlinks=False),
                     entry.stat(follow_symlinks=False).st_mtime)
                    for entry in scanned
                ]
        except FileNotFoundError:
            return Listing(holder=holder)
        except NotADirectoryError:
            return Listing(foreign=(self.root_name,), holder=holder)
        return listing(entries, self._read_manifest, holder)

    def files(self, write_id: str) -> set[str]:
        """The names of the files in a write's folder (``overviews/`` and ``index/`` ones
        with it)."""
        folder = os.path.join(self._root, write_id)
        names: set[str] = set()
        for name, is_folder in entries(folder):
            if is_folder and name in SUBFOLDERS:
                names.update(f"{name}/{inner}" for inner, _ in entries(f"{folder}/{name}"))
            elif not is_folder:
                names.add(name)
        return names

    def size(self, write_id: str, name: str) -> int:
        return os.lstat(os.path.join(self._root, write_id, name)).st_size

    def read(self, write_id: str, name: str) -> bytes:
        with open(os.path.join(self._root, write_id, name), "rb") as file:
            return file.read()

    def intact(self, write_id: str, name: str) -> bool:
        """Whether a kept file holds all its bytes: a GeoTIFF whose full resolution (the
        last data in its file, as xr_tiles lays tiles out) ends within the file."""
        try:
            with tifffile.TiffFile(os.path.join(self._root, write_id, name)) as tiff:
                page = tiff.pages.first
                end = max(
                    (offset + count for offset, count in
                     zip(page.dataoffsets, page.databytecounts, strict=True)),
                    default=0,
                )
                return 0 < end <= tiff.filehandle.size
        except Exception:  # noqa: BLE001 - whatever fails to parse is not whole
            return False

    def holder(self) -> lock.Holder | None:
        return lock.holder(lock.lock_path(self.vrt))

    # --- writing -------------------------------------------------------------------------

    def lock(self, write_id: str, writer: Writer) -> lock.PathLock:
        if not self.vrt.parent.is_dir():
            self.vrt.parent.mkdir(parents=True, exist_ok=True)
        return lock.acquire(lock.lock_path(self.vrt), write_id, writer)

    def put_manifest(self, manifest: Manifest) -> None:
        if not os.path.isdir(self._root):
            os.makedirs(self._root, exist_ok=True)
        put_file(os.path.join(self._root, manifest_name(manifest.write_id)), manifest.to_bytes())

    def manifest(self, write_id: str) -> Manifest | None:
        data = self._read_manifest(manifest_name(write_id))
        return None if data is None else Manifest.from_bytes(data)

    def touch_manifest(self, write_id: str) -> None:
        """A heartbeat: the manifest's time, not its content (a manifest deleted since,
        its write published or taken for dead, is not brought back)."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(os.path.join(self._root, manifest_name(write_id)))

    def make_folder(self, write_id: str) -> None:
        with contextlib.suppress(FileExistsError):  # a resumed write's
            os.mkdir(os.path.join(self._root, write_id))

    def put(self, write_id: str, name: str, data: bytes, *, fsync: bool = False) -> int:
        """Put a file in a write's folder, visible only once whole. The folder's
        ``overviews/`` and ``index/`` are made on first use; the folder itself never is: a
        task of a write whose folder is gone fails rather than bring it back."""
        path = os.path.join(self._root, write_id, name)
        if name.split("/", 1)[0] in SUBFOLDERS and not os.path.isdir(os.path.dirname(path)):
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(path))
        writeback = self.durable and not fsync and len(data) >= EARLY_WRITEBACK_BYTES
        return put_file(path, data, fsync=fsync, writeback=writeback)

    def flush(self, write_id: str) -> None:
        """Make a write's files, their names and its folders durable: one ``syncfs`` of
        the filesystem (where there is none, ``sync``), then the folders' own entries
        (which tiles written on other hosts of a network filesystem need)."""
        if not self.durable:
            return
        syncfs(self._root)
        folder = os.path.join(self._root, write_id)
        for name in SUBFOLDERS:
            with contextlib.suppress(FileNotFoundError):  # a write without overviews
                fsync_folder(os.path.join(folder, name))
        for path in (folder, self._root):  # gone: another write took this one for dead
            fsync_folder(path)

    def publish(self, text: str, write_id: str, expected: Version | None) -> None:
        """Make ``text`` the VRT in one step, if the VRT is still at version ``expected``
        (None: still absent); else raise ``WriteConflictError``, changing nothing.

        The caller holds the path's lock, so that no other xr_tiles write publishes
        between the check and the step.
        """
        partial = self.vrt.with_name(f".{self.vrt.name}.{write_id}{PARTIAL_SUFFIX}")
        put_plain(os.fspath(partial), text.encode("utf-8"), fsync=self.durable)
        try:
            if self.vrt_version() != expected:
                raise WriteConflictError(
                    f"{self.vrt} was changed by another writer since this write began; "
                    "nothing was published"
                )
            if expected is None:
                link_exclusive(partial, self.vrt)
                os.unlink(partial)
            else:
                os.replace(partial, self.vrt)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
        if self.durable:
            fsync_folder(os.fspath(self.vrt.parent))

    def publish_beside(self, write_id: str, name: str, target: str) -> None:
        """Make a write's file ``name`` the file ``target`` (a path beside the VRT: a tile
        index, a catalogue) in one step: a hard link to it, renamed over ``target``.
        Once published, files are never modified, so the two names may share them."""
        path = self.vrt.parent / target
        if not path.parent.is_dir():
            path.parent.mkdir()
            if self.durable:
                fsync_folder(os.fspath(self.vrt.parent))
        partial = path.with_name(f".{path.name}.{write_id}{PARTIAL_SUFFIX}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)  # left by a killed write
        source = os.path.join(self._root, write_id, name)
        try:
            os.link(source, partial)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            shutil.copyfile(source, partial)  # a filesystem without hard links
            if self.durable:
                fsync_file(os.fspath(partial))
        try:
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
        if self.durable:
            fsync_folder(os.fspath(path.parent))

    def delete_beside(self, target: str) -> None:
        """Delete ``target`` (a path beside the VRT), and its folder if it is left empty."""
        path = self.vrt.parent / target
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if path.parent != self.vrt.parent:
            with contextlib.suppress(OSError):
                os.rmdir(path.parent)

    def exists_beside(self, target: str) -> bool:
        return os.path.lexists(self.vrt.parent / target)

    # --- deleting -----------------------------------------------------------------------

    def delete_write(self, write_id: str) -> None:
        """Delete a write's folder. It is renamed first, so that tasks of its write still
        running cannot add files to it while it is deleted."""
        folder = os.path.join(self._root, write_id)
        deleting = os.path.join(self._root, deleting_name(write_id))
        try:
            os.rename(folder, deleting)
        except FileNotFoundError:
            return
        remove(deleting)

    def delete_files(self, write_id: str, names: set[str]) -> None:
        """Delete files of a write's folder (the caller has kept to ``is_own_file``)."""
        folder = os.path.join(self._root, write_id)
        for name in sorted(names):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(folder, name))
        for name in SUBFOLDERS:
            with contextlib.suppress(OSError):  # not empty (a level is still named), or none
                os.rmdir(os.path.join(folder, name))

    def delete_manifest(self, write_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._root, manifest_name(write_id)))

    def delete_debris(self, name: str) -> None:
        remove(os.path.join(self._root, name))

    def delete_partial_vrts(self, beside: Sequence[str] = ()) -> None:
        """VRTs, and files ``beside`` it, a killed write did not publish (the caller holds
        the lock: none is being written)."""
        for target in (self.vrt.name, *beside):
            path = self.vrt.parent / target
            partial = re.compile(
                rf"\.{re.escape(path.name)}\.[0-9a-f]{{{WRITE_ID_LENGTH}}}{re.escape(PARTIAL_SUFFIX)}"
            )
            for name, _ in entries(os.fspath(path.parent)):
                if partial.fullmatch(name):
                    remove(os.fspath(path.parent / name))
            if path.parent != self.vrt.parent:
                with contextlib.suppress(OSError):  # holds the file, or is not there
                    os.rmdir(path.parent)  # left empty by a write killed publishing

    def _read_manifest(self, name: str) -> bytes | None:
        try:
            with open(os.path.join(self._root, name), "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None


def _version(status: os.stat_result) -> Version:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


