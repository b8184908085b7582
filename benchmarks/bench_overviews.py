"""Overviews benchmark: what ``overviews="auto"`` costs a write, and what it saves a reader.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_overviews.py            # 8192 x 8192, 7 rounds
    .venv/bin/python benchmarks/bench_overviews.py --quick    # 2048 x 2048, 3 rounds

The raster is terrain-like float32 (smooth relief plus centimetre noise) in memory, in
512 x 512 chunks, written with zstd (level 3, predictor 3) and dask's threaded scheduler:
without overviews, and with ``overviews="auto"`` (factors 2 to 32 at 8192) resampled by
"nearest" and by "average". The three writes alternate in each round, in the same process
after an untimed warm-up. The codec floor is imagecodecs encoding the same 256 x 256
internal tiles in 2 threads, without containers or files: the full resolution alone, and
with the overview pixels too (levels computed beforehand, untimed), so that the part of
the extra time the codec needs anyway shows. The peer is GDAL's own COG driver (through
rasterio, 2 threads, same codec, block size and predictor) copying the raster from an
in-memory dataset (filled untimed) into one file, with ``OVERVIEWS=NONE`` and with its
default overviews (resampling "nearest").

Reads: the whole VRT at 1/16 scale (``rasterio.open(vrt).read(1, out_shape=...)``, GDAL's
default nearest resampling), each in a fresh process (GDAL's block cache empty; the
operating system's file cache warm for both), with and without overviews, alternating.
Results go to ``benchmarks/overviews.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask.array as dsa
import numpy as np
import xarray as xr
from imagecodecs import floatpred_encode, zstd_encode
from workloads import _smooth_2d

import xr_tiles  # noqa: F401 - registers the .tiles accessor
from xr_tiles.overviews import auto_factors, overview_levels

CHUNK = 512
INTERNAL = 256
WRITES = {
    "no overviews": {},
    'overviews="auto", nearest': {"overviews": "auto", "resampling": "nearest"},
    'overviews="auto", average': {"overviews": "auto", "resampling": "average"},
}
PEERS = {"GDAL COG driver, no overviews": False, "GDAL COG driver, overviews": True}
READ = """
import json, sys, time, rasterio
start = time.perf_counter()
with rasterio.open(sys.argv[1]) as dataset:
    shape = (dataset.height // 16, dataset.width // 16)
    pixels = dataset.read(1, out_shape=shape)
print(json.dumps({"seconds": time.perf_counter() - start, "shape": list(pixels.shape)}))
"""


def terrain(side: int) -> xr.DataArray:
    rng = np.random.default_rng(0)
    relief = _smooth_2d(side, side) * 1500.0 + 800.0
    values = (relief + rng.normal(0.0, 0.01, (side, side))).astype(np.float32)
    coords = {"y": side - 0.5 - np.arange(side), "x": 0.5 + np.arange(side)}
    return xr.DataArray(dsa.from_array(values, chunks=CHUNK), dims=("y", "x"), coords=coords)


def internal_tiles(plane: np.ndarray) -> list[np.ndarray]:
    """256 x 256 tiles of one chunk's plane (edges padded), as TIFF stores them."""
    tiles = []
    for top in range(0, plane.shape[0], INTERNAL):
        for left in range(0, plane.shape[1], INTERNAL):
            tile = plane[top : top + INTERNAL, left : left + INTERNAL]
            side = (min(INTERNAL, -(-tile.shape[0] // 16) * 16), min(INTERNAL, -(-tile.shape[1] // 16) * 16))
            padded = np.zeros(side, plane.dtype)
            padded[: tile.shape[0], : tile.shape[1]] = tile
            tiles.append(padded)
    return tiles


def floor_seconds(planes: list[list[np.ndarray]]) -> float:
    """Encode every internal tile of every chunk's planes, one task per chunk, 2 threads."""

    def encode(chunk_planes: list[np.ndarray]) -> int:
        return sum(
            len(zstd_encode(floatpred_encode(tile[..., np.newaxis], axis=-2), level=3))
            for plane in chunk_planes
            for tile in internal_tiles(plane)
        )

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(encode, planes))
    return time.perf_counter() - start


def gdal_cog_seconds(values: np.ndarray, path: Path, overviews: bool) -> float:
    """GDAL's COG driver writing ``values`` from an in-memory dataset (untimed)."""
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin

    height, width = values.shape
    with rasterio.MemoryFile() as memory, memory.open(
        driver="MEM", width=width, height=height, count=1, dtype=values.dtype,
        crs="EPSG:32633", transform=from_origin(0, height, 1, 1),
    ) as source:
        source.write(values, 1)
        start = time.perf_counter()
        rasterio.shutil.copy(
            source, path, driver="COG", compress="ZSTD", level=3, predictor=3,
            blocksize=INTERNAL, num_threads=2, resampling="nearest",
            overviews="AUTO" if overviews else "NONE",
        )
        return time.perf_counter() - start


def disk_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def timed_read(vrt: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", READ, str(vrt)], check=True, capture_output=True, text=True
    )
    return float(json.loads(result.stdout)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 3 rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("overviews.md"))
    args = parser.parse_args()
    side, rounds = (2048, 3) if args.quick else (8192, 7)
    array = terrain(side)
    values = array.values
    factors = auto_factors(side, side)
    chunks = [
        values[top : top + CHUNK, left : left + CHUNK]
        for top in range(0, side, CHUNK)
        for left in range(0, side, CHUNK)
    ]
    with_levels = [
        [chunk, *(level[0] for level in overview_levels(chunk[np.newaxis], factors, "average", None))]
        for chunk in chunks
    ]
    base = Path(tempfile.mkdtemp(prefix="xr-tiles-overviews-"))
    times: dict[str, list[float]] = {
        name: [] for name in [*WRITES, *PEERS, "floor", "floor + overview pixels"]
    }
    sizes: dict[str, float] = {}
    kept: dict[str, Path] = {}
    try:
        array[:CHUNK, :CHUNK].tiles.to_vrt(base / "warm-up.vrt", overviews="auto")
        for round_ in range(rounds):
            names = list(WRITES)
            names = names[round_ % len(names):] + names[: round_ % len(names)]
            for name in names:
                folder = base / f"{round_}-{len(times[name])}-{names.index(name)}"
                folder.mkdir()
                os.sync()
                start = time.perf_counter()
                array.tiles.to_vrt(folder / "dem.vrt", **WRITES[name])
                times[name].append(time.perf_counter() - start)
                sizes[name] = disk_mib(folder)
                if round_ == rounds - 1:
                    kept[name] = folder / "dem.vrt"
                else:
                    shutil.rmtree(folder)
            for name, overviews in PEERS.items():
                cog = base / "gdal.tif"
                times[name].append(gdal_cog_seconds(values, cog, overviews))
                sizes[name] = cog.stat().st_size / 2**20
                cog.unlink()
            times["floor"].append(floor_seconds([[chunk] for chunk in chunks]))
            times["floor + overview pixels"].append(floor_seconds(with_levels))
        reads: dict[str, list[float]] = {"no overviews": [], "with overviews": []}
        sources = {"no overviews": kept["no overviews"], "with overviews": kept['overviews="auto", average']}
        for round_ in range(rounds):
            for name in sorted(reads, reverse=round_ % 2 == 1):
                reads[name].append(timed_read(sources[name]))
    finally:
        shutil.rmtree(base)
    report(args, side, rounds, factors, times, sizes, reads)


def report(args, side, rounds, factors, times, sizes, reads) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    plain = median["no overviews"]
    write_rows = [
        f"| {name} | {median[name]:.3f} | {median[name] / plain:.2f} | "
        f"{sizes[name]:.1f} |" if name in sizes else
        f"| codec {name} (no files) | {median[name]:.3f} | {median[name] / plain:.2f} | |"
        for name in times
    ]
    read_median = {name: statistics.median(values) for name, values in reads.items()}
    speedup = read_median["no overviews"] / read_median["with overviews"]
    read_rows = [f"| {name} | {read_median[name]:.3f} |" for name in reads]
    command = " ".join(["benchmarks/bench_overviews.py", *sys.argv[1:]])
    text = "\n".join([
        "# xr_tiles overviews benchmark",
        "",
        (f"`{command}`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; the script's "
         f"docstring says what is measured. {side} x {side} float32 terrain, {CHUNK}-chunks, "
         f"zstd 3 + predictor 3, threads; auto factors {factors}; median of {rounds} rounds."),
        "",
        "| write | median s | ratio to no overviews | MiB on disk |",
        "|:---|---:|---:|---:|",
        *write_rows,
        "",
        f"Whole VRT read at 1/16 scale, fresh process each: {speedup:.1f}x faster with overviews.",
        "",
        "| read at 1/16 | median s |",
        "|:---|---:|",
        *read_rows,
        "",
    ])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
