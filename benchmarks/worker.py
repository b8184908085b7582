"""One timed write in a fresh process; prints a single JSON line.

Run by ``bench_write.py``; not meant to be called by hand, but it can be::

    .venv/bin/python benchmarks/worker.py --contender floor \\
        --workload random-f32 --outdir /tmp/x --quick

Steps: generate the workload data (untimed), let the contender wrap it
(untimed), do a small warm-up write (untimed: imports, numba JIT, thread
pools), reset the kernel's peak-RSS counter, then time exactly one write.
The output is left in ``--outdir/run`` for the driver to verify and delete.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import time
import traceback

import numpy as np
from contenders import CONTENDERS
from workloads import Workload, checksum, generate, get_workload

WARMUP_EDGE = 512  # pixels per side of the untimed warm-up write


def _read_status_kib(field: str) -> int | None:
    """Read a ``VmRSS``/``VmHWM`` style field from /proc/self/status."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)  # all threads
    return ru.ru_utime + ru.ru_stime


def _machine_busy_seconds() -> float:
    """CPU seconds all processes spent busy so far (idle and iowait excluded)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:8]]
    except OSError:
        return float("nan")
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _tree_bytes(path: str) -> tuple[int, int]:
    """Total apparent size and number of files under ``path``."""
    total = files = 0
    for root, _dirs, names in os.walk(path):
        for name in names:
            total += os.path.getsize(os.path.join(root, name))
            files += 1
    return total, files


def _warmup_workload(wl: Workload) -> Workload:
    edge = min(WARMUP_EDGE, wl.height, wl.width)
    chunk = min(wl.chunk, edge // 2)
    return Workload(**{**wl.to_dict(), "height": edge, "width": edge, "chunk": chunk})


def _warmup(contender, data: np.ndarray, wl: Workload, outdir: str) -> None:
    """Write a small corner of the data once so one-off costs are not timed."""
    small = _warmup_workload(wl)
    corner = np.ascontiguousarray(data[..., : small.height, : small.width])
    target = os.path.join(outdir, "warmup")
    os.mkdir(target)
    contender.write(contender.prepare(corner, small), target, small)
    shutil.rmtree(target)


def run_once(contender_name: str, wl: Workload, outdir: str, warmup: bool = True) -> dict:
    contender = CONTENDERS[contender_name]
    data = generate(wl)
    digest = checksum(data)
    obj = contender.prepare(data, wl)
    if warmup:
        _warmup(contender, data, wl, outdir)

    target = os.path.join(outdir, "run")
    os.mkdir(target)
    gc.collect()
    os.sync()  # flush earlier dirty pages so they do not land in our timing
    rss_before = _read_status_kib("VmRSS")
    peak_reset = _reset_peak_rss()

    busy0 = _machine_busy_seconds()
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result_path = contender.write(obj, target, wl)
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    others = _machine_busy_seconds() - busy0 - cpu  # other processes, kernel
    cores = len(os.sched_getaffinity(0))

    peak_kib = _read_status_kib("VmHWM") if peak_reset else None
    if peak_kib is None:  # fall back to the whole-process high-water mark
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out_bytes, out_files = _tree_bytes(target)
    return {
        "contender": contender_name,
        "workload": wl.name,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "cores": cores,
        "background_cpu": max(others, 0.0) / (seconds * cores),
        "peak_rss_mib": peak_kib / 1024,
        "rss_before_mib": (rss_before or 0) / 1024,
        "peak_rss_is_write_only": peak_reset,
        "bytes_on_disk": out_bytes,
        "files": out_files,
        "raw_bytes": wl.nbytes,
        "output": os.path.relpath(str(result_path), outdir),
        "data_checksum": digest,
        "python": sys.version.split()[0],
        "versions": contender.versions(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contender", required=True, choices=sorted(CONTENDERS))
    ap.add_argument("--workload", required=True)
    ap.add_argument("--outdir", required=True, help="existing empty directory to write into")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false")
    args = ap.parse_args(argv)

    wl = get_workload(args.workload, quick=args.quick)
    try:
        result = run_once(args.contender, wl, args.outdir, warmup=args.warmup)
    except Exception:  # noqa: BLE001 - reported to the driver as JSON
        result = {"contender": args.contender, "workload": wl.name, "error": traceback.format_exc()}
    print(json.dumps(result), flush=True)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
