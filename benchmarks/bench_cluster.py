"""Cluster benchmark: batched tile tasks on dask's threads and on a distributed LocalCluster,
from 1,000 to 1,000,000 tiles, against a floor of encoding and file creation alone.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_cluster.py                  # 1k, 10k, 100k (3 rounds), 1M (1)
    .venv/bin/python benchmarks/bench_cluster.py --quick          # 1k, 10k, 1 round
    .venv/bin/python benchmarks/bench_cluster.py --baseline /tmp/base14   # plus "today" columns

Workload: uint8 tiles of 32 x 32 pixels, codec "none", of a ``dask.array.zeros`` input (one
chunk a tile), written eagerly (``to_vrt(..., codec="none")``, durable) by
``scheduler="threads"`` (xr_tiles' own thread count) or by a Client of a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``. Each measured write runs
in a fresh child process, after an untimed 2 x 2-tile warm-up write there (and the cluster's
start), into a fresh folder under /tmp, deleted untimed afterwards.

Measured in each write: the whole ``to_vrt`` call; the tile tasks (``len(WriteGraph.keys)``);
the time inside ``write_graph``, split into ``_inliner`` (dask materialising the input's
graph and culling it, plus the inlining's preparation: "dask input graph") and the rest
("xr_tiles graph"); the time inside ``_published`` less the filesystem flush in it ("index":
the VRT, its checks, the publish; the flush is left out because the floor has one too); the
driver's peak RSS (VmHWM) before and after ``write_graph`` and at the end; on the cluster,
the workers' CPU time and VmHWM. The floor, in a fresh child of its own: a tile's real
``(job, tile, blocks)``, captured from ``graph._written`` in a tiny write, encoded by
``encode_with_levels`` and written to its own new file (plain open/write/close, one folder)
N times by a ThreadPoolExecutor of the scheduler's worker count, then one ``os.sync()``.
"Outside encoding and file creation" is (whole - floor) / tiles; "scheduling and the rest"
is what is left of it after graph building and the index (dask's scheduler or the cluster's,
the workers' per-task flush, the commit's begin, a put's link into place against the floor's
plain open). Rounds are interleaved (every
configuration once a round, in order; the numpy and malloc-trim runs alternate before and
after their pair; each run's folder is deleted and synced before the next) and medians
quoted. Children import xr_tiles as the parent does (``PYTHONPATH`` pins a snapshot). ``--baseline PATH`` also times
the whole write of another checkout (``PYTHONPATH=PATH``) where it takes seconds, not minutes.
The malloc-trim study: the 100k-tile LocalCluster write as distributed starts its workers
(``MALLOC_TRIM_THRESHOLD_=65536``) and with the variable left to glibc.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TILE = 32
SIDES = {1_000: 32, 10_000: 100, 100_000: 316, 1_000_000: 1000}
CLUSTER_WORKERS = 2
UNSET_TRIM = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
RECIPE = 'dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})'


def vm_hwm_mib() -> float:
    """This process's peak RSS (VmHWM; not ``ru_maxrss``, which a child inherits)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def grid(data):
    import numpy as np
    import xarray as xr

    height, width = data.shape
    coords = {"y": height - 0.5 - np.arange(height), "x": 0.5 + np.arange(width)}
    return xr.DataArray(data, dims=("y", "x"), coords=coords)


def start_cluster(trim: str):
    """A LocalCluster and its Client; ``trim="unset"``: MALLOC_TRIM_THRESHOLD_ left to glibc."""
    import dask
    from distributed import Client, LocalCluster

    if trim == "unset":
        dask.config.set(UNSET_TRIM)
    cluster = LocalCluster(n_workers=CLUSTER_WORKERS, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return cluster, Client(cluster)


def worker_state(client) -> dict[str, object]:
    return {"cpu_s": sum(client.run(time.process_time).values()),
            "hwm_mib": sorted(client.run(vm_hwm_mib).values()),
            "trim_env": sorted({str(v) for v in client.run(
                lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()})}


def install_timers(record: dict[str, float]) -> None:
    """Wrap what the docstring times; each adds its seconds to ``record``."""
    from xr_tiles import graph, write
    from xr_tiles.store import local

    def wrap(owner, name, key, before=None, after=None):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            if before:
                before()
            start = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                record[key] = record.get(key, 0.0) + time.perf_counter() - start
            if after:
                after(result)
            return result

        setattr(owner, name, timed)

    wrap(write, "write_graph", "graph_s",
         before=lambda: record.update(hwm_before_graph_mib=vm_hwm_mib()),
         after=lambda built: record.update(tasks=len(built.keys),
                                           hwm_after_graph_mib=vm_hwm_mib()))
    wrap(graph, "_inliner", "inliner_s")
    wrap(graph, "_published", "published_s")
    wrap(local.LocalStore, "flush", "flush_s")  # in the driver, only the commit's flush


def write_child(config: dict, folder: Path) -> dict[str, object]:
    """One measured write (after the warm-up); its record."""
    import dask.array as dsa
    import numpy as np

    import xr_tiles

    side = SIDES[config["tiles"]]
    client = None
    if config["scheduler"] == "cluster":
        cluster, client = start_cluster(config.get("trim", "default"))
    scheduler = client or "threads"
    shape = (side * TILE, side * TILE)
    data = (dsa.from_array(np.zeros(shape, np.uint8), chunks=TILE) if config.get("numpy")
            else dsa.zeros(shape, dtype="uint8", chunks=TILE))
    array = grid(data)
    array[: 2 * TILE, : 2 * TILE].tiles.to_vrt(folder / "warm-up.vrt", codec="none",
                                                scheduler=scheduler)
    record: dict[str, object] = {"xr_tiles": xr_tiles.__file__}
    if not config.get("baseline"):
        install_timers(record)  # type: ignore[arg-type]
    workers_before = worker_state(client) if client else None
    start = time.perf_counter()
    array.tiles.to_vrt(folder / "write.vrt", codec="none", scheduler=scheduler)
    record["whole_s"] = time.perf_counter() - start
    record["hwm_end_mib"] = vm_hwm_mib()
    if client:
        after = worker_state(client)
        record.update(worker_cpu_s=after["cpu_s"] - workers_before["cpu_s"],  # type: ignore[operator]
                      worker_hwm_mib=after["hwm_mib"], trim_env=after["trim_env"])
        client.close()
        cluster.close()
    return record


def floor_child(config: dict, folder: Path) -> dict[str, object]:
    """Encode and write ``tiles`` copies of a real tile, one file each, as the docstring says."""
    from concurrent.futures import ThreadPoolExecutor

    import dask.array as dsa
    import dask.system

    import xr_tiles  # noqa: F401 - registers the .tiles accessor
    from xr_tiles import graph
    from xr_tiles.encode import encode_with_levels
    from xr_tiles.scheduling import thread_count

    captured, original = [], graph._written
    graph._written = lambda job, tile, blocks, *rest: (  # type: ignore[assignment]
        captured.append((job, tile, blocks)), original(job, tile, blocks, *rest))[1]
    grid(dsa.zeros((2 * TILE, 2 * TILE), dtype="uint8", chunks=TILE)).tiles.to_vrt(
        folder / "capture.vrt", codec="none", scheduler="threads")
    graph._written = original  # type: ignore[assignment]
    job, tile, blocks = captured[0]
    workers = (CLUSTER_WORKERS if config["scheduler"] == "cluster"
               else thread_count(job.plan, dask.system.CPU_COUNT))
    count, out = SIDES[config["tiles"]] ** 2, folder / "floor"
    out.mkdir()

    def run(first: int) -> None:
        for index in range(first, count, workers):
            encoded = encode_with_levels(blocks, job.spec, job.plan.tile_transform(tile),
                                         job.templates.get((tile.height, tile.width)))
            with open(os.path.join(out, f"{index}.tif"), "wb") as file:
                file.write(encoded.data)  # type: ignore[union-attr]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    os.sync()
    return {"floor_s": time.perf_counter() - start, "workers": workers}


def run_child(config: dict, baseline: str | None, timeout: float) -> dict[str, object]:
    """Run one configuration in a fresh process (its own session, killed whole on timeout)."""
    folder = Path(tempfile.mkdtemp(prefix="xr-tiles-cluster-", dir="/tmp"))
    started = time.strftime("%H:%M:%S")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    if config.get("baseline"):
        env["PYTHONPATH"] = baseline  # type: ignore[assignment]
    command = [sys.executable, __file__, "--child", json.dumps(config), str(folder)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
        if child.returncode:
            raise RuntimeError(f"{config} failed:\n{err[-3000:]}")
        record = json.loads(out.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        reached = sum(name.endswith(".tif") for _, _, names in os.walk(folder) for name in names)
        record = {"timed_out_s": timeout, "tifs_reached": reached}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.sync()  # the deletion's writeback, not the next run's
    return {**config, "started": started, **record}


def round_configs(counts: list[int], baseline: bool, number: int = 1) -> list[dict]:
    """Every configuration once, in order (the malloc-trim pair's order alternating)."""
    configs: list[dict] = []
    for tiles in counts:
        for scheduler in ("threads", "cluster"):
            write, big = {"kind": "write", "tiles": tiles, "scheduler": scheduler}, tiles == 100_000
            configs += [{**write, "kind": "floor"}, write]
            if big:  # the numpy-backed input; the malloc-trim study
                extra = ({**write, "numpy": True} if scheduler == "threads"
                         else {**write, "trim": "unset"})
                configs.insert(len(configs) - (number + 1) % 2, extra)  # after, then before
            if baseline and (tiles <= 10_000 or (big and scheduler == "threads")):
                configs.append({**write, "baseline": True})
    return configs


def label(config: dict) -> str:
    extra = [name for name in ("numpy", "baseline") if config.get(name)]
    extra += [f"trim-{config['trim']}"] if config.get("trim") else []
    return "/".join([config["kind"], str(config["tiles"]), config["scheduler"], *extra])


def median(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if key in r]
    return statistics.median(values) if values else None


def summary(results: dict[str, list[dict]], tiles: int, scheduler: str, numpy: bool) -> dict:
    """One row of the table, from the medians of its configuration's rounds."""
    name = f"{tiles}/{scheduler}"
    writes = results.get(f"write/{name}" + ("/numpy" if numpy else ""), [])
    done = [r for r in writes if "whole_s" in r]
    floor = median(results.get(f"floor/{name}", []), "floor_s")
    row = {"tiles": SIDES[tiles] ** 2, "scheduler": scheduler + (" (numpy input)" if numpy else ""),
           "rounds": len(done), "floor_s": floor,
           "baseline_s": None if numpy else median(results.get(f"write/{name}/baseline", []),
                                                   "whole_s")}
    if not done:
        row["timed_out"] = writes[0] if writes else None
        return row
    whole, graph_s, inliner = (median(done, k) for k in ("whole_s", "graph_s", "inliner_s"))
    index = statistics.median(r["published_s"] - r.get("flush_s", 0.0) for r in done)
    per = 1e6 / row["tiles"]
    row.update(tasks=int(median(done, "tasks")), whole_s=whole,
               dask_us=inliner * per, xr_us=(graph_s - inliner) * per, index_us=index * per)
    if floor is not None:
        row["outside_us"] = (whole - floor) * per
        row["rest_us"] = row["outside_us"] - row["dask_us"] - row["xr_us"] - row["index_us"]
    return row


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(results: dict[str, list[dict]], counts: list[int], rounds: int, command: str) -> str:
    rows = [summary(results, t, s, False) for t in counts for s in ("threads", "cluster")]
    if 100_000 in counts:
        rows.insert(rows.index(next(r for r in rows if r["tiles"] == 316**2)) + 1,
                    summary(results, 100_000, "threads", True))
    lines = [
        "# xr_tiles cluster benchmark: batched tile tasks on threads and on a LocalCluster", "",
        f"`{command}`, {time.strftime('%Y-%m-%d')}, on {os.cpu_count()} cores.", "",
        "What is measured: eager writes of uint8 32 x 32 tiles (codec none, durable) of a "
        "`dask.array.zeros` input, each in a fresh process after an untimed warm-up; "
        "`threads` is dask's threads (xr_tiles' thread count), `cluster` a Client of a "
        f"LocalCluster of {CLUSTER_WORKERS} worker processes of 1 thread. The floor encodes "
        "and writes the same number of tiles with a thread pool of the same worker count and "
        "nothing else (plain open/write/close, then one `os.sync()`); \"outside\" is "
        "(whole - floor) / tiles, split into dask materialising the input's graph "
        "(`_inliner`), the rest of xr_tiles' graph building (`write_graph`), the index "
        "(`_published` less its flush) and scheduling and the rest (the remainder). "
        f"Medians of {rounds} interleaved rounds" + (", one round at 1,000,000 tiles" if
        1_000_000 in counts else "") + "; the script's docstring has the details. "
        "xr_tiles imported from " + ", ".join(sorted({f"`{r['xr_tiles']}`" for v in
        results.values() for r in v if "xr_tiles" in r and not r.get("baseline")})) + ".", "",
        ("| tiles | scheduler | tasks | whole write s | today whole s | floor s "
        "| outside us/tile | dask input graph us/tile | xr_tiles graph us/tile "
        "| index us/tile | scheduling and the rest us/tile |"),
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "whole_s" not in r:
            t = r.get("timed_out") or {}
            lines.append(f"| {r['tiles']:,} | {r['scheduler']} | - | killed after "
                         f"{t.get('timed_out_s', 0):.0f} s ({t.get('tifs_reached', 0):,} tiles "
                         f"written) | - | {fmt(r['floor_s'], '.1f')} | - | - | - | - | - |")
            continue
        lines.append(
            f"| {r['tiles']:,} | {r['scheduler']} | {r['tasks']:,} | {r['whole_s']:.2f} | "
            f"{fmt(r['baseline_s'], '.2f')} | {fmt(r['floor_s'], '.2f')} | "
            + " | ".join(fmt(r.get(k), ".0f") for k in
                         ("outside_us", "dask_us", "xr_us", "index_us", "rest_us")) + " |")
    by = {(r["tiles"], r["scheduler"]): r for r in rows if "whole_s" in r}
    lines += ["", "LocalCluster / threads, whole write (outside us/tile): " + "; ".join(
        f"{t:,} tiles {c['whole_s'] / by[t, 'threads']['whole_s']:.2f}x "
        f"({fmt(c.get('outside_us'), '.0f')} vs {fmt(by[t, 'threads'].get('outside_us'), '.0f')})"
        for (t, s), c in by.items() if s == "cluster" and (t, "threads") in by) + ".", ""]
    big = max(counts)
    for scheduler in ("threads", "cluster"):
        done = [r for r in results.get(f"write/{big}/{scheduler}", []) if "whole_s" in r]
        if done:
            lines.append(
                f"Driver memory, {SIDES[big] ** 2:,} tiles, {scheduler}: VmHWM "
                f"{median(done, 'hwm_before_graph_mib'):.0f} MiB before `write_graph`, "
                f"{median(done, 'hwm_after_graph_mib'):.0f} MiB after it, "
                f"{median(done, 'hwm_end_mib'):.0f} MiB at the end of the write.")
    lines.append("")
    trims = [("default (65536)", results.get("write/100000/cluster", [])),
             ("left to glibc", results.get("write/100000/cluster/trim-unset", []))]
    if all(records for _, records in trims):
        lines += ["Malloc trim, 100,000 tiles on the LocalCluster (medians):", "",
                  ("| MALLOC_TRIM_THRESHOLD_ | seen in workers | whole write s "
                  "| workers' CPU s (both) | workers' peak RSS MiB (each) |"),
                  "|:---|:---|---:|---:|---:|"]
        for name, records in trims:
            hwm = [statistics.median(r["worker_hwm_mib"][i] for r in records) for i in range(2)]
            lines.append(f"| {name} | {records[0]['trim_env']} | {median(records, 'whole_s'):.2f} "
                         f"| {median(records, 'worker_cpu_s'):.2f} | "
                         f"{hwm[0]:.0f}, {hwm[1]:.0f} |")
        lines += ["", f"Recipe (before the cluster starts): `{RECIPE}`.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k tiles, 1 round")
    parser.add_argument("--baseline", metavar="PATH", help="a checkout to time as 'today'")
    parser.add_argument("--rounds", type=int, default=None, help="rounds below 1M tiles")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("cluster.md"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, folder = json.loads(args.child[0]), Path(args.child[1])
        child = floor_child if config["kind"] == "floor" else write_child
        print(json.dumps(child(config, folder)), flush=True)
        return
    counts = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    rounds = args.rounds or (1 if args.quick else 3)
    plan = [round_configs(counts, bool(args.baseline), n) for n in range(1, rounds + 1)]
    if not args.quick:
        plan.append(round_configs([1_000_000], False))
        counts.append(1_000_000)
    results: dict[str, list[dict]] = {}
    for number, configs in enumerate(plan, 1):
        for config in configs:
            timeout = 900 if config["tiles"] == 1_000_000 else 300
            record = run_child(config, args.baseline, timeout)
            results.setdefault(label(config), []).append(record)
            shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}
            print(f"round {number}: {label(config)} {shown}", flush=True)
    pinned = f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else ""
    command = pinned + " ".join([".venv/bin/python benchmarks/bench_cluster.py", *sys.argv[1:]])
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    args.out.write_text(report(results, counts, rounds, command))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
