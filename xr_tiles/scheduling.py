"""Which dask scheduler runs a write, and how work is handed to dask's local pools."""

from __future__ import annotations

import sys
from typing import Any

import dask
import dask.base
import dask.multiprocessing
import dask.system
import dask.threaded

from .errors import InvalidOptionError
from .plan import TilePlan

# dask's local schedulers hand tasks to their pool one at a time by default, and each
# hand-off costs the scheduling thread tens of microseconds under the GIL: with small
# tiles that, not the codec, bounds the speed-up from threads. Batches of about a
# megapixel of tiles keep that cost small; they stay few enough per worker for the
# work to remain balanced.
BATCH_PIXELS = 1 << 20
MAX_BATCH = 8
MIN_BATCHES_PER_WORKER = 4


def check_scheduler(scheduler: Any, num_workers: int | None) -> None:
    """Refuse an unknown scheduler before anything is written; dask resolves the rest."""
    if num_workers is not None and (
        isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1
    ):
        raise InvalidOptionError(f"num_workers must be a positive int or None, got {num_workers!r}")
    if scheduler is None or not isinstance(scheduler, str):
        return
    try:
        dask.base.get_scheduler(scheduler=scheduler)
    except ValueError as error:
        raise InvalidOptionError(
            "scheduler must be None, 'threads', 'synchronous', 'processes', a "
            f"distributed Client or a get function; got {scheduler!r} ({error})"
        ) from None


def distributed_client(scheduler: Any, collection: Any = None) -> Any:
    """The distributed Client that would run ``collection`` (or any), or None."""
    distributed = sys.modules.get("distributed")
    collections = None if collection is None else [collection]
    get = dask.base.get_scheduler(scheduler=scheduler, collections=collections)
    client = getattr(get, "__self__", None)
    return client if distributed and isinstance(client, distributed.Client) else None


def check_store_reachable(path: Any, scheduler: Any) -> None:
    """A ``memory://`` store lives in one process: refuse schedulers of several."""
    if not (isinstance(path, str) and path.startswith("memory://")):
        return
    get = dask.base.get_scheduler(scheduler=scheduler)
    if get is dask.multiprocessing.get or distributed_client(scheduler) is not None:
        raise InvalidOptionError(
            f"{path!r} is in this process's memory, which other processes cannot write "
            "to: use scheduler='threads' or 'synchronous', or a shared store (s3://, ...)"
        )


def compute_options(
    scheduler: Any, num_workers: int | None, plan: TilePlan, collection: Any,
    count: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``dask.compute`` of ``collection``, a write of ``count`` of
    ``plan``'s tiles (default: all; a region update or resumed write writes fewer)."""
    options: dict[str, Any] = {"scheduler": scheduler}
    get = dask.base.get_scheduler(scheduler=scheduler, collections=[collection])
    workers = num_workers or dask.config.get("num_workers", None)
    if workers is None and get is dask.threaded.get:
        workers = thread_count(plan, dask.system.CPU_COUNT)
    if workers is not None:
        options["num_workers"] = workers
    local_pool = get is dask.threaded.get or get is dask.multiprocessing.get
    if local_pool and dask.config.get("chunksize", None) is None:
        options["chunksize"] = dispatch_batch(plan, workers or dask.system.CPU_COUNT, count)
    return options


def thread_count(plan: TilePlan, cores: int) -> int:
    """Threads for a write nobody sized: one more than cores where tiles are small.

    Small tiles spend much of their time creating and writing files, waits during which
    an extra thread keeps the cores encoding; large tiles are all codec work.
    """
    return cores + 1 if _tile_pixels(plan) < BATCH_PIXELS else cores


def dispatch_batch(plan: TilePlan, workers: int, count: int | None = None) -> int:
    """How many ready tasks dask's local scheduler hands a worker at once, for a write of
    ``count`` of ``plan``'s tiles (default: all)."""
    by_size = BATCH_PIXELS // _tile_pixels(plan)
    by_count = (len(plan) if count is None else count) // (MIN_BATCHES_PER_WORKER * workers)
    return max(1, min(MAX_BATCH, by_size, by_count))


def _tile_pixels(plan: TilePlan) -> int:
    """The mean number of pixels of a tile."""
    return max(1, plan.height * plan.width // len(plan))
