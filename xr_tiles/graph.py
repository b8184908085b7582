"""The dask wiring: write tasks of one or more tiles each, inside the input's graph,
keyed on their blocks (``batching`` says how many tiles a task). The tasks' records
feed the index, built and published by the caller (``compute=True``) or by a final task
of the graph (``compute=False``)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from dask._task_spec import GraphNode, List, Task, TaskRef
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from dask.utils import ensure_dict

from .batching import Batch, Work, batches
from .encode import TileSpec, decoded_pages, encode_with_levels, tile_template
from .fusion import Inliner
from .index.catalogues import tile_items
from .index.mosaic import MosaicJob, TileRecord, documents
from .plan import Tile, TilePlan
from .scheduling import Scheduler, computed
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
class GroupJob:
    """What every tile task of one band group needs: one object, which dask does not
    walk (it walks tuples and lists in a task looking for keys, at a cost per item)."""

    sink: TileSink
    spec: TileSpec
    plan: TilePlan
    work: Work
    group: int
    templates: Mapping[tuple[int, int], HeaderTemplate | None]  # by tile shape
    merged: tuple[int, ...]  # which of the tiles' levels go to the whole raster's files
    blocks: int  # input blocks a tile, one per array of the group
    items: ItemTemplate | None = None  # each tile's STAC Item, put beside it


@dataclass(frozen=True)
class TileTask:
    """One task's tiles (``batch``) and, for each tile to write, one source a block: a
    reference to a key among ``needs`` (the values the task is called with, in order),
    or the node that computes the block, inlined."""

    job: GroupJob
    batch: Batch
    sources: tuple[GraphNode | TaskRef, ...]
    needs: tuple[Any, ...]
    key: Any  # the task's, unique to this write's graph

    def __dask_tokenize__(self) -> Any:
        # A distributed Client tokenizes every task it is given; its key is the task's
        # identity, where walking its sources pickled each inlined task's function.
        return ("xr_tiles.TileTask", self.key)


@dataclass(frozen=True)
class Slots:
    """The records in raster order, task by task: None where a task's records go, the
    records themselves where they are known without computing (a resumed write's
    tiles, where no level of them is needed). One object, which dask does not walk."""

    items: tuple[tuple[TileRecord, ...] | None, ...]


@dataclass(frozen=True)
class WriteGraph:
    """An eager write's graph, its tile tasks' keys and each one's tile count (for the
    progress bar), and where their records go."""

    graph: dict[Any, Any]
    keys: list[Any]
    tiles: dict[Any, int]
    slots: Slots


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
    mosaic: MosaicJob, tiles_per_task: int, *, lazy: bool,
) -> Delayed | WriteGraph:
    """The write's graph: tasks of ``tiles_per_task`` tiles each, keyed
    ``(<prefix>-tile, group, row, col)`` after their first tile.

    ``lazy``: a Delayed of the VRT's path, its tasks depending on the input's blocks; its
    first task begins the commit (``commit.begin``), every tile task waits for it, and a
    final task builds the index and publishes it. Otherwise the tasks of an eager write,
    computed on its own: each holds the input tasks that only it needs (``Inliner``),
    and its caller begins the commit and publishes.
    """
    prefix = f"xr-tiles-{commit.write_id}-{uuid.uuid4().hex[:8]}"
    begin, tile_name = f"{prefix}-prepare", f"{prefix}-tile"
    groups = [group.arrays for group in raster.groups]
    arrays = [array for group in groups for array in group]
    sink, merged = commit.sink(), tuple(plan.overviews.index(factor) for factor in plan.merged)
    planned = [(batch, _batch_blocks(batch, groups[batch.group], work))
               for batch in batches(work, tiles_per_task)]
    inliner = None if lazy else _inliner(arrays, [blocks for _, blocks in planned])
    after_begin = TaskRef(begin) if lazy else None
    layer: dict[Any, Any] = {begin: Task(begin, commit.begin)} if lazy else {}
    keys: list[Any] = []
    tiles: dict[Any, int] = {}
    slots: list[tuple[Any, ...] | None] = []
    needed: set[Any] = set()
    jobs = [
        # Each task carries its own kept tiles (``Batch.kept``), not the write's.
        GroupJob(sink, spec, plan, dataclasses.replace(work, kept=frozenset()), group,
                 _header_templates(spec, plan), merged,
                 len(groups[group]), tile_items(mosaic))
        for group, spec in enumerate(specs)
    ]
    for batch, blocks in planned:
        if not batch.writes and not merged:
            slots.append(tuple((batch.group, *work.tile(p), True, ()) for p in batch.positions))
            continue
        sources = (tuple(map(TaskRef, blocks)) if inliner is None
                   else tuple(map(inliner.source, blocks)))
        needs = tuple(dict.fromkeys(
            dep for source in sources
            for dep in ((source.key,) if isinstance(source, TaskRef) else source.dependencies)
        ))
        key = (tile_name, batch.group, *work.tile(batch.positions.start))
        task = TileTask(jobs[batch.group], batch, sources, needs, key)
        layer[key] = Task(key, _write_tiles, task, after_begin, *map(TaskRef, needs))
        keys.append(key)
        tiles[key] = batch.writes
        slots.append(None)
        needed.update(needs)
    if inliner is not None:
        return WriteGraph({**inliner.remaining(needed), **layer}, keys, tiles, Slots(tuple(slots)))
    # The final task waits for the begin too: a resume may have no tile to write.
    end = f"{prefix}-commit"
    layer[end] = Task(end, _commit, CommitJob(commit, mosaic), after_begin,
                      List(*map(TaskRef, keys)), Slots(tuple(slots)))
    graph = HighLevelGraph.from_collections(prefix, layer, dependencies=arrays)
    return Delayed(end, graph, layer=prefix)


def _batch_blocks(batch: Batch, arrays: Sequence[Any], work: Work) -> list[Any]:
    """The keys of the input blocks of the batch's tiles to write, tile by tile, one per
    array (a region's data starts at the region: block (0, 0) is its first tile)."""
    width = len(work.cols)
    leads = [(array.name, *([0] * (array.ndim - 2))) for array in arrays]
    return [
        (*lead, *divmod(position, width))
        for position in batch.positions if position not in batch.kept
        for lead in leads
    ]


def _inliner(arrays: Sequence[Any], blocks: Sequence[Sequence[Any]]) -> Inliner:
    """The input's graph, culled to the blocks the write computes, ready to inline."""
    inputs = HighLevelGraph.merge(*(array.__dask_graph__() for array in arrays))
    uses = Counter(array.name for array in arrays)
    return Inliner(ensure_dict(inputs.cull(set(itertools.chain.from_iterable(blocks)))), uses)


def compute_write(
    graph: WriteGraph, commit: Commit, mosaic: MosaicJob, scheduler: Scheduler, *,
    progress: bool = False,
) -> Any:
    """Run an eager write (``write_graph(..., lazy=False)``): begin the commit, compute
    the tiles, build the index and publish it. On any failure or interrupt the write's
    finished tiles are kept for ``resume=True`` and the error says so."""
    commit.begin()
    try:
        # Objects alive now (the graph above all) are kept out of the cyclic garbage
        # collector's full passes during the write: with 100,000 tiles those cost about
        # half as much as dask's scheduling itself. Nothing is kept alive longer.
        gc.freeze()
        try:
            results = computed(graph.graph, graph.keys, graph.tiles, scheduler, progress)
            # The graph holds the input's tasks (hundreds of MiB at a million tiles):
            # freed before the index is built.
            graph.graph.clear()
            # Still frozen: a full collection now would scan every object of the graph.
            return _published(commit, mosaic, _gathered(results, graph.slots))
        finally:
            gc.unfreeze()
    except BaseException as error:
        commit.abort(error)
        raise


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


def _write_tiles(task: TileTask, _began: None, *values: Any) -> list[TileRecord]:
    """Compute and write the task's tiles one by one (a resumed write's kept ones read
    back where needed); a failure names the tile, and the tiles written before it stay
    for ``resume=True``."""
    job, batch = task.job, task.batch
    known = dict(zip(task.needs, values, strict=True))
    sources = iter(task.sources)
    records: list[Any] = []
    with job.sink.task(batch.writes) as fsync:
        for position in batch.positions:
            if records:
                job.sink.check_running()  # not on for a write that failed elsewhere
            row, col = job.work.tile(position)
            if position in batch.kept:
                records.append(_kept_record(job, row, col))
                continue
            blocks = list(itertools.islice(sources, job.blocks))
            try:
                records.append(_written(job, job.plan.tile(row, col),
                                        [_value(source, known) for source in blocks], fsync))
            except Exception as error:
                job.sink.failed()
                error.add_note(_failed_tile_note(job, row, col))
                raise
    return records


def _value(source: GraphNode | TaskRef, known: dict[Any, Any]) -> Any:
    if isinstance(source, TaskRef):
        return known[source.key]
    return source({key: known[key] for key in source.dependencies})


def _failed_tile_note(job: GroupJob, row: int, col: int) -> str:
    tile = job.plan.tile(row, col)
    block = (row - job.work.rows.start, col - job.work.cols.start)
    group = f", band group {job.group}" if len(job.plan.group_suffixes) > 1 else ""
    return (
        f"xr_tiles: raised by tile (row {row}, col {col}{group}), "
        f"{job.plan.tile_name(row, col, job.group)}: pixels y {tile.row_off}:"
        f"{tile.row_off + tile.height}, x {tile.col_off}:{tile.col_off + tile.width} of the "
        f"mosaic, from the input's block {block} (dask chunk-location, y and x)"
    )


def _written(job: GroupJob, tile: Tile, blocks: Sequence[Any], fsync: bool) -> TileRecord:
    index = (job.group, tile.row, tile.col)
    template = job.templates.get((tile.height, tile.width))
    encoded = encode_with_levels(blocks, job.spec, job.plan.tile_transform(tile), template)
    if encoded is None:
        return (*index, False, ())
    filename = job.plan.tile_name(tile.row, tile.col, job.group)
    job.sink.put(filename, encoded.data, fsync=fsync)
    size = len(encoded.data)  # written: its size, which a STAC Item records
    if job.items is not None:
        item = job.items.json(tile, [(job.group, filename, size)])
        job.sink.put(job.plan.item_name(tile), item, fsync=fsync)
    if not job.merged:
        return (*index, size, ())
    if job.spec.lossless:
        return (*index, size, tuple(encoded.levels[level] for level in job.merged))
    # The whole raster's level holds the pixels the tiles' own levels read back as.
    pages = [level + 1 for level in job.merged]
    return (*index, size, tuple(decoded_pages(encoded.data, pages, job.spec)))


def _kept_record(job: GroupJob, row: int, col: int) -> TileRecord:
    """A resumed write's tile: read back for its small levels where the whole raster's
    levels need them (as the task that wrote it would have returned them)."""
    if not job.merged:
        return (job.group, row, col, True, ())
    pages = [level + 1 for level in job.merged]
    data = job.sink.read(job.plan.tile_name(row, col, job.group))
    return (job.group, row, col, True, tuple(decoded_pages(data, pages, job.spec)))


def _gathered(results: Sequence[list[TileRecord]], slots: Slots) -> list[TileRecord]:
    """The records in raster order, a resumed write's kept tiles among the others: the
    whole raster's levels are pasted in this order, where pieces may overlap."""
    computed_records = iter(results)
    gathered: list[TileRecord] = []
    for slot in slots.items:
        gathered.extend(next(computed_records) if slot is None else slot)
    return gathered


def _commit(
    job: CommitJob, _began: None, results: list[list[TileRecord]], slots: Slots
) -> Any:
    with job.commit.finishing():
        return _published(job.commit, job.mosaic, _gathered(results, slots))


def _published(commit: Commit, mosaic: MosaicJob, records: list[TileRecord]) -> Any:
    built = documents(mosaic, records, commit.store.read, commit.store.size)
    path = commit.publish(built.files, built.vrt, built.referenced)
    if any(spec.skip_empty for spec in mosaic.specs):
        skipped = sum(1 for record in records if not record[3])
        logger.info("%s: %d of %d tiles were empty and skipped", path, skipped, len(records))
    return path
