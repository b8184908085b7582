"""The dask wiring: one write task per input block, inside the input's graph, then a commit."""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import pathlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import dask
import dask.base
import numpy as np
from affine import Affine
from dask._task_spec import List, Task, TaskRef
from dask.delayed import Delayed
from dask.delayed import optimize as delayed_optimize
from dask.diagnostics.progress import ProgressBar
from dask.highlevelgraph import HighLevelGraph
from dask.utils import ensure_dict
from rasterio.crs import CRS

from .commit import Target
from .encode import TileSpec, encode_with_levels, level_tiff, tile_template
from .fusion import inline_inputs
from .geotags import geotiff_tags
from .overviews import merged_level
from .plan import TilePlan
from .scheduling import compute_options, distributed_client
from .source import Band, Raster
from .template import HeaderTemplate
from .vrt import vrt_xml

logger = logging.getLogger("xr_tiles")

# group, row, col, bytes written (0: skipped, empty), the levels of plan.merged factors
TileRecord = tuple[int, int, int, int, tuple[np.ndarray, ...]]
MAX_TEMPLATES = 64
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TileJob:
    """What one tile task needs besides its blocks.

    One object rather than loose arguments: dask walks tuples and lists in a task looking
    for keys, which costs the scheduler time per tile.
    """

    target: Target
    spec: TileSpec
    filename: str
    transform: Affine
    index: tuple[int, int, int]  # group, row, col
    template: HeaderTemplate | None
    merged: tuple[int, ...]  # which of the tile's levels go to the whole raster's files


@dataclass(frozen=True)
class CommitJob:
    """What the final task needs to write the VRT and publish the write."""

    target: Target
    mode: str
    plan: TilePlan
    bands: Sequence[Band]
    band_order: Sequence[tuple[int, int]]
    specs: Sequence[TileSpec]
    crs: CRS | None
    metadata: Mapping[str, str]


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
    raster: Raster, plan: TilePlan, specs: Sequence[TileSpec], target: Target, mode: str,
    *, prepared: bool,
) -> Delayed:
    """A Delayed that writes every tile, then publishes the VRT and returns its path.

    One task per tile, keyed ``(<prefix>-tile, group, row, col)``, depending on the
    input's blocks. ``prepared``: the caller already ran ``target.prepare()``;
    otherwise (a lazy write) the graph's first task does, and every tile task waits for it.
    """
    prefix = f"xr-tiles-{target.write_id}"
    prepare, tile_name, commit = f"{prefix}-prepare", f"{prefix}-tile", f"{prefix}-commit"
    layer: dict[Any, Any] = {} if prepared else {prepare: Task(prepare, target.prepare)}
    after_prepare = None if prepared else TaskRef(prepare)
    records = []
    for group, (band_group, spec) in enumerate(zip(raster.groups, specs, strict=True)):
        templates = _header_templates(spec, plan)
        merged = tuple(plan.overviews.index(factor) for factor in plan.merged)
        for tile in plan.tiles():
            job = TileJob(
                target, spec, plan.filename(tile, group), plan.tile_transform(tile),
                (group, tile.row, tile.col), templates.get((tile.height, tile.width)), merged,
            )
            blocks = [TaskRef(_block_key(array, tile.row, tile.col)) for array in band_group.arrays]
            key = (tile_name, group, tile.row, tile.col)
            layer[key] = Task(key, _write_tile, job, after_prepare, *blocks)
            records.append(TaskRef(key))
    commit_job = CommitJob(
        target, mode, plan, raster.bands, raster.band_order, specs, raster.crs, raster.metadata
    )
    layer[commit] = Task(commit, _commit, commit_job, List(*records))
    arrays = [array for band_group in raster.groups for array in band_group.arrays]
    graph = HighLevelGraph.from_collections(prefix, layer, dependencies=arrays)
    return Delayed(commit, graph, layer=prefix)


@_gc_paused
def fused(delayed: Delayed) -> Delayed:
    """``delayed`` culled, each tile task running the tasks that only it needs.

    For a write computed on its own: computed together with other collections, an
    input's blocks may be needed by them too, which this graph alone cannot tell.
    """
    culled = delayed_optimize(delayed.__dask_graph__(), [delayed.key])
    return Delayed(delayed.key, inline_inputs(ensure_dict(culled), [delayed.key], _is_tile_task))


def compute_write(
    delayed: Delayed, target: Target, scheduler: Any, num_workers: int | None,
    plan: TilePlan, *, progress: bool = False,
) -> pathlib.Path | str:
    """Run the write; on any failure or interrupt remove what it staged, then re-raise.

    ``delayed`` must come from ``write_graph(..., prepared=True)``.
    """
    options = compute_options(scheduler, num_workers, plan, delayed)
    try:
        # Prepared here, not in the graph: a failure elsewhere in the graph could
        # otherwise let the prepare task create the staging folder after the abort.
        target.prepare()
        # Optimised here (fused), as dask would have: that is all it needs.
        graph = fused(delayed)
        # Objects alive now (the graph above all) are kept out of the cyclic garbage
        # collector's full passes during the write: with 100,000 tiles those cost about
        # half as much as dask's scheduling itself. Nothing is kept alive longer.
        gc.freeze()
        try:
            path = _computed(graph, options, progress)
        finally:
            gc.unfreeze()
    except BaseException:
        target.abort()
        raise
    return path  # type: ignore[no-any-return]


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


def _write_tile(job: TileJob, _prepared: None, *blocks: Any) -> TileRecord:
    encoded = encode_with_levels(blocks, job.spec, job.transform, job.template)
    if encoded is None:
        return (*job.index, 0, ())
    written = job.target.put_tile(job.filename, encoded.data)
    return (*job.index, written, tuple(encoded.levels[index] for index in job.merged))


def _commit(job: CommitJob, records: list[TileRecord]) -> pathlib.Path | str:
    written = {(group, row, col) for group, row, col, size, _ in records if size}
    tiles = list(job.plan.tiles())
    sources = [
        [tile for tile in tiles if (group, tile.row, tile.col) in written]
        for group in range(len(job.specs))
    ]
    document = functools.partial(
        vrt_xml, job.plan, job.bands, job.band_order, job.specs, job.crs, job.metadata, sources
    )
    for factor in job.plan.overviews:
        if factor not in job.plan.merged:
            text = document(factor)
            job.target.put_overview(job.plan.overview_filename(factor), text.encode())
    _write_merged_levels(job, records)
    path = job.target.publish(document(), job.mode)
    skipped = len(records) - len(written)
    if any(spec.skip_empty for spec in job.specs):
        logger.info("%s: %d of %d tiles were empty and skipped", path, skipped, len(records))
    return path


def _write_merged_levels(job: CommitJob, records: list[TileRecord]) -> None:
    """The whole raster's small levels, each one GeoTIFF per band group, from the levels
    the tiles computed: every pixel as the tiles have it."""
    plan = job.plan
    tiles = {(tile.row, tile.col): tile for tile in plan.tiles()}
    for index, factor in enumerate(plan.merged):
        transform = plan.level_transform(factor)
        for group, spec in enumerate(job.specs):
            pieces = [
                (tiles[row, col].row_off // factor, tiles[row, col].col_off // factor, levels[index])
                for record_group, row, col, size, levels in records
                if record_group == group and size
            ]
            shape = (spec.band_count, *plan.level_shape(factor))
            level = merged_level(pieces, shape, spec.dtype, spec.nodata)
            geotags = geotiff_tags(job.crs, transform, spec.nodata, spec.dtype)
            data = level_tiff(level, spec, transform, geotags)
            job.target.put_overview(plan.overview_filename(factor, group), data)
