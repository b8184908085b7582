"""Object store and cluster benchmark: one write to local disk and to an S3 API on
loopback, from dask's threads and from a 2-worker distributed cluster.

Run from the repository root with the project's venv (needs s3fs, moto[server] and
distributed: ``pip install -e ".[test]"``)::

    .venv/bin/python benchmarks/bench_remote.py            # 8192 x 8192, 5 rounds
    .venv/bin/python benchmarks/bench_remote.py --quick    # 2048 x 2048, 2 rounds

The raster is terrain-like float32 generated block by block inside the graph (as a
pipeline's result would be: its pixels are born where the block is computed), in 512 x
512 chunks, written with zstd (level 3, predictor 3). Targets: a local folder, and moto's
standalone S3 server in its own process on 127.0.0.1 (in memory; each write replaces the
previous one with ``mode="w"``, which deletes its tiles). Schedulers: dask's threads
(2 cores), and a ``LocalCluster`` of 2 worker processes with 1 thread each (started
untimed; one cluster at a time, so that an idle one takes no share of the cores). With each
cluster, after an untimed warm-up, the writes with threads and with the cluster to both
targets alternate, rotated each round (threads are timed beside both clusters); medians
and ratios to local disk with threads go to ``benchmarks/remote.md``.

distributed starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (its config
``distributed.nanny.pre-spawn-environ``), which also fixes glibc's threshold for serving
allocations by ``mmap`` at 128 KiB: every buffer of a tile then costs fresh, zeroed pages.
A third scheduler, "cluster, malloc tuned", is the same cluster with that threshold at
256 MiB and the ``mmap`` one at 64 MiB, to show what this costs.

Bytes from the workers to the client: distributed's own account of the results workers
served (each worker's ``transfer_outgoing_log``), split into those sent to other workers
(the tile records the final task gathers) and to anyone else (the client, through the
scheduler): what crossed to the client is the VRT's URL.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

import xr_tiles  # noqa: F401 - registers the .tiles accessor

CHUNK = 512
CREDENTIALS = {"key": "bench", "secret": "bench"}


def terrain_block(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
    """Smooth relief plus centimetre noise for one block, from its position alone."""
    assert block_info is not None
    (top, bottom), (left, right) = block_info[None]["array-location"]
    side = block_info[None]["shape"][0]
    y = (np.arange(top, bottom) / side)[:, np.newaxis]
    x = (np.arange(left, right) / side)[np.newaxis, :]
    tau = 2 * np.pi
    relief = np.sin(tau * 3 * y) * np.cos(tau * 2 * x) + 0.8 * y - 0.4 * x
    noise = np.random.default_rng(top * side + left).normal(0.0, 0.01, relief.shape)
    return (relief * 1500.0 + 800.0 + noise).astype(np.float32)


def terrain(side: int) -> xr.DataArray:
    template = dsa.empty((side, side), chunks=CHUNK, dtype=np.float32)
    values = template.map_blocks(terrain_block, dtype=np.float32)
    coords = {"y": side - 0.5 - np.arange(side), "x": 0.5 + np.arange(side)}
    return xr.DataArray(values, dims=("y", "x"), coords=coords).rio.write_crs(32633)


def start_s3() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


CLUSTERS = {"cluster": False, "cluster, malloc tuned": True}


def start_cluster(tuned: bool):
    import dask
    from distributed import Client, LocalCluster

    environ = {"MALLOC_TRIM_THRESHOLD_": 2**28, "MALLOC_MMAP_THRESHOLD_": 2**26} if tuned else {}
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in environ.items()}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    return Client(cluster, set_as_default=False)


def served_bytes(client) -> tuple[int, int]:
    """Bytes of results the workers served so far: to other workers, and to anyone else."""

    def log(dask_worker) -> list[tuple[str, int]]:
        return [(entry["who"], entry["total"]) for entry in dask_worker.transfer_outgoing_log]

    workers = set(client.scheduler_info()["workers"])
    entries = [entry for logs in client.run(log).values() for entry in logs]
    to_workers = sum(total for who, total in entries if who in workers)
    return to_workers, sum(total for who, total in entries if who not in workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 2 rounds")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("remote.md"))
    args = parser.parse_args()
    side, rounds = (2048, 2) if args.quick else (8192, 5)

    import fsspec

    array = terrain(side)
    server, endpoint = start_s3()
    options = {"endpoint_url": endpoint, **CREDENTIALS}
    fsspec.filesystem("s3", **options).mkdir("bench")
    base = Path(tempfile.mkdtemp(prefix="xr-tiles-remote-"))
    targets = {"local disk": str(base / "dem.vrt"), "S3 on loopback": "s3://bench/dem/dem.vrt"}
    runs = [(t, s) for t in targets for s in ("threads", *CLUSTERS)]
    times: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    traffic: dict[tuple[str, str], tuple[int, int]] = {}

    def write(target: str, scheduler: Any) -> float:
        url = targets[target]
        store = options if url.startswith("s3://") else None
        start = time.perf_counter()
        array.tiles.to_vrt(url, storage_options=store, mode="w", scheduler=scheduler)
        return time.perf_counter() - start

    try:
        # One cluster at a time, each with threads beside it: an idle cluster's scheduler
        # and workers would take a share of the 2 cores from the others.
        for name, tuned in CLUSTERS.items():
            client = start_cluster(tuned)
            try:
                phase = [(t, s) for t in targets for s in ("threads", name)]
                for target, scheduler in phase:  # warm-up: imports, connections
                    write(target, client if scheduler == name else "threads")
                for round_ in range(rounds):
                    for target, scheduler in phase[round_ % 4:] + phase[: round_ % 4]:
                        if scheduler == "threads":
                            times[target, scheduler].append(write(target, "threads"))
                            continue
                        before = served_bytes(client)
                        times[target, scheduler].append(write(target, client))
                        after = served_bytes(client)
                        traffic[target, scheduler] = (after[0] - before[0], after[1] - before[1])
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
    finally:
        server.terminate()
        shutil.rmtree(base, ignore_errors=True)
    report(args, side, rounds, times, traffic)


def report(args, side, rounds, times, traffic) -> None:
    median = {run: statistics.median(values) for run, values in times.items()}
    reference = median["local disk", "threads"]
    pixels_mib = side * side * 4 / 2**20
    rows = [
        f"| {target} | {scheduler} | {median[target, scheduler]:.2f} | "
        f"{median[target, scheduler] / reference:.2f} | "
        + (f"{traffic[target, scheduler][0] / 1024:.1f} KiB | {traffic[target, scheduler][1]} B |"
           if (target, scheduler) in traffic else "| |")
        for target, scheduler in times
    ]
    command = " ".join(["benchmarks/bench_remote.py", *sys.argv[1:]])
    text = "\n".join([
        "# xr_tiles object store and cluster benchmark",
        "",
        (f"`{command}`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; the script's "
         f"docstring says what is measured. {side} x {side} float32 terrain generated in the "
         f"graph ({pixels_mib:.0f} MiB of pixels), {CHUNK}-chunks, zstd 3 + predictor 3; "
         f"median of {rounds} rounds."),
        "",
        ("| target | scheduler | median s | ratio to local disk, threads | results workers "
        "served to workers | results workers served to the client |"),
        "|:---|:---|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
