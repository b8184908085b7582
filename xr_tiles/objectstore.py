"""Where the bytes go on an fsspec store (S3, GCS, Azure, memory), and how a write is
published there safely without renames.

Object stores guarantee that a single PUT is atomic, and have no rename. So each write
puts its tiles under a prefix of its own, ``<stem>_tiles/<write id>/``, which no other
write uses, and puts the VRT last: until that PUT, the VRT (if any) is the old one and
references only the old write's tiles, which are still there; from it on, it is the new
one. Only then are the other writes' prefixes (the replaced output, debris of writes
that were killed) deleted. A failed write deletes its own prefix.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.core import split_protocol

from .errors import OutputExistsError

WRITE_ID_LENGTH = 12
WRITE_ID = re.compile(f"[0-9a-f]{{{WRITE_ID_LENGTH}}}")


@dataclass(frozen=True)
class StoreTarget:
    """A VRT URL on an fsspec filesystem, and the prefix its tiles go under.

    Picklable: workers open the filesystem themselves (fsspec caches one instance per
    process and options), and put each tile they encode.
    """

    url: str
    storage_options: Mapping[str, Any]
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex[:WRITE_ID_LENGTH])

    @property
    def tiles_folder(self) -> str:
        """The tiles' folder relative to the VRT, as the VRT's sources name it."""
        stem = posixpath.splitext(posixpath.basename(self._vrt))[0]
        return f"{stem}_tiles/{self.write_id}"

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
    def fs(self) -> fsspec.AbstractFileSystem:
        protocol = split_protocol(self.url)[0]
        return fsspec.filesystem(protocol, **self.storage_options)

    def check_mode(self, mode: str) -> None:
        """Refuse an existing VRT under ``mode="w-"``, before anything is written."""
        if mode == "w-" and self.fs.exists(self._vrt):
            raise OutputExistsError(f"{self.url} already exists; pass mode='w' to replace it")

    def prepare(self) -> None:
        """Nothing to make: an object store has no folders."""

    def put_tile(self, filename: str, data: bytes) -> int:
        self.fs.pipe_file(posixpath.join(self._tiles, filename), data)
        return len(data)

    put_overview = put_tile  # an overview's name holds its subfolder, which PUT creates

    def publish(self, vrt_text: str, mode: str) -> str:
        """Put the VRT, then delete every other write's tiles; return the VRT's URL.

        ``mode="w-"`` is checked again just before the PUT: a store offers no
        create-if-absent here, so two writers racing to the same path can both succeed.
        """
        try:
            self.check_mode(mode)
            self.fs.pipe_file(self._vrt, vrt_text.encode())
        except BaseException:
            self.abort()
            raise
        for prefix in self._other_writes():
            self.fs.rm(prefix, recursive=True)
        return self.url

    def abort(self) -> None:
        """Delete this write's tiles. A tile task still running when a write fails may
        put its tile afterwards; the next write to this path deletes it."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._tiles, recursive=True)

    def _other_writes(self) -> list[str]:
        try:
            listed = self.fs.ls(self._tiles_root, detail=False)
        except FileNotFoundError:
            return []
        return [
            path for path in listed
            if WRITE_ID.fullmatch(posixpath.basename(path.rstrip("/")))
            and posixpath.basename(path.rstrip("/")) != self.write_id
        ]
