"""Scale benchmark: per-tile overhead from 1,000 to 100,000 tiles, and memory of a big lazy write.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_scale.py            # 1k, 10k, 100k tiles; 16 GiB
    .venv/bin/python benchmarks/bench_scale.py --quick    # 1k, 10k tiles; 1 GiB

Overhead: uint8 tiles of 32 x 32 pixels (codec "none", so that encoding is cheap) of a
``dask.array.zeros`` input, written with the synchronous scheduler so that times add up, after
an untimed small write (imports). "Outside encoding and file creation" is the wall time of the
whole write minus the time spent inside the tile function (encoding the TIFF and writing its
file). It splits into what xr_tiles does, timed on its own -- graph building (options,
planning, the tasks, and the input's graph, materialised by dask and its tasks inlined into
the write's) and the index and commit (the VRT XML, what it names, the flush and publish)
-- and the rest: dask's local scheduler running the write's tasks (a task writes several
tiles, ``xr_tiles.batching``) and producing each input block. ``benchmarks/bench_cluster.py``
measures the same on threads and a LocalCluster, up to a million tiles.

Memory: a float32 array generated block by block by ``map_blocks`` (never held whole),
1024 x 1024 chunks, written with zstd level 1 and the threaded scheduler in a fresh
process; its peak RSS (VmHWM) is set against chunk size x threads.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask.array as dsa
import dask.system
import numpy as np
import xarray as xr
from affine import Affine

import xr_tiles  # registers the .tiles accessor
import xr_tiles.write
from xr_tiles import graph
from xr_tiles.plan import TilePlan
from xr_tiles.scheduling import thread_count

TILE = 32
MEMORY_CHUNK = 1024


def grid(data: dsa.Array) -> xr.DataArray:
    height, width = data.shape
    coords = {"y": height - 0.5 - np.arange(height), "x": 0.5 + np.arange(width)}
    return xr.DataArray(data, dims=("y", "x"), coords=coords)


def overhead(tiles: int, folder: Path) -> dict[str, float]:
    """Seconds per tile of a write of about ``tiles`` tiles, split as the docstring says."""
    side = math.isqrt(tiles)
    array = grid(dsa.zeros((side * TILE, side * TILE), dtype="uint8", chunks=TILE))
    spent = {"inside": 0.0, "build": 0.0, "xml": 0.0}
    originals = {"_written": graph._written, "_published": graph._published,
                 "write_graph": xr_tiles.write.write_graph}

    def timed(name: str, function: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return run

    array[:TILE * 2, :TILE * 2].tiles.to_vrt(folder / "warm-up.vrt", codec="none")
    graph._written = timed("inside", originals["_written"])  # type: ignore[assignment]
    graph._published = timed("xml", originals["_published"])  # type: ignore[assignment]
    xr_tiles.write.write_graph = timed("build", originals["write_graph"])  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        array.tiles.to_vrt(folder / "write.vrt", codec="none", scheduler="synchronous")
        whole = time.perf_counter() - start
    finally:
        graph._written = originals["_written"]  # type: ignore[assignment]
        graph._published = originals["_published"]  # type: ignore[assignment]
        xr_tiles.write.write_graph = originals["write_graph"]  # type: ignore[assignment]
    count = side * side
    outside = whole - spent["inside"]
    return {
        "tiles": count,
        "whole_s": whole,
        "us_per_tile_outside": 1e6 * outside / count,
        "us_per_tile_inside": 1e6 * spent["inside"] / count,
        "us_per_tile_graph_build": 1e6 * spent["build"] / count,
        "us_per_tile_vrt_xml": 1e6 * spent["xml"] / count,
        "us_per_tile_scheduler": 1e6 * (outside - spent["build"] - spent["xml"]) / count,
    }


def peak_rss_mib() -> float:
    """This process's peak RSS. Not ``ru_maxrss``: Linux carries that over from the parent
    across exec, so a child would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def memory_child(side: int, folder: str) -> None:
    """Write a ``side`` x ``side`` lazily generated float32 array; print peak RSS as JSON."""

    def synthetic(block_info: dict | None = None) -> np.ndarray:
        (y0, y1), (x0, x1) = block_info[None]["array-location"]  # type: ignore[index]
        y = np.arange(y0, y1, dtype=np.float32)[:, None]
        x = np.arange(x0, x1, dtype=np.float32)[None, :]
        return np.sin(y / 500.0) * np.cos(x / 700.0) * 1000.0

    chunks = ((MEMORY_CHUNK,) * (side // MEMORY_CHUNK),) * 2
    data = dsa.map_blocks(synthetic, dtype=np.float32, chunks=chunks,
                          meta=np.empty((0, 0), np.float32))
    before = peak_rss_mib()
    start = time.perf_counter()
    grid(data).tiles.to_vrt(Path(folder) / "big.vrt", codec="zstd", level=1)
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(json.dumps({"side": side, "seconds": seconds, "peak_rss_mib": peak,
                      "rss_before_write_mib": before}))


def memory(side: int, folder: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(side), str(folder)],
        check=True, capture_output=True, text=True,
    )
    record = json.loads(result.stdout)
    tiles = (side // MEMORY_CHUNK,) * 2
    plan = TilePlan(y_chunks=(MEMORY_CHUNK,) * tiles[0], x_chunks=(MEMORY_CHUNK,) * tiles[1],
                    transform=Affine.identity(), folder="")
    threads = thread_count(plan, dask.system.CPU_COUNT)
    chunk_mib = MEMORY_CHUNK * MEMORY_CHUNK * 4 / 2**20
    record.update(gib=side * side * 4 / 2**30, tiles=tiles[0] * tiles[1], threads=threads,
                  chunk_mib=chunk_mib, chunks_x_threads_mib=chunk_mib * threads)
    return record


HEADER = (
    "| tiles (32 x 32, codec none, synchronous) | whole write s "
    "| outside encoding and file creation, us/tile | graph building (the input's, "
    "inlined) | index and commit | dask's scheduler and the rest "
    "| inside the tile function, us/tile |"
)
COLUMNS = ("us_per_tile_outside", "us_per_tile_graph_build", "us_per_tile_vrt_xml",
           "us_per_tile_scheduler", "us_per_tile_inside")


def report(rows: list[dict[str, float]], big: dict[str, float]) -> str:
    command = " ".join(["benchmarks/bench_scale.py", *sys.argv[1:]])
    table = [
        f"| {r['tiles']:,} | {r['whole_s']:.1f} | "
        + " | ".join(f"{r[column]:.0f}" for column in COLUMNS) + " |"
        for r in rows
    ]
    memory_line = (
        f"Memory: a lazily generated {big['gib']:.0f} GiB float32 array ({big['tiles']:,} tiles "
        f"of {MEMORY_CHUNK} x {MEMORY_CHUNK}, zstd level 1, {big['threads']} threads) was "
        f"written in {big['seconds']:.1f} s with a peak RSS of {big['peak_rss_mib']:.0f} MiB "
        f"({big['rss_before_write_mib']:.0f} MiB before the write; chunk size x threads = "
        f"{big['chunks_x_threads_mib']:.0f} MiB)."
    )
    intro = f"`{command}`, {time.strftime('%Y-%m-%d')}; the script's docstring says what is measured."
    lines = ["# xr_tiles scale benchmark", "", intro, "", HEADER, "|---:" * 7 + "|", *table, "",
             memory_line, ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k tiles; 1 GiB")
    parser.add_argument("--memory-child", nargs=2, metavar=("SIDE", "FOLDER"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("scale.md"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    counts = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    side = 16_384 if args.quick else 65_536
    rows = []
    for count in counts:
        folder = Path(tempfile.mkdtemp(prefix="xr-tiles-scale-"))
        try:
            rows.append(overhead(count, folder))
        finally:
            shutil.rmtree(folder)
        print(rows[-1], flush=True)
    folder = Path(tempfile.mkdtemp(prefix="xr-tiles-memory-"))
    try:
        big = memory(side, folder)
    finally:
        shutil.rmtree(folder)
    print(big, flush=True)
    text = report(rows, big)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
