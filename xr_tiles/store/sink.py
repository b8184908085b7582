"""Where a tile task puts its file, and how a write shows that it still runs: its
manifest touched again every few seconds (its heartbeat), by a thread of an eager write
on an object store, by the tasks of a lazy write wherever they run."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .layout import is_tile
from .manifest import ABORTED, Manifest

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger("xr_tiles")

HEARTBEAT_S = 10.0
CHECK_S = 1.0  # how often a running tile task looks whether its write has failed
# From this many tiles a task, its files get one flush of the filesystem, not an fsync each.
SYNCFS_FROM_TILES = 8


@dataclass(frozen=True)
class TileSink:
    """Where a tile task puts its files: the write's folder. ``durable``: flush them at
    the task's end where it runs on a distributed worker (which may be another host: the
    final ``flush`` cannot reach its disk). ``run``: a ``compute=False`` write's run, whose
    manifest its tasks keep fresh, as they are its only sign of life, and mark aborted
    when one fails (a few bytes, not the manifest: each task carries them)."""

    store: Store
    write_id: str
    durable: bool
    run: str | None = None
    attempt: str = ""  # the run of this write (its manifest's), lazy or not

    @contextlib.contextmanager
    def task(self, tiles: int = 1) -> Iterator[bool]:
        """Around a tile task of ``tiles`` tiles: its files are durable when it returns
        their records. Yields whether each file is to be fsynced as it is put (a few
        files on a distributed worker); many get one flush of the filesystem at the end,
        which also runs, best effort, where the task fails (its tiles are kept)."""
        remote = self.durable and _in_distributed_worker()
        each = remote and tiles < SYNCFS_FROM_TILES
        with contextlib.nullcontext() if self.run is None else self._lazy_task(self.run):
            try:
                yield each
            except BaseException:
                if remote and not each:
                    with contextlib.suppress(Exception):  # the error is what matters
                        self.store.flush(self.write_id)
                raise
            if remote and not each:
                self.store.flush(self.write_id)

    def failed(self) -> None:
        """A tile of this write failed here: the write's other tasks in this process put
        no more tiles and stop at their next one (those elsewhere once the write is
        marked aborted)."""
        with _puts:
            _aborted.add(self.attempt)

    def check_running(self) -> None:
        """Raise ``WriteStoppedError`` where the write has failed (marked so in this process,
        or, looked at once a second at most, by its manifest): a task still running
        stops between tiles rather than write on for a failed write."""
        if self.attempt in _aborted:
            raise WriteStoppedError(self.write_id)
        now = time.monotonic()
        if now - _last_checks.get(self.attempt, now - CHECK_S) < CHECK_S:
            return
        _last_checks[self.attempt] = now
        try:
            manifest = self.store.manifest(self.write_id)
        except Exception:  # noqa: BLE001 - a missed look is not a failure
            return
        if manifest is None or manifest.run != self.attempt or manifest.state == ABORTED:
            _aborted.add(self.attempt)
            raise WriteStoppedError(self.write_id)

    @contextlib.contextmanager
    def _lazy_task(self, run: str) -> Iterator[None]:
        beat(self.store, self.write_id, run)
        try:
            yield
        except BaseException as error:
            abort_write(self.store, self.write_id, run, error)
            raise

    def put(self, name: str, data: bytes, *, fsync: bool = False) -> int:
        """Put a file; a tile only while the write has not failed in this process."""
        with _tile_put(self.attempt, self.write_id) if is_tile(name) else contextlib.nullcontext():
            written = self.store.put(self.write_id, name, data, fsync=fsync)
        if self.run is not None:
            beat(self.store, self.write_id, self.run)
        return written

    def read(self, name: str) -> bytes:
        return self.store.read(self.write_id, name)


class Heartbeat:
    """Touches a write's manifest every ``HEARTBEAT_S``, until stopped."""

    def __init__(self, store: Store, write_id: str) -> None:
        self._store, self._write_id = store, write_id
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xr_tiles heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                self._store.touch_manifest(self._write_id)
            except Exception as problem:  # noqa: BLE001 - a missed beat is not fatal
                logger.warning("%s: heartbeat failed (%s)", self._store.where(), problem)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


# Per process: when each lazy write's run last beat here, and which runs failed here;
# which writes are known to have failed, and when each was last looked at; the tile puts
# in progress of each run, and the condition that guards them and ``_aborted``.
_last_beats: dict[str, float] = {}
_failed: set[str] = set()
_aborted: set[str] = set()
_last_checks: dict[str, float] = {}
_putting: Counter[str] = Counter()
_puts = threading.Condition()


class WriteStoppedError(RuntimeError):
    """A tile task of a write that has failed elsewhere stopped between two tiles."""

    def __init__(self, write_id: str) -> None:
        super().__init__(f"write {write_id} failed elsewhere; its task stopped")


@contextlib.contextmanager
def _tile_put(run: str, write_id: str) -> Iterator[None]:
    """Around the put of a tile of ``run``: refused once the run has failed in this
    process, waited for by ``abort_write`` if it has begun, so that no tile lands here
    after the failure note counted the tiles kept."""
    with _puts:
        if run in _aborted:
            raise WriteStoppedError(write_id)
        _putting[run] += 1
    try:
        yield
    finally:
        with _puts:
            _putting[run] -= 1
            if not _putting[run]:
                del _putting[run]
            _puts.notify_all()


def beat(store: Store, write_id: str, run: str) -> None:
    """Touch a lazy write's manifest if this process has not for ``HEARTBEAT_S`` (a
    process's first task always does: it may be a worker that just joined)."""
    if run in _failed:
        return
    now = time.monotonic()
    if now - _last_beats.get(run, -HEARTBEAT_S) >= HEARTBEAT_S:
        _last_beats[run] = now
        store.touch_manifest(write_id)


def abort_write(
    store: Store, write_id: str, run: str, error: BaseException,
    manifest: Manifest | None = None,
) -> None:
    """Mark a failed write's tiles kept (for ``resume=True``) and say so on ``error``,
    counted once no tile of it can land in this process: tile puts under way finish
    first, later ones are refused. Once per run and process; ``manifest``: the run's,
    where known (else read, and left alone if another run has it now). Best effort:
    ``error`` is what matters."""
    if run in _failed:
        return
    _failed.add(run)
    with _puts:
        _aborted.add(run)  # its tasks still running in this process put no more tiles,
        _puts.wait_for(lambda: not _putting[run])  # once those being put are in place
    try:
        manifest = manifest or store.manifest(write_id)
        if manifest is None or manifest.run != run:
            return
        kept = sum(1 for name in store.files(write_id) if is_tile(name))
        error.add_note(
            f"xr_tiles: {kept} of this write's {manifest.tiles} tiles are kept in "
            f"{store.where(write_id)}; to_vrt(..., resume=True) with the same input and "
            "options writes only the others (a write without resume=True deletes them)"
        )
        # Where this fails too (a full disk), the manifest still says running, until it
        # is stale or its lock free.
        store.put_manifest(manifest.aborted())
    except Exception as problem:  # noqa: BLE001 - report, and let the error through
        logger.warning("%s: could not mark the failed write's tiles kept (%s)",
                       store.where(), problem)


def _in_distributed_worker() -> bool:
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True
