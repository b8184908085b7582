"""The dask wiring: one write task per tile to write, inside the input's graph, keyed on
its blocks. The tasks' records feed the index, built and published by the caller
(``compute=True``) or by a final task of the graph (``compute=False``)."""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import dask
import dask.base
from affine import Affine
from dask._task_spec import List, Task, TaskRef
from dask.delayed import Delayed
from dask.delayed import optimize as delayed_optimize
from dask.diagnostics.progress import ProgressBar
from dask.highlevelgraph import HighLevelGraph
from dask.utils import ensure_dict

from .encode import TileSpec, decoded_pages, encode_with_levels, tile_template
from .fusion import inline_inputs
from .index.catalogues import tile_items
from .index.mosaic import MosaicJob, TileRecord, documents
from .plan import Tile, TilePlan
from .scheduling import compute_options, distributed_client
from .source import Raster
from .store import Commit, TileSink
from .template import HeaderTemplate

if TYPE_CHECKING:
    from .index.stac import ItemTemplate

logger = logging.getLogger("xr_tiles")

MAX_TEMPLATES = 64
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Work:
    """What the graph computes, per band group: the tiles to write, each with the
    indices of its input block (a region's data starts at the region), and the tiles a
    resumed write already has."""

    tiles: Sequence[Sequence[tuple[Tile, int, int]]]
    kept: Sequence[Sequence[Tile]]

    @property
    def count(self) -> int:
        return sum(len(tiles) for tiles in self.tiles)


@dataclass(frozen=True)
class TileJob:
    """What one tile task needs besides its blocks.

    One object rather than loose arguments: dask walks tuples and lists in a task looking
    for keys, which costs the scheduler time per tile.
    """

    sink: TileSink
    spec: TileSpec
    filename: str
    transform: Affine
    index: tuple[int, int, int]  # group, row, col
    template: HeaderTemplate | None
    merged: tuple[int, ...]  # which of the tile's levels go to the whole raster's files
    item: ItemJob | None = None  # the STAC Item to put beside the tile


@dataclass(frozen=True)
class ItemJob:
    """A tile's STAC Item, put by the task that writes the tile (it knows the file's
    size): where bands are in one file a tile."""

    items: ItemTemplate
    tile: Tile
    name: str


@dataclass(frozen=True)
class Records:
    """Records known without computing (a resumed write's tiles, where no level of them
    is needed): one object, which dask does not walk."""

    items: tuple[TileRecord, ...]
    resumed: bool = False  # some tiles were kept: the records are not in raster order


@dataclass(frozen=True)
class CommitJob:
    """What the final task of a lazy write needs to build the index and publish it."""

    commit: Commit
    mosaic: MosaicJob


def _gc_paused(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` with Python's cyclic garbage collector paused.

    Building a graph allocates objects by the hundred thousand, and each allocation
    burst triggers a full collection of a heap that keeps growing: with 100,000 tiles
    that more than tripled the time. Graphs hold no reference cycles; they are freed as usual.
    """

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


@_gc_paused
def write_graph(
    raster: Raster, plan: TilePlan, specs: Sequence[TileSpec], commit: Commit, work: Work,
    mosaic: MosaicJob, *, lazy: bool,
) -> Delayed:
    """A Delayed of the write's tile records (``lazy``: of the VRT's path, once the
    final task has published it).

    One task per tile to write, keyed ``(<prefix>-tile, group, row, col)``, depending on
    its input blocks. A lazy write's first task begins the commit (``commit.begin``),
    and every tile task waits for it; an eager one's caller begins it.
    """
    prefix = f"xr-tiles-{commit.write_id}-{uuid.uuid4().hex[:8]}"
    begin, tile_name, kept_name = f"{prefix}-prepare", f"{prefix}-tile", f"{prefix}-kept"
    end = f"{prefix}-commit" if lazy else f"{prefix}-records"
    layer: dict[Any, Any] = {begin: Task(begin, commit.begin)} if lazy else {}
    after_begin = TaskRef(begin) if lazy else None
    sink, merged = commit.sink(), tuple(plan.overviews.index(factor) for factor in plan.merged)
    items = tile_items(mosaic)
    records, known = [], []
    for group, (band_group, spec) in enumerate(zip(raster.groups, specs, strict=True)):
        templates = _header_templates(spec, plan)
        for tile, block_row, block_col in work.tiles[group]:
            job = TileJob(
                sink, spec, plan.filename(tile, group), plan.tile_transform(tile),
                (group, tile.row, tile.col), templates.get((tile.height, tile.width)), merged,
                None if items is None else ItemJob(items, tile, plan.item_name(tile)),
            )
            blocks = [TaskRef(_block_key(array, block_row, block_col)) for array in band_group.arrays]
            key = (tile_name, group, tile.row, tile.col)
            layer[key] = Task(key, _write_tile, job, after_begin, *blocks)
            records.append(TaskRef(key))
        for tile in work.kept[group]:
            index = (group, tile.row, tile.col)
            if not merged:
                known.append((*index, True, ()))
                continue
            job = TileJob(sink, spec, plan.filename(tile, group), Affine.identity(), index,
                          None, merged)
            key = (kept_name, *index)
            layer[key] = Task(key, _read_kept_tile, job, after_begin)
            records.append(TaskRef(key))
    # A lazy write's final task waits for the begin too: a resume may have no tile to write.
    final = (_commit, CommitJob(commit, mosaic), after_begin) if lazy else (_gathered,)
    layer[end] = Task(end, *final, List(*records), Records(tuple(known), any(work.kept)))
    arrays = [array for band_group in raster.groups for array in band_group.arrays]
    graph = HighLevelGraph.from_collections(prefix, layer, dependencies=arrays)
    return Delayed(end, graph, layer=prefix)


@_gc_paused
def fused(delayed: Delayed) -> Delayed:
    """``delayed`` culled, each tile task running the tasks that only it needs.

    For a write computed on its own: computed together with other collections, an
    input's blocks may be needed by them too, which this graph alone cannot tell.
    """
    culled = delayed_optimize(delayed.__dask_graph__(), [delayed.key])
    return Delayed(delayed.key, inline_inputs(ensure_dict(culled), [delayed.key], _is_tile_task))


def compute_write(
    delayed: Delayed, commit: Commit, mosaic: MosaicJob, scheduler: Any,
    num_workers: int | None, count: int, *, progress: bool = False,
) -> Any:
    """Run an eager write (``write_graph(..., lazy=False)``): begin the commit, compute
    the tiles, build the index and publish it. On any failure or interrupt the write's
    finished tiles are kept for ``resume=True`` and the error says so."""
    options = compute_options(scheduler, num_workers, mosaic.plan, delayed, count)
    commit.begin()
    try:
        # Optimised here (fused), as dask would have: that is all it needs.
        graph = fused(delayed)
        # Objects alive now (the graph above all) are kept out of the cyclic garbage
        # collector's full passes during the write: with 100,000 tiles those cost about
        # half as much as dask's scheduling itself. Nothing is kept alive longer.
        gc.freeze()
        try:
            records = _computed(graph, options, progress)
            # Still frozen: a full collection now would scan every object of the graph.
            return _published(commit, mosaic, records)
        finally:
            gc.unfreeze()
    except BaseException as error:
        commit.abort(error)
        raise


def _computed(graph: Delayed, options: dict[str, Any], progress: bool) -> Any:
    """``graph`` computed; with ``progress``, behind dask's progress bar: distributed's
    for a Client, ``dask.diagnostics.ProgressBar`` for the local schedulers."""
    if not progress:
        return dask.base.compute(graph, optimize_graph=False, **options)[0]
    client = distributed_client(options["scheduler"], graph)
    if client is not None:
        from distributed import progress as distributed_progress

        future = client.compute(graph, optimize_graph=False)
        try:
            distributed_progress(future)
            return future.result()
        except BaseException:
            client.cancel(future)  # as dask.compute would: no task runs on after this
            raise
    with ProgressBar():
        return dask.base.compute(graph, optimize_graph=False, **options)[0]


def _header_templates(
    spec: TileSpec, plan: TilePlan
) -> dict[tuple[int, int], HeaderTemplate | None]:
    """Header templates of the commonest tile shapes (at most ``MAX_TEMPLATES``; a regular
    grid has four): each costs about as much as a tile written by tifffile alone."""
    heights, widths = Counter(plan.y_chunks), Counter(plan.x_chunks)
    tiles_per_shape = Counter(
        {(h, w): heights[h] * widths[w] for h, w in itertools.product(heights, widths)}
    )
    return {
        shape: tile_template(spec, *shape)
        for shape, _ in tiles_per_shape.most_common(MAX_TEMPLATES)
    }


def _block_key(array: Any, row: int, col: int) -> tuple[Any, ...]:
    """The key of one block of ``array``; its leading (band) dimension is one chunk."""
    return (array.name, *([0] * (array.ndim - 2)), row, col)


def _is_tile_task(task: Task) -> bool:
    return task.func is _write_tile


def _write_tile(job: TileJob, _began: None, *blocks: Any) -> TileRecord:
    with job.sink.task():
        return _written(job, blocks)


def _written(job: TileJob, blocks: Sequence[Any]) -> TileRecord:
    encoded = encode_with_levels(blocks, job.spec, job.transform, job.template)
    if encoded is None:
        return (*job.index, False, ())
    job.sink.put(job.filename, encoded.data)
    size = len(encoded.data)  # written: its size, which a STAC Item records
    if job.item is not None:
        item = job.item.items.json(job.item.tile, [(job.index[0], job.filename, size)])
        job.sink.put(job.item.name, item)
    if not job.merged:
        return (*job.index, size, ())
    if job.spec.lossless:
        return (*job.index, size, tuple(encoded.levels[index] for index in job.merged))
    # The whole raster's level holds the pixels the tiles' own levels read back as.
    pages = [index + 1 for index in job.merged]
    return (*job.index, size, tuple(decoded_pages(encoded.data, pages, job.spec)))


def _read_kept_tile(job: TileJob, _began: None) -> TileRecord:
    """A resumed write's tile, read back for its small levels (as the task that wrote
    it would have returned them)."""
    pages = [index + 1 for index in job.merged]
    with job.sink.task():
        data = job.sink.read(job.filename)
    return (*job.index, True, tuple(decoded_pages(data, pages, job.spec)))


def _gathered(records: list[TileRecord], known: Records) -> list[TileRecord]:
    """The records in raster order, a resumed write's kept tiles among the others: the
    whole raster's levels are pasted in this order, where pieces may overlap."""
    gathered = [*records, *known.items]
    if known.resumed:
        gathered.sort(key=_raster_order)
    return gathered


def _raster_order(record: TileRecord) -> tuple[int, int, int]:
    return record[0], record[1], record[2]


def _commit(job: CommitJob, _began: None, records: list[TileRecord], known: Records) -> Any:
    with job.commit.finishing():
        return _published(job.commit, job.mosaic, _gathered(records, known))


def _published(commit: Commit, mosaic: MosaicJob, records: list[TileRecord]) -> Any:
    built = documents(mosaic, records, commit.store.read, commit.store.size)
    path = commit.publish(built.files, built.vrt, built.referenced)
    if any(spec.skip_empty for spec in mosaic.specs):
        skipped = sum(1 for record in records if not record[3])
        logger.info("%s: %d of %d tiles were empty and skipped", path, skipped, len(records))
    return path
