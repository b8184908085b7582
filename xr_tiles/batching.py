"""How many tiles each write task carries, and which.

Every task costs its scheduler something: tens of microseconds on dask's local thread
pool, about a millisecond on a distributed cluster or a process pool (sending it,
bookkeeping, the result's round trip). A small tile is worth a fraction of a
millisecond of work, so a task a tile spends more on the scheduler than on the tiles.
A task carries enough tiles that its scheduler's cost is a small share of their work,
no more than keep every worker busy to the end, and at most about a megapixel, so that a
large tile keeps a task of its own. Its tiles are computed and written one by one, so
that it holds one tile's blocks at a time, as a task of one tile would.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass

import dask.config

from .errors import InvalidOptionError

CONFIG_KEY = "xr_tiles.tiles-per-task"  # dask's config: a number there overrides the choice
LOCAL_TASK_S = 5e-5  # a task on dask's local thread pool (or synchronous)
REMOTE_TASK_S = 1e-3  # a task on a distributed cluster or dask's process pool
SCHEDULER_SHARE = 0.01  # of the tiles' own work, at most, spent on their tasks
FILE_S = 3e-4  # creating and writing one small file (0.2 to 0.5 ms on the machines here)
BYTE_S = 2e-9  # encoding one byte of a tile, about zstd's speed
BATCH_PIXELS = 1 << 20  # a task's tiles hold at most about this many pixels
TASKS_PER_WORKER = 8  # at least, where there are tiles enough


@dataclass(frozen=True)
class Work:
    """What a write computes: the tiles of ``rows`` x ``cols`` of the tile grid in each
    of ``groups`` band groups, but for those a resumed write already has (``kept``, as
    (group, row, col)). A region's data starts at the region: its block (0, 0) is the
    tile at (rows.start, cols.start)."""

    rows: range
    cols: range
    groups: int
    kept: frozenset[tuple[int, int, int]] = frozenset()

    @property
    def count(self) -> int:
        """Tiles to compute and write."""
        return len(self.rows) * len(self.cols) * self.groups - len(self.kept)

    @property
    def positions(self) -> int:
        """Tiles of one band group, numbered row by row from 0."""
        return len(self.rows) * len(self.cols)

    def tile(self, position: int) -> tuple[int, int]:
        """The (row, col) in the tile grid of the tile at ``position``."""
        row, col = divmod(position, len(self.cols))
        return self.rows.start + row, self.cols.start + col


@dataclass(frozen=True)
class Batch:
    """One task's tiles: ``positions`` of one band group, of which ``kept`` are a resumed
    write's own (read back, where the whole raster's levels need them, not written)."""

    group: int
    positions: range
    kept: frozenset[int] = frozenset()

    @property
    def writes(self) -> int:
        return len(self.positions) - len(self.kept)


def tiles_per_task(
    tile_pixels: int, tile_bytes: int, count: int, workers: int, *, remote: bool
) -> int:
    """How many tiles a task writes: ``count`` tiles of about ``tile_pixels`` pixels and
    ``tile_bytes`` bytes on ``workers`` workers; ``remote``: a distributed or process
    scheduler. dask's config ``xr_tiles.tiles-per-task`` wins where set."""
    configured = configured_tiles_per_task()
    if configured is not None:
        return configured
    task_s = REMOTE_TASK_S if remote else LOCAL_TASK_S
    tile_s = FILE_S + BYTE_S * tile_bytes
    by_cost = math.ceil(task_s / (SCHEDULER_SHARE * tile_s))
    by_size = BATCH_PIXELS // max(1, tile_pixels)
    by_balance = count // (TASKS_PER_WORKER * max(1, workers))
    return max(1, min(by_cost, by_size, by_balance))


def configured_tiles_per_task() -> int | None:
    """dask's config ``xr_tiles.tiles-per-task``, checked; None where unset."""
    configured = dask.config.get(CONFIG_KEY, None)
    if configured is not None and (
        isinstance(configured, bool) or not isinstance(configured, int) or configured < 1
    ):
        raise InvalidOptionError(
            f"dask config {CONFIG_KEY!r} must be a positive int or None, got {configured!r}"
        )
    return configured


def batches(work: Work, size: int) -> Iterator[Batch]:
    """``work`` in tasks of ``size`` tiles to write (a resumed write's kept tiles ride
    along with those around them), band group by group, each in raster order."""
    for group in range(work.groups):
        kept = sorted(_kept_positions(work, group))
        start = 0
        for stop in _stops(work.positions, size, kept):
            held = kept[bisect.bisect_left(kept, start):bisect.bisect_left(kept, stop)]
            yield Batch(group, range(start, stop), frozenset(held))
            start = stop


def _kept_positions(work: Work, group: int) -> Iterator[int]:
    width = len(work.cols)
    for kept_group, row, col in work.kept:
        if kept_group == group:
            yield (row - work.rows.start) * width + (col - work.cols.start)


def _stops(positions: int, size: int, kept: list[int]) -> Iterator[int]:
    """Where each task's positions end: after ``size`` positions not ``kept``."""
    if kept:
        skipped, written = set(kept), 0
        for position in range(positions):
            if position not in skipped:
                written += 1
                if written == size:
                    written = 0
                    if position + 1 < positions:
                        yield position + 1
    else:
        yield from range(size, positions, size)
    if positions:
        yield positions
