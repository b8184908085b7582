"""Small-tiles benchmark: the same raster in 4,096 tiles of 128 x 128, in 64 tiles of
1024 x 1024, and as one tiled GeoTIFF written by GDAL (rioxarray), for the figures of the
``SmallTilesWarning``.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_small_tiles.py            # 8192 x 8192, 5 rounds
    .venv/bin/python benchmarks/bench_small_tiles.py --quick    # 2048 x 2048, 3 rounds

The raster is int16 terrain (smooth relief plus noise) held in memory, written with zstd
(level 6, predictor 2) through dask's threaded scheduler; GDAL writes the same pixels with
the same codec settings in 256 x 256 internal tiles, with two threads. Each contender runs
in a fresh process per round, in an order rotated every round; medians are reported in
``benchmarks/small_tiles.md``.
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
from pathlib import Path

CONTENDERS = {
    "xr_tiles, chunks=128": {"chunks": 128},
    "xr_tiles, chunks=1024": {"chunks": 1024},
    "one GeoTIFF (GDAL, rioxarray)": None,
}


def terrain(side: int):
    import numpy as np
    import xarray as xr

    y, x = np.ogrid[:side, :side]
    relief = 800 * np.sin(y / 700.0) * np.cos(x / 900.0) + 0.05 * (x + y)
    noise = np.random.default_rng(0).normal(0, 3, (side, side))
    values = (relief + noise).astype("int16")
    coords = {"y": 4e6 - 30 * (np.arange(side) + 0.5), "x": 5e5 + 30 * (np.arange(side) + 0.5)}
    return xr.DataArray(values, dims=("y", "x"), coords=coords).rio.write_crs("EPSG:32633")


def run_one(name: str, side: int, folder: str) -> float:
    """One write in this (fresh) process: its wall time."""
    import warnings

    import xr_tiles

    array = terrain(side)
    options = CONTENDERS[name]
    started = time.perf_counter()
    if options is None:
        array.rio.to_raster(f"{folder}/one.tif", tiled=True, blockxsize=256, blockysize=256,
                            compress="ZSTD", zstd_level=6, predictor=2, num_threads=2)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", xr_tiles.SmallTilesWarning)
            array.chunk(options["chunks"]).tiles.to_vrt(f"{folder}/m.vrt", codec="zstd", level=6)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 3 rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("small_tiles.md"))
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # name side folder
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2])))
        return
    side, rounds = (2048, 3) if args.quick else (8192, 5)
    names = list(CONTENDERS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            folder = tempfile.mkdtemp(dir=Path.cwd())
            try:
                out = subprocess.run([sys.executable, __file__, "--one", name, str(side), folder],
                                     check=True, capture_output=True, text=True).stdout
                times[name].append(json.loads(out.splitlines()[-1]))
            finally:
                shutil.rmtree(folder)
    base = statistics.median(times[names[0]])
    summary = (
        f"`benchmarks/bench_small_tiles.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; "
        f"{side} x {side} int16 terrain in memory, zstd 6 + predictor 2, threads; median of "
        f"{rounds} rounds, each write in a fresh process, order rotated."
    )
    lines = [
        "# xr_tiles small-tiles benchmark", "", summary, "",
        "| write | files | median s | min-max s | ratio to chunks=128 |",
        "|:---|---:|---:|---:|---:|",
    ]
    for name in names:
        files = {"xr_tiles, chunks=128": (side // 128) ** 2 + 1,
                 "xr_tiles, chunks=1024": max(side // 1024, 1) ** 2 + 1}.get(name, 1)
        median = statistics.median(times[name])
        lines.append(f"| {name} | {files} | {median:.2f} | {min(times[name]):.2f}-"
                     f"{max(times[name]):.2f} | {median / base:.2f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
