"""Which dask scheduler runs a write, and how work is handed to dask's local pools."""

from __future__ import annotations

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


def compute_options(
    scheduler: Any, num_workers: int | None, plan: TilePlan, collection: Any
) -> dict[str, Any]:
    """Keyword arguments for ``dask.compute`` of ``collection`` (a write of ``plan``)."""
    options: dict[str, Any] = {"scheduler": scheduler}
    if num_workers is not None:
        options["num_workers"] = num_workers
    get = dask.base.get_scheduler(scheduler=scheduler, collections=[collection])
    local_pool = get is dask.threaded.get or get is dask.multiprocessing.get
    if local_pool and dask.config.get("chunksize", None) is None:
        workers = num_workers or dask.config.get("num_workers", None) or dask.system.CPU_COUNT
        options["chunksize"] = dispatch_batch(plan, workers)
    return options


def dispatch_batch(plan: TilePlan, workers: int) -> int:
    """How many ready tasks dask's local scheduler hands a worker at once."""
    tile_pixels = max(1, plan.height * plan.width // len(plan))
    by_size = BATCH_PIXELS // tile_pixels
    by_count = len(plan) // (MIN_BATCHES_PER_WORKER * workers)
    return max(1, min(MAX_BATCH, by_size, by_count))
