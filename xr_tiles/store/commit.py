"""The commit protocol: immutable tiles, one atomic pointer.

The VRT is the one pointer that makes a set of immutable tiles the output, as a table
format's metadata pointer (Iceberg, Delta Lake) or a git ref does; local disks and object
stores differ only in their primitives (``local``, ``objectstore``).

1. A write puts a manifest, ``<stem>_tiles/<write id>.json`` (who writes, and what),
   then its tiles and overview files under a folder of its own, ``<write id>/``. Nothing
   is ever modified once written.
2. It makes them durable, deletes GDAL's sidecars of the VRT (a user's ``.ovr`` pyramids,
   ``.aux.xml``, ``.msk``: they describe the old mosaic), then publishes the VRT in one
   atomic step, conditional on the VRT being still the one it found: until then a reader
   finds the old output, from then on the new one.
3. Then what it publishes beside the VRT, each in one step: a tile index
   (``<stem>.gti.gpkg``) and a STAC Collection (``<stem>_stac/collection.json``), staged
   in its folder; those of earlier writes it has not are deleted.
4. Only then are the files no VRT names deleted (best effort: the next write retries):
   earlier writes' folders, tiles a region update replaced, debris of killed writes, its
   own manifest. Never a folder whose write may still be running.

A failed or killed write keeps the tiles it completed: ``resume=True`` continues it in its
folder, writing only the missing tiles; any other write deletes them once it publishes.
One writer at a time: on local disk the path's lock (``lock``) says who; on object stores
the writers' manifests, which a running write keeps fresh, and the conditional PUT. A
write taken for dead by mistake (silent too long) loses its folder, and then fails: it
publishes only once sure, under the lock, that every file its VRT names is there.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import WriteConflictError
from .layout import beside, is_own_file, sidecars
from .listing import Listing, WriteEntry
from .liveness import check_conflicts, may_be_running
from .lock import PathLock
from .manifest import RUNNING, Manifest
from .planning import CommitPlan
from .sink import Heartbeat, TileSink, abort_write
from .writer import Writer

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger("xr_tiles")


class Commit:
    """One write's way through the protocol: ``begin``, then ``publish`` or ``abort``.

    ``eager``: computed now, by this process, which holds the path's lock (local disk)
    or keeps the manifest fresh (object stores) from ``begin`` to the end. A lazy write
    (``compute=False``) begins in its first task, its tasks keep its manifest fresh, and
    it locks only to begin and to publish.
    Picklable, without the lock and heartbeat, for a lazy write's tasks.
    """

    def __init__(
        self, store: Store, plan: CommitPlan, identity: Mapping[str, Any], tiles: int,
        *, eager: bool, stac_time: list[str] | None = None,
    ) -> None:
        self.store, self.plan, self.eager = store, plan, eager
        self.manifest = Manifest(
            plan.write_id, RUNNING, Writer.current(), dict(identity), tiles,
            lock=eager and store.lockable, heartbeat=eager and not store.lockable,
            run=uuid.uuid4().hex, stac_time=stac_time,
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
        """Put the manifest and make the folder, once sure, under the path's lock, that
        the VRT is still the one planned for and that no other write runs."""
        store, plan = self.store, self.plan
        if store.lockable:
            self._lock = store.lock(plan.write_id, Writer.current())
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
                self._heartbeat = Heartbeat(store, self.write_id)
        except BaseException:
            self._release()
            raise
        if not self.eager:
            self._release()  # a lazy write's tasks, which beat, may run anywhere

    def sink(self) -> TileSink:
        """What a tile task puts its file through."""
        return TileSink(self.store, self.plan.write_id, self.store.durable,
                        None if self.eager else self.manifest.run, self.manifest.run)

    @contextlib.contextmanager
    def finishing(self) -> Iterator[None]:
        """Around a lazy write's final task (index, levels, publish): beat meanwhile,
        and abort on failure. It runs after ``begin``, though maybe in another process."""
        self._began = True
        self._heartbeat = Heartbeat(self.store, self.write_id)
        try:
            yield
        except BaseException as error:
            self.abort(error)
            raise
        finally:
            self._release()

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
            self._check_whole(referenced.get(self.write_id, set()))
            store.flush(self.write_id)
            self._drop_sidecars()
            self._put_vrt(vrt_text)
            self._publish_beside({name for name, _ in files})
            self._stop_heartbeat()  # before deleting: a late beat would bring a manifest back
            self._clean(referenced)
        finally:
            self._release()
        return store.result

    def tidy(self, referenced: Mapping[str, set[str]]) -> pathlib.Path | str:
        """For a write that was published already (resumed after the publish): delete
        what its cleanup did not get to."""
        if self.store.lockable:
            self._lock = self.store.lock(self.write_id, Writer.current())
        try:
            self._publish_beside(self.store.files(self.write_id))
            self._clean(referenced)
        finally:
            self._release()
        return self.store.result

    def abort(self, error: BaseException) -> None:
        """The write failed or was interrupted: mark its tiles kept (for ``resume=True``),
        say so on ``error``, let go of the path. Best effort: ``error`` is what matters."""
        self._stop_heartbeat()
        try:
            if self._published:
                error.add_note(f"xr_tiles: {self.store.where()} was published before this")
            elif self._began and not self._discarded:
                abort_write(self.store, self.write_id, self.manifest.run, error, self.manifest)
        finally:
            self._release()

    def _check_whole(self, names: set[str]) -> None:
        """Refuse to publish a VRT naming files that are gone: another write took this
        one for dead (silent too long) and deleted its folder."""
        missing = names - self.store.files(self.write_id)
        if missing:
            self._discard()  # what is left of it, and its manifest
            raise WriteConflictError(
                f"{len(missing)} of the files of {self.store.where(self.write_id)} were "
                "deleted by another write, which took this one for dead (silent for "
                "too long); nothing was published"
            )

    def _put_vrt(self, vrt_text: str) -> None:
        """Publish; sure of the outcome where the step's report is not (an error after
        the VRT is in place, a retried conditional PUT that had succeeded)."""
        try:
            self.store.publish(vrt_text, self.write_id, self.plan.expected)
        except WriteConflictError:
            if self._vrt_names_this_write():
                self._published = True
                return
            self._discard()
            raise
        except BaseException as error:
            if not self._vrt_names_this_write():
                raise
            self._published = True
            if not isinstance(error, Exception):
                raise  # an interrupt: published, and let through
            logger.warning("%s: published, though %s", self.store.where(), error)
            return
        self._published = True

    def _publish_beside(self, staged: set[str]) -> None:
        """After the VRT, what this write staged to publish beside it (a tile index, a
        catalogue), each in one step; the others there are deleted. Until this is done
        no file is deleted: a reader of one not yet replaced still finds its tiles."""
        store = self.store
        for name, target in beside(store.root_name).items():
            if name in staged:
                store.publish_beside(self.write_id, name, target)
            elif store.exists_beside(target):
                store.delete_beside(target)

    def _drop_sidecars(self) -> None:
        """GDAL's sidecars of the VRT (a user's ``gdaladdo`` pyramids, statistics, a
        mask) describe the mosaic they were made of, and GDAL would serve them for the new
        one: they go just before it is published. The old mosaic keeps them while this
        write runs, and without them reads the same pixels (reduced reads from its own
        overviews or its full resolution): at no instant stale data."""
        store = self.store
        for target in sidecars(store.root_name):
            if store.exists_beside(target):
                store.delete_beside(target)

    def _vrt_names_this_write(self) -> bool:
        """Whether the VRT now names this write's files (published by it, or by a write
        that resumed it)."""
        try:
            text, _ = self.store.read_vrt()
        except Exception:  # noqa: BLE001 - cannot tell: not published, as far as known
            return False
        return text is not None and f"/{self.write_id}/" in text

    def _lock_to_publish(self) -> None:
        try:
            self._lock = self.store.lock(self.write_id, Writer.current())
        except WriteConflictError:
            self._discard()
            raise

    def _discard(self) -> None:
        """Another write won: delete this one's files, only them, unless another run of
        this write (a resume, which took this one for dead) has them now or published
        them."""
        self._discarded = True
        self._stop_heartbeat()
        store = self.store
        try:
            holder = store.holder()
            if self._lock is None and holder is not None and holder.write_id == self.write_id:
                return  # another run of this write holds the lock
            if self._vrt_names_this_write():
                return
            listed = store.list_root().writes.get(self.write_id)
            if listed is not None and listed.manifest is not None and (
                listed.manifest.run != self.manifest.run
            ):
                return
            store.delete_write(self.write_id)
            store.delete_manifest(self.write_id)
        except Exception as problem:  # noqa: BLE001 - the conflict is what to report
            logger.warning("%s: could not delete the tiles of the write that lost (%s)",
                           store.where(self.write_id), problem)

    def _clean(self, referenced: Mapping[str, set[str]]) -> None:
        """Delete what no VRT names, sparing writes that may still run. Best effort,
        entry by entry: the VRT is published; what is left the next write deletes."""
        store = self.store
        try:
            listing = store.list_root()
        except Exception as problem:  # noqa: BLE001 - published already; report, go on
            self._cleanup_failed(problem)
            return
        deletions: list[Callable[[], None]] = [
            *(lambda write=write: self._clean_write(write, listing, referenced)
              for write in listing.writes.values()),
            *(lambda name=name: store.delete_debris(name) for name in listing.debris),
            lambda: store.delete_partial_vrts(list(beside(store.root_name).values())),
        ]
        for deletion in deletions:
            try:
                deletion()
            except Exception as problem:  # noqa: BLE001 - published already; go on
                self._cleanup_failed(problem)

    def _cleanup_failed(self, problem: Exception) -> None:
        logger.warning("%s: published; old files not all deleted (%s): the next write "
                       "deletes them", self.store.where(), problem)

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
        elif write.folder and not (own and self._published and not self.plan.resumed):
            # A fresh write's folder holds only what it put; others may hold tiles that
            # a region update replaced, or partial files of a killed write, and files
            # that are not xr_tiles' (a GIS's .aux.xml), which stay.
            unnamed = store.files(write_id) - referenced[write_id]
            store.delete_files(write_id, {name for name in unnamed if is_own_file(name)})
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
