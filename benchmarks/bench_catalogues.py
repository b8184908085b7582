"""What ``index="gti"`` and ``stac=True`` add to a write, whole writes timed end to end.

Run from the repository root: ``.venv/bin/python benchmarks/bench_catalogues.py
[--rounds 3] [--work DIR]``; writes ``benchmarks/catalogues.md``.

Two workloads, each write in a fresh process (imports included: pyogrio and pystac are
loaded only by writes that ask for them), the variants interleaved in every round, medians:

- ``tiny``: 100 x 100 tiles of 16 x 16 uint8, codec none (file creation is all the work:
  a STAC Item is one more file a tile);
- ``realistic``: 32 x 32 tiles of 256 x 256 float32 (a random walk along x), zstd 3 with
  the floating-point predictor.

Variants: the VRT alone (nested above 4,096 tiles), ``index="gti"``, ``stac=True``.
``bench_index.py`` times the index's own parts inside the write, at up to 1M tiles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {"vrt": {}, "gti": {"index": "gti"}, "stac": {"stac": True}}
WORKLOADS = {
    "tiny": "100 x 100 tiles of 16 x 16 uint8, codec none",
    "realistic": "32 x 32 tiles of 256 x 256 float32, zstd 3, predictor 3",
}


def write(workload: str, variant: str, folder: pathlib.Path) -> float:
    """One write in this process; its wall time."""
    import warnings

    import dask.array as da
    import numpy as np
    import xarray as xr

    import xr_tiles

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if workload == "tiny":
        side, chunk, codec = 1600, 16, "none"
        data = da.map_blocks(_pattern, da.zeros((side, side), "uint8", chunks=chunk),
                             dtype="uint8")
    else:
        side, chunk, codec = 8192, 256, "zstd"
        noise = da.random.default_rng(0).normal(size=(side, side), chunks=chunk)
        data = noise.astype("float32").cumsum(axis=1)
    coords = {"y": 6e6 - 10 * (np.arange(side) + 0.5), "x": 4e5 + 10 * (np.arange(side) + 0.5)}
    array = xr.DataArray(data, dims=("y", "x"), coords=coords).rio.write_crs(32633)
    warnings.simplefilter("ignore", xr_tiles.SmallTilesWarning)
    start = time.perf_counter()
    array.tiles.to_vrt(folder / "m.vrt", codec=codec, **VARIANTS[variant])
    return time.perf_counter() - start


def _pattern(block, block_info=None):
    import numpy as np

    row, col = block_info[0]["chunk-location"]
    return np.full(block.shape, (7 * row + col) % 251, "uint8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=pathlib.Path,
                        default=pathlib.Path("/work/xr_tiles_bench_catalogues"))
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(write(*args.worker, args.work / "out")))
        return
    times: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        for workload in WORKLOADS:
            order = list(VARIANTS)[round_ % 3:] + list(VARIANTS)[:round_ % 3]  # rotated
            for variant in order:
                done = subprocess.run(
                    [sys.executable, __file__, "--work", str(args.work), "--worker", workload,
                     variant], capture_output=True, text=True, check=True, cwd=ROOT,
                )
                seconds = json.loads(done.stdout.splitlines()[-1])
                times.setdefault((workload, variant), []).append(seconds)
                print(f"round {round_} {workload} {variant}: {seconds:.2f} s", flush=True)
    shutil.rmtree(args.work, ignore_errors=True)
    (ROOT / "benchmarks" / "catalogues.md").write_text(report(times, args.rounds))


def report(times: dict[tuple[str, str], list[float]], rounds: int) -> str:
    lines = [
        "# What the tile index and the STAC catalogue add to a write",
        "",
        (f"`benchmarks/bench_catalogues.py`, {dt.date.today()}, {os.cpu_count()} cores; the "
         f"script's docstring says what is measured. Whole writes in fresh processes, "
         f"medians of {rounds} interleaved rounds, seconds (ratio to the VRT alone)."),
        "",
        "| workload | VRT alone | + index=\"gti\" | + stac=True |",
        "|:---|---:|---:|---:|",
    ]
    for workload, described in WORKLOADS.items():
        base = statistics.median(times[workload, "vrt"])
        cells = [f"{base:.2f}"] + [
            f"{statistics.median(times[workload, v]):.2f} "
            f"({statistics.median(times[workload, v]) / base:.2f})" for v in ("gti", "stac")
        ]
        lines.append(f"| {workload}: {described} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
