"""Which writes run: the one that holds a path's lock, or whose manifest is fresh. A
write that runs makes another fail at once (``check_conflicts``), and cleanup spares its
folder (``may_be_running``)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import WriteConflictError
from .listing import Listing, WriteEntry
from .manifest import RUNNING, Manifest

if TYPE_CHECKING:
    from . import Store

# A write with a heartbeat (or, without one, with tiles coming) seen active this recently
# is running: another write to the path fails at once.
RUNNING_WINDOW_S = 60.0
# A write without a heartbeat (compute=False) seen active this recently may still be
# running: its folder is spared by cleanup.
SPARE_WINDOW_S = 3600.0


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


