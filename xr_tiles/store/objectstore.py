"""An fsspec store's primitives for the commit protocol (S3, GCS, Azure, memory).

Object stores guarantee that a single PUT is atomic and that a read sees the last PUT;
they have no rename. A tile is visible only once whole because it is one PUT. The VRT is
published by one PUT, conditional where the store has conditional writes (S3:
``If-None-Match: *`` when there was no VRT, ``If-Match: <ETag>`` when there was), so
that a writer whose VRT changed since it began fails instead of overwriting it. Other
stores get a read just before the PUT (which serialises the writers of one process, not
of several hosts), and fsspec's create mode for a first VRT.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import posixpath
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.core import split_protocol

from ..errors import WriteConflictError
from .layout import manifest_name
from .listing import Listing, listing
from .lock import PathLock
from .manifest import Manifest
from .writer import Writer

Version = tuple[str, str]  # ("etag", ETag) or ("sha1", digest of the content)
PRECONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
# Stores without conditional PUTs: the check before a PUT, made atomic within a process.
_UNCONDITIONAL_PUT = threading.Lock()


@dataclass(frozen=True)
class ObjectStore:
    """A VRT URL on an fsspec filesystem, and the prefix of its tiles, ``<stem>_tiles/``.

    Picklable: workers open the filesystem themselves (fsspec caches one instance per
    process and options), and put each tile they encode.
    """

    url: str
    storage_options: Mapping[str, Any] = field(repr=False)  # may hold credentials
    durable: bool = True  # a PUT is durable once it returns: nothing to flush

    lockable = False  # object stores have no locks: writers check manifests

    @property
    def root_name(self) -> str:
        stem = posixpath.splitext(posixpath.basename(self._vrt))[0]
        return f"{stem}_tiles"

    @property
    def result(self) -> str:
        return self.url

    def where(self, write_id: str | None = None) -> str:
        if write_id is None:
            return self.url
        return f"{posixpath.dirname(self.url)}/{self.root_name}/{write_id}/"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem(split_protocol(self.url)[0], **self.storage_options)

    # --- what is there -----------------------------------------------------------------

    def read_vrt(self) -> tuple[str | None, Version | None]:
        fs = self.fs
        try:
            info = fs.info(self._vrt, refresh=True) if _is_s3(fs) else None
            data = bytes(fs.cat_file(self._vrt))
        except FileNotFoundError:
            return None, None
        return data.decode("utf-8"), _version(info, data)

    def vrt_version(self) -> Version | None:
        fs = self.fs
        try:
            if _is_s3(fs):
                return _version(fs.info(self._vrt, refresh=True), b"")
            return _version(None, bytes(fs.cat_file(self._vrt)))
        except FileNotFoundError:
            return None

    def list_root(self) -> Listing:
        fs = self.fs
        try:
            found = fs.ls(self._root, detail=True, refresh=True)
        except FileNotFoundError:
            return Listing()
        entries = [
            (posixpath.basename(item["name"].rstrip("/")), item["type"] == "directory",
             _modified(item))
            for item in found
        ]
        return listing(entries, self._read_manifest)

    def files(self, write_id: str) -> set[str]:
        fs = self.fs
        # As the filesystem names what it finds (memory:// with a leading slash).
        prefix = fs._strip_protocol(posixpath.join(self._root, write_id))
        fs.invalidate_cache(prefix)
        try:
            found = fs.find(prefix)
        except FileNotFoundError:
            return set()
        return {posixpath.relpath(path, prefix) for path in found}

    def size(self, write_id: str, name: str) -> int:
        return int(self.fs.size(posixpath.join(self._root, write_id, name)))

    def read(self, write_id: str, name: str) -> bytes:
        return bytes(self.fs.cat_file(posixpath.join(self._root, write_id, name)))

    def intact(self, write_id: str, name: str) -> bool:
        """A PUT is whole and durable once it returns: every object is."""
        return True

    def holder(self) -> None:
        return None

    def lock(self, write_id: str, writer: Writer) -> PathLock:
        raise NotImplementedError("object stores have no locks: writers check manifests")

    # --- writing -------------------------------------------------------------------------

    def put_manifest(self, manifest: Manifest) -> None:
        self.fs.pipe_file(posixpath.join(self._root, manifest_name(manifest.write_id)),
                          manifest.to_bytes())

    def manifest(self, write_id: str) -> Manifest | None:
        data = self._read_manifest(manifest_name(write_id))
        return None if data is None else Manifest.from_bytes(data)

    def touch_manifest(self, write_id: str) -> None:
        """A heartbeat: an object cannot be touched, only put again, as it is (one
        deleted since, its write published or taken for dead, is not brought back)."""
        path = posixpath.join(self._root, manifest_name(write_id))
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            return
        self.fs.pipe_file(path, data)

    def make_folder(self, write_id: str) -> None:
        """Nothing to make: an object store has no folders."""

    def put(self, write_id: str, name: str, data: bytes, *, fsync: bool = False) -> int:
        self.fs.pipe_file(posixpath.join(self._root, write_id, name), data)
        return len(data)

    def flush(self, write_id: str) -> None:
        """Nothing to flush: a PUT is durable once it returns."""

    def publish(self, text: str, write_id: str, expected: Version | None) -> None:
        """Put ``text`` as the VRT if it is still at version ``expected`` (None: still
        absent); else raise ``WriteConflictError``, changing nothing."""
        fs, data = self.fs, text.encode("utf-8")
        if _is_s3(fs):
            condition = {"IfNoneMatch": "*"} if expected is None else {"IfMatch": expected[1]}
            try:
                fs.pipe_file(self._vrt, data, **condition)
            except OSError as error:
                if _precondition_failed(error):
                    raise WriteConflictError(self._changed()) from None
                raise
            return
        with _UNCONDITIONAL_PUT:
            if self.vrt_version() != expected:
                raise WriteConflictError(self._changed())
            try:
                # fsspec's create mode: atomic where the store's filesystem implements
                # it so, else a check like the one above.
                fs.pipe_file(self._vrt, data, mode="create" if expected is None else "overwrite")
            except FileExistsError:
                raise WriteConflictError(self._changed()) from None

    def publish_beside(self, write_id: str, name: str, target: str) -> None:
        """Make a write's object ``name`` the object ``target`` (beside the VRT): one
        copy, which the store makes in one step."""
        self.fs.copy(posixpath.join(self._root, write_id, name), self._beside(target))

    def delete_beside(self, target: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._beside(target))

    def exists_beside(self, target: str) -> bool:
        fs = self.fs
        fs.invalidate_cache()
        return bool(fs.exists(self._beside(target)))

    # --- deleting -----------------------------------------------------------------------

    def delete_write(self, write_id: str) -> None:
        """Delete a write's objects. There is no rename: a task of that write still
        running (taken for dead) may put a tile after; the next write deletes it."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(posixpath.join(self._root, write_id), recursive=True)

    def delete_files(self, write_id: str, names: set[str]) -> None:
        if names:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm([posixpath.join(self._root, write_id, name) for name in sorted(names)])

    def delete_manifest(self, write_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(posixpath.join(self._root, manifest_name(write_id)))

    def delete_debris(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(posixpath.join(self._root, name), recursive=True)

    def delete_partial_vrts(self, beside: Sequence[str] = ()) -> None:
        """Nothing to delete: the VRT is one PUT, never partial."""

    # --- helpers ------------------------------------------------------------------------

    def _beside(self, target: str) -> str:
        return posixpath.join(posixpath.dirname(self._vrt), target)

    @property
    def _vrt(self) -> str:
        """The VRT's path as the filesystem names it (no protocol)."""
        return str(split_protocol(self.url)[1])

    @property
    def _root(self) -> str:
        return posixpath.join(posixpath.dirname(self._vrt), self.root_name)

    def _changed(self) -> str:
        return f"{self.url} was changed by another writer since this write began; nothing was published"

    def _read_manifest(self, name: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(posixpath.join(self._root, name)))
        except FileNotFoundError:
            return None


def _is_s3(fs: fsspec.AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "s3" in protocols


def _version(info: Mapping[str, Any] | None, data: bytes) -> Version:
    if info is not None and info.get("ETag"):
        return ("etag", str(info["ETag"]))
    return ("sha1", hashlib.sha1(data).hexdigest())


def _modified(item: Mapping[str, Any]) -> float:
    """When an entry last changed, in seconds since the epoch (0 where the store says
    nothing, as for S3's folders)."""
    value = item.get("LastModified", item.get("mtime", item.get("created")))
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else 0.0


def _precondition_failed(error: OSError) -> bool:
    """Whether s3fs' ``error`` is S3 refusing a conditional PUT (412, or 409 for a
    conditional PUT racing another)."""
    if isinstance(error, FileExistsError):
        return True
    response = getattr(error.__cause__, "response", None) or {}
    return response.get("Error", {}).get("Code") in PRECONDITION_FAILED
