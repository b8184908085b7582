"""The commit protocol: immutable tiles, one atomic pointer.

The VRT is the one pointer that makes a set of immutable tiles the output, as a table
format's metadata pointer (Iceberg, Delta Lake) or a git ref does; local disks and object
stores differ only in their primitives (``local``, ``objectstore``).

1. A write puts a manifest, ``<stem>_tiles/<write id>.json`` (who writes, and what),
   then its tiles and overview files under a folder of its own, ``<write id>/``. Nothing
   is ever modified once written.
2. It makes them durable, then publishes the VRT in one atomic step, conditional on the
   VRT being still the one it found: until then a reader finds the old output, from then
   on the new one.
3. Only then are the files no VRT names deleted (best effort: the next write retries):
   earlier writes' folders, tiles a region update replaced, debris of killed writes, its
   own manifest. Never a folder whose write may still be running.

A failed or killed write keeps the tiles it completed: ``resume=True`` continues it in its
folder, writing only the missing tiles; any other write deletes them once it publishes.
One writer at a time: on local disk the path's lock (``lock``) says who; on object stores
the writers' manifests, which a running write keeps fresh, and the conditional PUT.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import WriteConflictError
from ..plan import OVERVIEWS
from .layout import is_partial
from .listing import Listing, WriteEntry
from .liveness import busy, check_conflicts, may_be_running
from .lock import PathLock
from .manifest import RUNNING, Manifest
from .planning import CommitPlan
from .sink import Heartbeat, TileSink
from .writer import Writer

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger("xr_tiles")


class Commit:
    """One write's way through the protocol: ``begin``, then ``publish`` or ``abort``.

    ``eager``: computed now, by this process, which holds the path's lock (local disk)
    or keeps the manifest fresh (object stores) from ``begin`` to the end. A lazy write
    (``compute=False``) begins in its first task and locks only to publish.
    Picklable, without the lock and heartbeat, for a lazy write's tasks.
    """

    def __init__(
        self, store: Store, plan: CommitPlan, identity: Mapping[str, Any], tiles: int,
        *, eager: bool,
    ) -> None:
        self.store, self.plan, self.eager = store, plan, eager
        self.manifest = Manifest(
            plan.write_id, RUNNING, Writer.current(), dict(identity), tiles,
            lock=eager and store.lockable, heartbeat=eager and not store.lockable,
        )
        self._lock: PathLock | None = None
        self._heartbeat: Heartbeat | None = None
        self._began = self._published = self._discarded = False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_lock": None, "_heartbeat": None}

    @property
    def write_id(self) -> str:
        return self.plan.write_id

    def begin(self) -> None:
        """Put the manifest and make the folder, once sure that the VRT is still the one
        planned for and that no other write runs."""
        with self._task():
            self._begin()

    def _begin(self) -> None:
        store, plan = self.store, self.plan
        if self.eager and store.lockable:
            self._lock = store.lock(plan.write_id, self.manifest.writer)
        try:
            if store.vrt_version() != plan.expected:
                raise WriteConflictError(
                    f"{store.where()} was changed by another writer since this write was "
                    "planned; nothing was written"
                )
            listing = store.list_root()
            check_conflicts(store, listing, own=plan.write_id, published=plan.published)
            kept = listing.writes.get(plan.write_id)
            if plan.resumed and (kept is None or not kept.folder):
                raise WriteConflictError(
                    f"the kept tiles of {store.where(plan.write_id)} were deleted since this "
                    "write was planned; nothing was written"
                )
            store.put_manifest(self.manifest)
            self._began = True
            store.make_folder(plan.write_id)
            if self.manifest.heartbeat:
                self._heartbeat = Heartbeat(store, self.manifest)
        except BaseException:
            self._release()
            raise

    def sink(self) -> TileSink:
        """What a tile task puts its file through."""
        beats = not self.eager and not self.store.lockable
        return TileSink(self.store, self.plan.write_id, self.store.durable, not self.eager,
                        self.manifest if beats else None)

    def _task(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self.eager else busy(self.write_id)

    def publish(
        self, files: Sequence[tuple[str, bytes]], vrt_text: str,
        referenced: Mapping[str, set[str]],
    ) -> pathlib.Path | str:
        """Put ``files`` (overview levels) in the write's folder, make everything durable,
        publish ``vrt_text``, then delete what no VRT names (``referenced``: each write's
        files that it names). Return the VRT's path or URL."""
        store = self.store
        try:
            if self._lock is None and store.lockable:
                self._lock_to_publish()
            for name, data in files:
                store.put(self.write_id, name, data)
            store.flush(self.write_id)
            try:
                store.publish(vrt_text, self.write_id, self.plan.expected)
            except WriteConflictError:
                self._discard()
                raise
            self._published = True
            self._clean(referenced)
        finally:
            self._release()
        return store.result

    def tidy(self, referenced: Mapping[str, set[str]]) -> pathlib.Path | str:
        """For a write that was published already (resumed after the publish): delete
        what its cleanup did not get to."""
        if self.store.lockable:
            self._lock = self.store.lock(self.write_id, self.manifest.writer)
        try:
            self._clean(referenced)
        finally:
            self._release()
        return self.store.result

    def abort(self, error: BaseException) -> None:
        """The write failed or was interrupted: mark its tiles kept (for ``resume=True``),
        say so on ``error``, let go of the path. Best effort: ``error`` is what matters."""
        self._stop_heartbeat()
        try:
            if self._began and not (self._published or self._discarded):
                kept = sum(
                    1 for name in self.store.files(self.write_id)
                    if not (is_partial(name) or name.startswith(f"{OVERVIEWS}/"))
                )
                error.add_note(
                    f"xr_tiles: {kept} of this write's {self.manifest.tiles} tiles are kept "
                    f"in {self.store.where(self.write_id)}; to_vrt(..., resume=True) with "
                    "the same input and options writes only the others (a write without "
                    "resume=True deletes them)"
                )
                # Where this fails too (a full disk), the manifest still says running,
                # and its writer is dead or its lock free once this process lets go.
                self.store.put_manifest(self.manifest.aborted())
        except Exception as problem:  # noqa: BLE001 - report, and let the error through
            logger.warning("%s: could not mark the failed write's tiles kept (%s)",
                           self.store.where(), problem)
        finally:
            self._release()

    def _lock_to_publish(self) -> None:
        try:
            self._lock = self.store.lock(self.write_id, self.manifest.writer)
        except WriteConflictError:
            self._discard()
            raise

    def _discard(self) -> None:
        """Another write won: delete this one's files, only them, unless the VRT now names
        them (a write that resumed this one, thinking it dead, published them)."""
        self._discarded = True
        try:
            text, _ = self.store.read_vrt()
            if text is not None and f"/{self.write_id}/" in text:
                return
            self.store.delete_write(self.write_id)
            self.store.delete_manifest(self.write_id)
        except Exception as problem:  # noqa: BLE001 - the conflict is what to report
            logger.warning("%s: could not delete the tiles of the write that lost (%s)",
                           self.store.where(self.write_id), problem)

    def _clean(self, referenced: Mapping[str, set[str]]) -> None:
        """Delete what no VRT names, sparing writes that may still run. Best effort:
        the VRT is published; what is left the next write deletes."""
        store = self.store
        try:
            listing = store.list_root()
            for write in listing.writes.values():
                self._clean_write(write, listing, referenced)
            for name in listing.debris:
                store.delete_debris(name)
            store.delete_partial_vrts()
        except Exception as problem:  # noqa: BLE001 - published already; report, go on
            logger.warning("%s: published; old files not all deleted (%s): the next write "
                           "deletes them", store.where(), problem)

    def _clean_write(
        self, write: WriteEntry, listing: Listing, referenced: Mapping[str, set[str]]
    ) -> None:
        store, write_id = self.store, write.write_id
        own = write_id == self.write_id
        if write_id not in referenced:
            if not own and may_be_running(write, listing):
                return
            if write.folder:
                store.delete_write(write_id)
        elif write.folder and not (own and not self.plan.resumed):
            # A fresh write's folder holds only what it put; others may hold tiles that
            # a region update replaced, or partial files of a killed write.
            store.delete_files(write_id, store.files(write_id) - referenced[write_id])
        if write.manifest_file:
            store.delete_manifest(write_id)

    def _release(self) -> None:
        self._stop_heartbeat()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None


