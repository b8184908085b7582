"""Where the bytes go on an fsspec store (S3, GCS, Azure, memory), and how a write is
published there safely without renames.

Object stores guarantee that a single PUT is atomic and that a read sees the last PUT;
they have no rename. So each write puts its tiles under a prefix of its own,
``<stem>_tiles/<write id>/``, which no other write uses, and puts the VRT last: until that
PUT, the VRT (if any) is the old one and references only the old write's tiles, which are
still there; from it on, it is the new one. Only then are the other writes' prefixes (the
replaced output, debris of killed writes) deleted, as a best effort.

A failed or interrupted write may be aborted while its final task still runs elsewhere
(a pool thread, a worker). An abort therefore first puts a marker, ``<write id>.aborted``;
the final task looks for it right after putting the VRT and, if it is there, puts the old
VRT back before deleting anything. The abort deletes its tiles only if the VRT does not
reference them. Whichever runs first, the VRT ends up the old one with its tiles, or the
new one with its tiles. Writes to one path must not run concurrently.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.core import split_protocol

from .errors import OutputExistsError, WriteAbortedError

logger = logging.getLogger("xr_tiles")

WRITE_ID_LENGTH = 12
ABORTED = ".aborted"
# A write's tiles prefix, or its abort marker.
WRITE_ENTRY = re.compile(f"([0-9a-f]{{{WRITE_ID_LENGTH}}})(\\{ABORTED})?")


@dataclass(frozen=True)
class StoreTarget:
    """A VRT URL on an fsspec filesystem, and the prefix its tiles go under.

    Picklable: workers open the filesystem themselves (fsspec caches one instance per
    process and options), and put each tile they encode.
    """

    url: str
    storage_options: Mapping[str, Any] = field(repr=False)  # may hold credentials
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex[:WRITE_ID_LENGTH])

    @property
    def tiles_folder(self) -> str:
        """The tiles' folder relative to the VRT, as the VRT's sources name it."""
        stem = posixpath.splitext(posixpath.basename(self._vrt))[0]
        return f"{stem}_tiles/{self.write_id}"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        protocol = split_protocol(self.url)[0]
        return fsspec.filesystem(protocol, **self.storage_options)

    def check_mode(self, mode: str) -> None:
        """Refuse an existing VRT, or tiles of earlier writes, under ``mode="w-"``, before
        anything is written (as on local disk); open the filesystem either way, so that
        bad ``storage_options`` fail here."""
        fs = self.fs
        if mode != "w-":
            return
        fs.invalidate_cache(posixpath.dirname(self._vrt))
        for existing in (self._vrt, self._tiles_root):
            if fs.exists(existing):
                raise OutputExistsError(
                    f"{self._url_of(existing)} already exists; pass mode='w' to replace it"
                )

    def prepare(self) -> None:
        """Nothing to make: an object store has no folders."""

    def put_tile(self, filename: str, data: bytes) -> int:
        self.fs.pipe_file(posixpath.join(self._tiles, filename), data)
        return len(data)

    put_overview = put_tile  # an overview's name holds its subfolder, which PUT creates

    def publish(self, vrt_text: str, mode: str) -> str:
        """Put the VRT, then delete every other write's tiles; return the VRT's URL."""
        fs = self.fs
        old = self._current_vrt()
        if mode == "w-" and old is not None:
            raise OutputExistsError(f"{self.url} already exists; pass mode='w' to replace it")
        fs.pipe_file(self._vrt, vrt_text.encode())
        if fs.exists(self._marker):
            self._restore(old)
            raise WriteAbortedError(f"the write to {self.url} was aborted; the old VRT is back")
        self._delete_other_writes()
        return self.url

    def abort(self) -> None:
        """Mark this write aborted, then delete its tiles unless the VRT references them
        (the final task published first). A tile task still running may put its tile
        afterwards; the next write to this path deletes it."""
        fs = self.fs
        fs.pipe_file(self._marker, b"")
        current = self._current_vrt()
        if current is not None and self.tiles_folder.encode() in current:
            return
        with contextlib.suppress(FileNotFoundError):
            fs.rm(self._tiles, recursive=True)

    @property
    def _vrt(self) -> str:
        """The VRT's path as the filesystem names it (no protocol)."""
        return str(split_protocol(self.url)[1])

    @property
    def _tiles_root(self) -> str:
        return posixpath.dirname(self._tiles)

    @property
    def _tiles(self) -> str:
        return posixpath.join(posixpath.dirname(self._vrt), self.tiles_folder)

    @property
    def _marker(self) -> str:
        return self._tiles + ABORTED

    def _url_of(self, path: str) -> str:
        protocol = split_protocol(self.url)[0]
        return f"{protocol}://{path.lstrip('/')}"

    def _current_vrt(self) -> bytes | None:
        """The VRT as it is now (a read sees the last PUT; fsspec's caches are skipped)."""
        fs = self.fs
        fs.invalidate_cache(self._vrt)
        try:
            return bytes(fs.cat_file(self._vrt))
        except FileNotFoundError:
            return None

    def _restore(self, old: bytes | None) -> None:
        if old is None:
            self.fs.rm_file(self._vrt)
        else:
            self.fs.pipe_file(self._vrt, old)

    def _delete_other_writes(self) -> None:
        """Best effort: the new VRT is published; a failure here leaves debris (which the
        next write deletes), never a broken output."""
        fs = self.fs
        try:
            listed = fs.ls(self._tiles_root, detail=False, refresh=True)
            for path in listed:
                entry = WRITE_ENTRY.fullmatch(posixpath.basename(path.rstrip("/")))
                if entry and entry[1] != self.write_id:
                    # No glob characters can be in these paths (parse_path refuses them).
                    fs.rm(path, recursive=True)
        except Exception as error:  # noqa: BLE001 - published already; report, go on
            logger.warning("%s: old tiles not deleted (%s); the next write deletes them",
                           self.url, error)
