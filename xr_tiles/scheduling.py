"""Which dask scheduler runs a write, with how many workers, and running it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dask
import dask.base
import dask.local
import dask.multiprocessing
import dask.system
import dask.threaded
from dask.delayed import Delayed

from .errors import InvalidOptionError
from .plan import TilePlan
from .progress import TileProgressBar

# Tiles smaller than this spend much of their time creating files: one more thread than
# cores keeps the cores busy.
SMALL_TILE_PIXELS = 1 << 20


@dataclass(frozen=True)
class Scheduler:
    """What runs a write: dask's ``get`` function, the distributed Client behind it (if
    any), how many workers it has, and the keywords the get takes."""

    get: Callable[..., Any]
    client: Any
    workers: int
    options: Mapping[str, Any]

    @property
    def remote(self) -> bool:
        """Whether tasks go to other processes (a cluster, dask's process pool)."""
        return self.client is not None or self.get is dask.multiprocessing.get


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
    collections = None if collection is None else [collection]
    return _client_of(dask.base.get_scheduler(scheduler=scheduler, collections=collections))


def _client_of(get: Any) -> Any:
    """The distributed Client whose ``get`` this is, or None."""
    distributed = sys.modules.get("distributed")
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


def resolve_scheduler(scheduler: Any, num_workers: int | None, plan: TilePlan) -> Scheduler:
    """The scheduler dask would run a write of ``plan`` on, and its worker count: the
    one asked for, else dask's configured one, else a distributed Client in use, else
    dask's threads (as ``dask.compute`` chooses for a Delayed)."""
    get = dask.base.get_scheduler(scheduler=scheduler, cls=Delayed)
    client = _client_of(get)
    if client is not None:
        return Scheduler(get, client, max(1, sum(client.nthreads().values())), {})
    workers = num_workers or dask.config.get("num_workers", None)
    # dask's own pools take num_workers; a get of an Executor has its size already.
    takes_workers = get in (dask.threaded.get, dask.multiprocessing.get, dask.local.get_sync)
    options = {"num_workers": workers} if workers is not None and takes_workers else {}
    if workers is None and get is dask.threaded.get:
        workers = options["num_workers"] = thread_count(plan, dask.system.CPU_COUNT)
    if get is dask.local.get_sync:
        workers = 1
    if get in (dask.threaded.get, dask.multiprocessing.get) and (
        dask.config.get("chunksize", 1) is None
    ):
        options["chunksize"] = 1  # dask's own default; its pools refuse None
    return Scheduler(get, None, workers or dask.system.CPU_COUNT, options)


def computed(
    graph: Mapping[Any, Any], keys: list[Any], tiles: Mapping[Any, int],
    scheduler: Scheduler, progress: bool,
) -> list[Any]:
    """The results of ``keys`` of ``graph``; with ``progress``, behind a bar that counts
    the tiles written (``tiles``: how many each key writes)."""
    bar = TileProgressBar(tiles) if progress else None
    if scheduler.client is None:
        with bar if bar is not None else contextlib.nullcontext():
            return list(scheduler.get(graph, keys, **scheduler.options))
    from distributed import as_completed

    client = scheduler.client
    futures = client.get(graph, keys, sync=False)
    try:
        if bar is not None:
            with bar.drawing():
                for future in as_completed(futures, loop=client.loop):
                    future.result()  # raises the task's error here, as gather would
                    bar.advance(tiles[future.key])
        return list(client.gather(futures))
    except BaseException:
        client.cancel(futures)  # as dask.compute would: no task runs on after this
        raise


def thread_count(plan: TilePlan, cores: int) -> int:
    """Threads for a write nobody sized: one more than cores where tiles are small.

    Small tiles spend much of their time creating and writing files, waits during which
    an extra thread keeps the cores encoding; large tiles are all codec work.
    """
    return cores + 1 if _tile_pixels(plan) < SMALL_TILE_PIXELS else cores


def _tile_pixels(plan: TilePlan) -> int:
    """The mean number of pixels of a tile."""
    return max(1, plan.height * plan.width // len(plan))
