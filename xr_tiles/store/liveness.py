"""Which writes run: the one that holds a path's lock, or whose manifest is fresh. A
write that runs makes another fail at once (``check_conflicts``), and cleanup spares its
folder (``may_be_running``).

Judged from what every process sees alike, the store: a pid is looked up only where it
means the same process (``Writer.is_dead``); nothing is taken from this process's own
memory, since a lazy write's tasks may run in other processes and hosts. So a lazy write
whose input failed (its own tasks mark it aborted when they fail) counts as running
until it has been silent for ``RUNNING_WINDOW_S``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import WriteConflictError
from .listing import Listing, WriteEntry
from .manifest import RUNNING

if TYPE_CHECKING:
    from . import Store

# A write without the lock seen active this recently runs: another write to the path
# fails at once, and cleanup spares its folder. Its heartbeat (or tasks) beat every 10 s.
RUNNING_WINDOW_S = 60.0


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
        if write.write_id == own or write.write_id in published:
            continue
        manifest = write.manifest
        if manifest is None or manifest.lock:
            continue  # a locking write runs exactly while it holds the lock (above)
        if may_be_running(write, listing, now):
            raise WriteConflictError(
                f"{store.where()} is being written by write {write.write_id} "
                f"({manifest.writer}), active {now - write.activity:.0f} s ago; writes to "
                "one path run one at a time: wait for it to end (a write silent for "
                f"{RUNNING_WINDOW_S:.0f} s counts as dead)"
            )


def may_be_running(write: WriteEntry, listing: Listing, now: float | None = None) -> bool:
    """Whether ``write`` may still add to its folder, so that it must be spared.

    A locking write runs while it holds the lock. An eager write on an object store runs
    while its manifest is fresh, unless its writer is known dead. A lazy write
    (``compute=False``) runs while its manifest or folder is fresh: its tasks, which beat,
    may run anywhere, so its writer's death says nothing.
    """
    manifest = write.manifest
    if manifest is None or manifest.state != RUNNING:
        return False
    if manifest.lock:
        return listing.holder is not None and listing.holder.write_id == write.write_id
    if manifest.heartbeat and manifest.writer.is_dead():
        return False
    return (time.time() if now is None else now) - write.activity < RUNNING_WINDOW_S

