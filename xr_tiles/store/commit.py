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
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import state
from ..errors import InvalidOptionError, OutputExistsError, WriteConflictError
from ..plan import OVERVIEWS
from .layout import is_partial, new_write_id
from .listing import Listing, WriteEntry
from .local import LocalStore
from .lock import PathLock
from .manifest import RUNNING, Manifest
from .objectstore import ObjectStore
from .writer import Writer

logger = logging.getLogger("xr_tiles")

Store = LocalStore | ObjectStore
# A write with a heartbeat (or, without one, with tiles coming) seen active this recently
# is running: another write to the path fails at once.
RUNNING_WINDOW_S = 60.0
HEARTBEAT_S = 10.0
# A write without a heartbeat (compute=False) seen active this recently may still be
# running: its folder is spared by cleanup.
SPARE_WINDOW_S = 3600.0


@dataclass(frozen=True)
class Existing:
    """What was at the path when the write was planned (read only)."""

    version: Any  # the VRT's version, None where there is none
    published: state.Published | None  # what an xr_tiles VRT says of itself
    foreign: str | None  # why a VRT that is there is not an xr_tiles mosaic
    listing: Listing


@dataclass(frozen=True)
class CommitPlan:
    """Which write this is: a new one, or a resumed one with the tiles it kept."""

    write_id: str
    expected: Any  # the VRT's version this write replaces
    published: frozenset[str] = frozenset()  # the writes that VRT names: none of them runs
    kept: frozenset[str] = frozenset()  # the names of the files a resumed write has
    resumed: bool = False
    done: bool = False  # the same write was published already: only tidy up


def inspect(store: Store) -> Existing:
    text, version = store.read_vrt()
    published, foreign = None, None
    if text is not None:
        try:
            published = state.published(text, store.root_name)
        except state.ForeignVrtError as error:
            foreign = str(error)
    return Existing(version, published, foreign, store.list_root())


def plan_commit(
    store: Store, existing: Existing, identity: Mapping[str, Any], mode: str, resume: bool
) -> CommitPlan:
    """This write's plan, or an error before anything is written: another write runs,
    ``mode`` refuses what is there, or ``resume`` finds another write's tiles."""
    published = existing.published
    named = frozenset() if published is None else frozenset(published.files())
    check_conflicts(store, existing.listing, own=None, published=named)
    if resume and published is not None and dict(published.identity) == dict(identity):
        return CommitPlan(published.write_id, existing.version, named, done=True)
    if mode == "w-":
        _check_new(store, existing)
    if resume:
        kept = _resumable(store, existing, identity, named)
        if kept is not None:
            names = frozenset(name for name in store.files(kept.write_id) if not is_partial(name))
            return CommitPlan(kept.write_id, existing.version, named, kept=names, resumed=True)
        logger.info("%s: resume=True found no write to resume; writing it all", store.where())
    return CommitPlan(new_write_id(), existing.version, named)


def check_conflicts(
    store: Store, listing: Listing, own: str | None, published: frozenset[str]
) -> None:
    """Raise ``WriteConflictError`` naming a write other than ``own`` that runs (none
    of the ``published`` ones does, whatever their manifests say)."""
    holder = listing.holder
    if holder is not None and holder.write_id != own:
        raise WriteConflictError(
            f"{store.where()} is being written by {holder}; writes to one path run one "
            "at a time: wait for it to end (a killed write releases its lock at once)"
        )
    now = time.time()
    for write in listing.writes.values():
        manifest = write.manifest
        if write.write_id == own or write.write_id in published:
            continue
        if manifest is None or manifest.state != RUNNING:
            continue
        if manifest.lock or manifest.writer.is_dead():
            continue  # a locking write runs exactly while it holds the lock (above)
        age = now - write.activity
        running = _running_here(write) if _lazy_here(manifest) else age < RUNNING_WINDOW_S
        if running:
            raise WriteConflictError(
                f"{store.where()} is being written by write {write.write_id} "
                f"({manifest.writer}), active {age:.0f} s ago; writes to one path run one "
                f"at a time: wait for it to end (a write silent for {RUNNING_WINDOW_S:.0f} s "
                "counts as dead)"
            )


def may_be_running(write: WriteEntry, listing: Listing) -> bool:
    """Whether ``write``'s folder must be spared: its write may still add to it."""
    manifest = write.manifest
    if manifest is None or manifest.state != RUNNING:
        return False
    if manifest.lock:
        return listing.holder is not None and listing.holder.write_id == write.write_id
    if manifest.writer.is_dead():
        return False
    if _lazy_here(manifest):
        return _running_here(write)
    window = RUNNING_WINDOW_S if manifest.heartbeat else SPARE_WINDOW_S
    return time.time() - write.activity < window


# compute=False writes begun by this process: how many of their tasks run now. Such a
# write runs exactly while one does: between them, it has failed or is about to.
_busy: Counter[str] = Counter()
_busy_lock = threading.Lock()


@contextlib.contextmanager
def busy(write_id: str) -> Iterator[None]:
    """Count a lazy write's task as running, in this process, while in the block."""
    with _busy_lock:
        _busy[write_id] += 1
    try:
        yield
    finally:
        with _busy_lock:
            _busy[write_id] -= 1
            if not _busy[write_id]:
                del _busy[write_id]


def _lazy_here(manifest: Manifest) -> bool:
    return not (manifest.lock or manifest.heartbeat) and manifest.writer.is_this_process


def _running_here(write: WriteEntry) -> bool:
    return _busy.get(write.write_id, 0) > 0


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
        self._heartbeat: _Heartbeat | None = None
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
                self._heartbeat = _Heartbeat(store, self.manifest)
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
                self._clean_write(write, listing, referenced.get(write.write_id))
            for name in listing.debris:
                store.delete_debris(name)
            store.delete_partial_vrts()
        except Exception as problem:  # noqa: BLE001 - published already; report, go on
            logger.warning("%s: published; old files not all deleted (%s): the next write "
                           "deletes them", store.where(), problem)

    def _clean_write(
        self, write: WriteEntry, listing: Listing, named: set[str] | None
    ) -> None:
        store, own = self.store, write.write_id == self.write_id
        if named is None and not own and may_be_running(write, listing):
            return
        if named is None:
            if write.folder:
                store.delete_write(write.write_id)
        elif write.folder and not (own and not self.plan.resumed):
            # A fresh write's folder holds only what it put; others may hold tiles that
            # a region update replaced, or partial files of a killed write.
            store.delete_files(write.write_id, store.files(write.write_id) - named)
        if write.manifest_file:
            store.delete_manifest(write.write_id)

    def _release(self) -> None:
        self._stop_heartbeat()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None


@dataclass(frozen=True)
class TileSink:
    """Where a tile task puts its file: the write's folder. ``durable``: fsync each file
    where the task runs on a distributed worker (which may be another host: the final
    ``flush`` cannot reach its disk). ``heartbeat``: a lazy write's manifest, put again
    every ``HEARTBEAT_S`` from the tasks, as they are its only sign of life."""

    store: Store
    write_id: str
    durable: bool
    lazy: bool = False  # its tasks count themselves as the write's signs of life
    heartbeat: Manifest | None = None

    def task(self) -> contextlib.AbstractContextManager[None]:
        """Around a tile task: a lazy write runs while one of its tasks does."""
        return busy(self.write_id) if self.lazy else contextlib.nullcontext()

    def put(self, name: str, data: bytes) -> int:
        written = self.store.put(
            self.write_id, name, data, fsync=self.durable and _in_distributed_worker()
        )
        if self.heartbeat is not None:
            _beat(self.store, self.heartbeat)
        return written

    def read(self, name: str) -> bytes:
        return self.store.read(self.write_id, name)


class _Heartbeat:
    """Puts a write's manifest again every ``HEARTBEAT_S``, until stopped."""

    def __init__(self, store: Store, manifest: Manifest) -> None:
        self._store, self._manifest = store, manifest
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xr_tiles heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                self._store.put_manifest(self._manifest)
            except Exception as problem:  # noqa: BLE001 - a missed beat is not fatal
                logger.warning("%s: heartbeat failed (%s)", self._store.where(), problem)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


_last_beats: dict[str, float] = {}


def _beat(store: Store, manifest: Manifest) -> None:
    now = time.monotonic()
    last = _last_beats.setdefault(manifest.write_id, now)
    if now - last >= HEARTBEAT_S:
        _last_beats[manifest.write_id] = now
        store.put_manifest(manifest)


def _in_distributed_worker() -> bool:
    import sys

    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def _check_new(store: Store, existing: Existing) -> None:
    """``mode="w-"``: nothing there but, at most, tiles kept by writes that never
    published (the next write deletes those)."""
    if existing.version is not None:
        raise OutputExistsError(f"{store.where()} already exists; pass mode='w' to replace it")
    foreign = existing.listing.foreign
    if foreign:
        names = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputExistsError(
            f"{store.where()}: its tiles folder {store.root_name} holds files xr_tiles did "
            f"not write ({names}); pass mode='w' to write beside them, or remove them"
        )


def _resumable(
    store: Store, existing: Existing, identity: Mapping[str, Any], published: frozenset[str]
) -> WriteEntry | None:
    """The newest write that never published and no longer runs, if it is this one;
    None if there is none; an error naming what differs if it is another."""
    candidates = sorted(
        (
            write for write in existing.listing.writes.values()
            if write.manifest is not None and write.folder and write.write_id not in published
            and not may_be_running(write, existing.listing)
        ),
        key=lambda write: write.manifest.writer.started if write.manifest else "",
    )
    matching = [w for w in candidates if w.manifest and dict(w.manifest.identity) == dict(identity)]
    if matching:
        return matching[-1]
    if not candidates:
        return None
    newest = candidates[-1]
    assert newest.manifest is not None
    found = state.differences(newest.manifest.identity, identity, list(identity))
    raise InvalidOptionError(
        f"resume=True: the write kept in {store.where(newest.write_id)} (started "
        f"{newest.manifest.writer.started}) was of {_described(found)}; pass the same input "
        "and options to resume it, or drop resume=True to write anew (which deletes its tiles)"
    )


def _described(found: list[str]) -> str:
    """``differences`` as a reader wants them: the input's token is not an option."""
    options = [item for item in found if not item.startswith("token:")]
    parts = ["another input (its dask token differs)"] if len(options) < len(found) else []
    if options:
        parts.append(f"other options ({'; '.join(options)}; kept vs now)")
    return " and ".join(parts) or "another write"
