"""The write's progress bar: tiles written of the write's tiles, as dask's own bar looks.

dask's bars count tasks, and a task writes many tiles (``batching``); this one counts
the tiles of the tasks that have finished.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from dask.callbacks import Callback
from dask.utils import format_time

WIDTH = 40
REFRESH_S = 0.1


class TileProgressBar(Callback):
    """Around a compute on a local scheduler, it counts each finished task's tiles
    (``tiles``: how many each key writes); elsewhere, ``drawing()`` and ``advance()``."""

    def __init__(self, tiles: Mapping[Any, int], out: Any = None) -> None:
        super().__init__()
        self._tiles = tiles
        self._total = sum(tiles.values())
        self._done = 0
        self._out = out
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._started = 0.0
        self._thread: threading.Thread | None = None

    def advance(self, tiles: int) -> None:
        with self._lock:
            self._done += tiles

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """Draw the bar until the block ends; in full where it ends without error."""
        self._start(None)
        errored = True
        try:
            yield
            errored = False
        finally:
            self._finish(None, None, errored)

    # dask's Callback hooks, on local schedulers.
    def _start(self, dsk: Any) -> None:
        self._started = time.perf_counter()
        self._stopped.clear()
        self._thread = threading.Thread(target=self._refresh, name="xr_tiles progress",
                                        daemon=True)
        self._thread.start()

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.advance(self._tiles.get(key, 0))

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        self._draw(final=not errored)
        self._write("\n")

    def _refresh(self) -> None:
        while not self._stopped.wait(REFRESH_S):
            self._draw()

    def _draw(self, *, final: bool = False) -> None:
        with self._lock:
            done = self._total if final else self._done
        fraction = done / self._total if self._total else 1.0
        elapsed = format_time(time.perf_counter() - self._started)
        bar = "#" * int(WIDTH * fraction)
        self._write(
            f"\r[{bar:<{WIDTH}}] | {int(100 * fraction)}% Completed | "
            f"{done:,} of {self._total:,} tiles | {elapsed}"
        )

    def _write(self, text: str) -> None:
        out = self._out or sys.stdout  # looked up now: the CLI redirects it to stderr
        with contextlib.suppress(ValueError):  # closed
            out.write(text)
            out.flush()
