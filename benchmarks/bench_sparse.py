"""Sparse benchmark: writing a raster that is 70% nodata, with and without ``skip_empty``.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_sparse.py            # 8192 x 8192, 7 rounds
    .venv/bin/python benchmarks/bench_sparse.py --quick    # 2048 x 2048, 3 rounds

The raster is a smooth float32 field inside a diagonal swath covering 30% of the pixels and
NaN (the nodata) elsewhere, in 512 x 512 chunks, held in memory; it is written with zstd
(level 3, predictor 3) and dask's threaded scheduler. Both settings are timed in the same
process after an untimed warm-up, alternating in each round; the medians, the files written
the bytes of the files and the bytes the file system
allocated for them (whole blocks) are reported in ``benchmarks/sparse.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dask.array as dsa
import numpy as np
import xarray as xr

import xr_tiles  # noqa: F401 - registers the .tiles accessor

CHUNK = 512
VALID_SHARE = 0.3


def swath(side: int) -> xr.DataArray:
    """A smooth field on a diagonal band of ``VALID_SHARE`` of the pixels, NaN elsewhere."""
    y, x = np.ogrid[:side, :side]
    field = (np.sin(y / 300.0) * np.cos(x / 500.0) * 1000.0).astype(np.float32)
    half_width = side * (1 - np.sqrt(1 - VALID_SHARE))  # band |x - y| < w covers the share
    values = np.where(np.abs(x - y) < half_width, field, np.float32(np.nan))
    coords = {"y": side - 0.5 - np.arange(side), "x": 0.5 + np.arange(side)}
    array = xr.DataArray(dsa.from_array(values, chunks=CHUNK), dims=("y", "x"), coords=coords)
    return array.rio.write_nodata(np.nan)


def disk_use(folder: Path) -> tuple[int, int, int]:
    """Files, their bytes, and the bytes the file system allocated for them."""
    stats = [(Path(root) / name).stat() for root, _, names in os.walk(folder) for name in names]
    return len(stats), sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 3 rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("sparse.md"))
    args = parser.parse_args()
    side, rounds = (2048, 3) if args.quick else (8192, 7)
    array = swath(side)
    valid = float(np.isfinite(array.values).mean())
    base = Path(tempfile.mkdtemp(prefix="xr-tiles-sparse-"))
    times: dict[bool, list[float]] = {False: [], True: []}
    usage: dict[bool, tuple[int, int, int]] = {}
    try:
        array[:CHUNK, :CHUNK].tiles.to_vrt(base / "warm-up.vrt", skip_empty=True)
        for round_ in range(rounds):
            for skip in (round_ % 2 == 0, round_ % 2 == 1):
                folder = base / f"{round_}-{skip}"
                folder.mkdir()
                os.sync()
                start = time.perf_counter()
                array.tiles.to_vrt(folder / "swath.vrt", skip_empty=skip)
                times[skip].append(time.perf_counter() - start)
                usage[skip] = disk_use(folder)
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(base)
    tiles = (side // CHUNK) ** 2
    rows = []
    for skip in (False, True):
        files, size, allocated = usage[skip]
        median = statistics.median(times[skip])
        ratio = median / statistics.median(times[False])
        rows.append(
            f"| skip_empty={skip} | {median:.3f} | {ratio:.2f} | {files - 1:,} of {tiles:,} "
            f"| {size / 2**20:.2f} | {allocated / 2**20:.2f} |"
        )
    command = " ".join(["benchmarks/bench_sparse.py", *sys.argv[1:]])
    text = "\n".join([
        "# xr_tiles sparse benchmark",
        "",
        (f"`{command}`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; the script's "
        f"docstring says what is measured. {side} x {side} float32, {valid:.0%} of the "
        f"pixels valid, {CHUNK}-chunks, median of {rounds} rounds."),
        "",
        "| write | median s | ratio | tiles written | MiB of files | MiB allocated on disk |",
        "|:---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
