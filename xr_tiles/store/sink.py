"""Where a tile task puts its file, and how a write shows that it still runs: a
heartbeat (the manifest put again) on object stores."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .liveness import busy
from .manifest import Manifest

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger("xr_tiles")

HEARTBEAT_S = 10.0


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


class Heartbeat:
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
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


