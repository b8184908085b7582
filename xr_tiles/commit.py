"""Where the bytes go, and how a write is published atomically: the targets' shared
interface, and the local disk's (fsspec stores: ``objectstore``)."""

from __future__ import annotations

import functools
import glob
import os
import pathlib
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import OutputExistsError
from .objectstore import WRITE_ID_LENGTH, StoreTarget

PARTIAL = "partial"
TRASH = "trash"
DELETING = "deleting"
# Matches only a write id, so that the staging of "a_tiles.2.vrt" is not taken for ours.
WRITE_ID_GLOB = "[0-9a-f]" * WRITE_ID_LENGTH


class Target(Protocol):
    """Where a write puts its files, and how it makes them the output at the end."""

    @property
    def write_id(self) -> str: ...

    @property
    def tiles_folder(self) -> str:
        """The tiles' folder relative to the VRT, as the VRT's sources name it."""

    def check_mode(self, mode: str) -> None: ...

    def prepare(self) -> None: ...

    def put_tile(self, filename: str, data: bytes) -> int: ...

    def put_overview(self, filename: str, data: bytes) -> int: ...

    def publish(self, vrt_text: str, mode: str) -> pathlib.Path | str: ...

    def abort(self) -> None: ...


def target_for(path: pathlib.Path | str, storage_options: Mapping[str, Any]) -> Target:
    """A local path's target, or an fsspec URL's (``parse_path`` tells them apart)."""
    if isinstance(path, pathlib.Path):
        return LocalTarget(path)
    return StoreTarget(path, storage_options)


@dataclass(frozen=True)
class LocalTarget:
    """A VRT path and its ``<stem>_tiles/`` folder, staged under hidden names until commit.

    Tiles and the VRT are written to ``.<name>.<write id>.partial`` names beside the VRT.
    Publishing renames them into place: the VRT is either absent, the complete old
    output or the complete new output, and old tiles are removed only after the new VRT
    stopped referencing them. Writes to one path must not run concurrently.
    """

    vrt: pathlib.Path
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex[:WRITE_ID_LENGTH])

    @property
    def tiles_folder(self) -> str:
        return f"{self.vrt.stem}_tiles"

    @property
    def tiles(self) -> pathlib.Path:
        return self.vrt.with_name(self.tiles_folder)

    def check_mode(self, mode: str) -> None:
        """Refuse an existing output under ``mode="w-"``, before anything is written."""
        if mode != "w-":
            return
        for existing in (self.vrt, self.tiles):
            if existing.exists():
                raise OutputExistsError(
                    f"{existing} already exists; pass mode='w' to replace it"
                )

    def prepare(self) -> None:
        """Remove what killed writes to this path left, then make the staging folder."""
        self.vrt.parent.mkdir(parents=True, exist_ok=True)
        for leftover in self._debris():
            _remove(leftover)
        self._staged(self.tiles).mkdir()

    def put_tile(self, filename: str, data: bytes) -> int:
        with open(os.path.join(self._staged_tiles, filename), "wb") as file:
            return file.write(data)

    def put_overview(self, filename: str, data: bytes) -> int:
        """A file in a subfolder of the tiles folder (overview levels), made on first use."""
        path = os.path.join(self._staged_tiles, filename)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            return file.write(data)

    @functools.cached_property
    def _staged_tiles(self) -> str:
        # Worked out once per write, not per tile: pathlib costs microseconds a call.
        return os.fspath(self._staged(self.tiles))

    def publish(self, vrt_text: str, mode: str) -> pathlib.Path:
        """Make the staged write the output, replacing the old one under ``mode="w"``."""
        staged_vrt, staged_tiles = self._staged(self.vrt), self._staged(self.tiles)
        staged_vrt.write_text(vrt_text, encoding="utf-8")
        try:
            if mode == "w-":
                self._publish_new(staged_vrt, staged_tiles)
            else:
                self._publish_replacing(staged_vrt, staged_tiles)
        finally:
            self.abort()
        return self.vrt

    def abort(self) -> None:
        """Remove everything this write staged or moved aside.

        Tile tasks of a failed write may still run (dask does not wait for them): the
        staging folder is renamed before it is removed, so that they can no longer
        create files in it.
        """
        deleting = self._hidden(self.tiles, DELETING)
        if _move(self._staged(self.tiles), deleting):
            _remove(deleting)
        for path in (self._staged(self.vrt), self._trashed(self.vrt), self._trashed(self.tiles)):
            _remove(path)

    def _publish_new(self, staged_vrt: pathlib.Path, staged_tiles: pathlib.Path) -> None:
        self.check_mode("w-")
        os.rename(staged_tiles, self.tiles)
        try:
            # A hard link creates the VRT only if no other writer created it meanwhile.
            os.link(staged_vrt, self.vrt)
        except FileExistsError:
            shutil.rmtree(self.tiles)
            raise OutputExistsError(
                f"{self.vrt} already exists; pass mode='w' to replace it"
            ) from None

    def _publish_replacing(self, staged_vrt: pathlib.Path, staged_tiles: pathlib.Path) -> None:
        # The old VRT goes first, so that it never points at the new tiles.
        moved = [path for path in (self.vrt, self.tiles) if _move(path, self._trashed(path))]
        try:
            os.rename(staged_tiles, self.tiles)
            os.rename(staged_vrt, self.vrt)
        except BaseException:
            if not staged_tiles.exists():
                _move(self.tiles, staged_tiles)
            for path in reversed(moved):
                os.rename(self._trashed(path), path)
            raise

    def _staged(self, path: pathlib.Path) -> pathlib.Path:
        return self._hidden(path, PARTIAL)

    def _trashed(self, path: pathlib.Path) -> pathlib.Path:
        return self._hidden(path, TRASH)

    def _hidden(self, path: pathlib.Path, suffix: str) -> pathlib.Path:
        """``path``'s hidden name for this write, in one of its stages (``suffix``)."""
        return path.with_name(f".{path.name}.{self.write_id}.{suffix}")

    def _debris(self) -> list[pathlib.Path]:
        names = (self.vrt.name, self.tiles.name)
        return [
            path
            for name in names
            for suffix in (PARTIAL, TRASH, DELETING)
            for path in self.vrt.parent.glob(f".{glob.escape(name)}.{WRITE_ID_GLOB}.{suffix}")
        ]


def _move(source: pathlib.Path, destination: pathlib.Path) -> bool:
    try:
        os.rename(source, destination)
    except FileNotFoundError:
        return False
    return True


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
