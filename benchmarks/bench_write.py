"""Write benchmark: xr_tiles against xarray-spatial, rioxarray and a raw floor.

Run from the repository root with the project's venv (Python 3.11)::

    .venv/bin/python benchmarks/bench_write.py --quick    # smoke, a few minutes
    .venv/bin/python benchmarks/bench_write.py            # 5 rounds, all (long)
    .venv/bin/python benchmarks/bench_write.py --rounds 7 \\
        --workloads random-f32 --contenders xr_tiles-threads,xarray-spatial

What it does
------------
Every timed write runs in a fresh subprocess (``worker.py``) that generates
the workload's data from a fixed seed (numpy, in memory, wrapped in dask with
the workload's chunks), does a small untimed warm-up write, then times one
write and reports wall seconds, CPU user+sys, peak RSS during the write and
bytes on disk as JSON.  Data generation, warm-up, verification and deleting
the output are never timed.

xarray-spatial 0.10.20 needs Python 3.12, so its worker runs in its own venv,
``benchmarks/.venv-xrspatial`` (git-ignored), created on first use with
``PYENV_VERSION=3.12.1 python3.12 -m venv`` and pip.

For each workload the contenders run round by round (round 1: every
contender once, round 2: every contender again, ...), with the contender
order rotated each round so no one always runs first or right after a big
write.  Outputs go to a temp directory (``--tmpdir``, default the system
temp dir) and are deleted, followed by ``sync``, between runs.  Before each
run the driver waits (``--idle-wait``, default up to 60 s) until the CPUs
are quiet, and every run records how much CPU other processes used during
its write ("other CPU"); a run where that exceeds ``--noisy`` (25%) is
discarded and repeated, up to ``--retries`` (2) times.  In the first round every VRT/GeoTIFF output is
read back with rasterio and compared with the data (``--verify``).

The tables give medians over the rounds; ``ratio`` is a contender's median
time over xr_tiles-threads' median time (lower is faster).  Results are also
written as markdown (``--out``, default ``benchmarks/results.md``) and JSON
(same name, ``.json``).  See ``contenders.py`` for exactly how each peer is
called and ``workloads.py`` for the data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from contenders import CONTENDERS, REFERENCE
from workloads import WORKLOADS, Workload, checksum, generate, get_workload

BENCH_DIR = Path(__file__).resolve().parent
WORKER = BENCH_DIR / "worker.py"
XRSPATIAL_VENV = BENCH_DIR / ".venv-xrspatial"
XRSPATIAL_VERSION = "0.10.20"
XRSPATIAL_REQUIREMENTS = [f"xarray-spatial[geotiff]=={XRSPATIAL_VERSION}", "dask[array]"]
XRSPATIAL_PYENV = "3.12.1"
WORKER_TIMEOUT_S = 1800
SOURCE_KEY = "xr_tiles sources sha1"
QUIET_THRESHOLD = 0.15  # machine CPU busy fraction regarded as "quiet"
# Issue 3's targets: (numerator, denominator, maximum ratio of median times) per workload;
# "ahead of" a peer is a ratio below 1. Other pairs are reported without a target.
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "random-f32": [(REFERENCE, "xarray-spatial", 1 / 3), (REFERENCE, "floor", 1.5)],
    "smooth-f32": [
        (REFERENCE, "floor", 1.5), (REFERENCE, "rioxarray", 1.0), (REFERENCE, "xarray-spatial", 1.0)
    ],
    "rgb-u8": [
        (REFERENCE, "floor", 1.5), (REFERENCE, "rioxarray", 1.0),
        (REFERENCE, "xarray-spatial", 1.0), (REFERENCE, "xr_tiles-sync", 0.6),
    ],
    "dem-i16": [(REFERENCE, "floor", 1.3)],
}
REPORTED = [(REFERENCE, "xarray-spatial"), (REFERENCE, "xr_tiles-sync"), (REFERENCE, "floor")]


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def _names(text: str, known: dict) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(known)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds per workload (default 5, or 2 with --quick)",
    )
    ap.add_argument(
        "--workloads",
        type=lambda s: _names(s, WORKLOADS),
        default=list(WORKLOADS),
        help=f"comma-separated, from: {', '.join(WORKLOADS)}",
    )
    ap.add_argument(
        "--contenders",
        type=lambda s: _names(s, CONTENDERS),
        default=list(CONTENDERS),
        help=f"comma-separated, from: {', '.join(CONTENDERS)}",
    )
    ap.add_argument(
        "--quick", action="store_true", help="small data (each side / 4) and 2 rounds: a smoke test"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown results file; JSON goes beside it "
        "(default benchmarks/results.md, results-quick.md with --quick)",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the markdown (and targets) from the JSON beside --out; run nothing",
    )
    ap.add_argument(
        "--tmpdir", default=None, help="where outputs are written (default: system temp dir)"
    )
    ap.add_argument(
        "--verify",
        choices=["first", "all", "none"],
        default="first",
        help="read outputs back and compare in which rounds (default first)",
    )
    ap.add_argument(
        "--idle-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other processes "
        f"to leave the CPUs (< {QUIET_THRESHOLD:.0%}% busy); 0 disables",
    )
    ap.add_argument(
        "--noisy",
        type=float,
        default=0.25,
        metavar="FRACTION",
        help="a run during which other processes used more than this share of the CPUs "
        "is repeated (default 0.25)",
    )
    ap.add_argument(
        "--retries", type=int, default=2, help="how often a noisy run is repeated (default 2)"
    )
    ap.add_argument(
        "--xrspatial-venv",
        type=Path,
        default=XRSPATIAL_VENV,
        help="venv for xarray-spatial (created if missing)",
    )
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    if args.out is None:
        args.out = BENCH_DIR / ("results-quick.md" if args.quick else "results.md")
    return args


# --------------------------------------------------------------------------
# interpreters
# --------------------------------------------------------------------------


def _installed_version(python: Path, dist: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_xrspatial_python(venv: Path) -> Path:
    """Return the xarray-spatial venv's python, creating the venv if needed."""
    python = venv / "bin" / "python"
    if python.exists() and _installed_version(python, "xarray-spatial") == XRSPATIAL_VERSION:
        return python
    print(
        f"creating {venv} (Python {XRSPATIAL_PYENV}, xarray-spatial {XRSPATIAL_VERSION}) ...",
        flush=True,
    )
    env = {**os.environ, "PYENV_VERSION": XRSPATIAL_PYENV}
    subprocess.run(["python3.12", "-m", "venv", str(venv)], env=env, check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *XRSPATIAL_REQUIREMENTS], check=True
    )
    return python


def interpreters(contenders: list[str], xrspatial_venv: Path) -> dict[str, Path]:
    pythons = {"main": Path(sys.executable)}
    if any(CONTENDERS[c].python == "xrspatial" for c in contenders):
        pythons["xrspatial"] = ensure_xrspatial_python(xrspatial_venv)
    return {c: pythons[CONTENDERS[c].python] for c in contenders}


# --------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------


def _busy_and_total_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:8]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def machine_busy(interval: float) -> float:
    """Fraction of all CPUs busy over ``interval`` seconds (this process sleeps)."""
    busy0, total0 = _busy_and_total_jiffies()
    time.sleep(interval)
    busy1, total1 = _busy_and_total_jiffies()
    return (busy1 - busy0) / max(total1 - total0, 1)


def wait_until_quiet(max_wait: float) -> float:
    """Wait (up to ``max_wait`` s) until other processes leave the CPUs; return busy."""
    if max_wait <= 0:
        return float("nan")
    deadline = time.monotonic() + max_wait
    busy = machine_busy(0.5)
    while busy > QUIET_THRESHOLD and time.monotonic() < deadline:
        busy = machine_busy(1.0)
    return busy


def run_worker(python: Path, contender: str, wl: Workload, quick: bool, outdir: str) -> dict:
    """Run one timed write in a fresh process; return its JSON result."""
    cmd = [str(python), str(WORKER), "--contender", contender, "--workload", wl.name]
    cmd += ["--outdir", outdir, *(["--quick"] if quick else [])]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=WORKER_TIMEOUT_S,
            cwd=BENCH_DIR.parent,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"worker exited {proc.returncode} without a result\n{proc.stderr[-4000:]}"}
    result = json.loads(lines[-1])
    if proc.stderr.strip():
        result["stderr"] = proc.stderr[-4000:]
    return result


def verify_output(result: dict, outdir: str, data: np.ndarray) -> str:
    """Read a VRT/GeoTIFF output back and compare with the data."""
    path = os.path.join(outdir, result["output"])
    if not path.endswith((".vrt", ".tif")):
        return "n/a"
    import rasterio

    with rasterio.open(path) as src:
        back = src.read()
    expected = data if data.ndim == 3 else data[np.newaxis]
    if back.shape != expected.shape or back.dtype != expected.dtype:
        return f"MISMATCH: read {back.dtype}{back.shape}, wrote {expected.dtype}{expected.shape}"
    if not np.array_equal(back, expected):
        return f"MISMATCH: {int((back != expected).sum())} pixels differ"
    return "ok"


def timed_run(
    python: Path,
    contender: str,
    wl: Workload,
    args: argparse.Namespace,
    base: str,
    data: np.ndarray | None,
) -> dict:
    outdir = tempfile.mkdtemp(prefix=f"{wl.name}-{contender}-", dir=base)
    busy_before = wait_until_quiet(args.idle_wait)
    try:
        result = run_worker(python, contender, wl, args.quick, outdir)
        result["busy_before_run"] = busy_before
        if data is not None and "error" not in result:
            try:
                result["verified"] = verify_output(result, outdir, data)
            except Exception as exc:  # noqa: BLE001 - recorded, not fatal
                result["verified"] = f"MISMATCH: could not read back: {exc!r}"
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
        os.sync()
    return result


# --------------------------------------------------------------------------
# the schedule
# --------------------------------------------------------------------------


def rotated(items: list[str], k: int) -> list[str]:
    k %= len(items)
    return items[k:] + items[:k]


def _progress(rnd: int, rounds: int, wl: Workload, contender: str, res: dict) -> None:
    head = f"  round {rnd + 1}/{rounds}  {wl.name:<11} {contender:<17}"
    if "error" in res:
        print(f"{head} FAILED\n{_indent(res['error'])}", flush=True)
        return
    extra = f"  verify={res['verified']}" if "verified" in res else ""
    print(
        f"{head} {res['seconds']:8.3f} s  cpu {res['cpu_seconds']:7.2f} s  "
        f"bg {res['background_cpu']:4.0%}  peak {res['peak_rss_mib']:6.0f} MiB  "
        f"{res['bytes_on_disk'] / 2**20:7.1f} MiB on disk ({res['files']} files)"
        f"{extra}",
        flush=True,
    )


def _indent(text: str) -> str:
    return "\n".join("      | " + line for line in text.rstrip().splitlines())


def measured_run(
    contender: str,
    wl: Workload,
    rnd: int,
    ctx: dict,
    data: np.ndarray | None,
) -> list[dict]:
    """One round's run of one contender, repeated while other load spoiled it.

    A run during which other processes kept more than ``--noisy`` of the CPUs
    busy is marked ``discarded`` and repeated, at most ``--retries`` times.
    Returns every attempt, the kept one last.
    """
    args = ctx["args"]
    attempts = []
    for attempt in range(args.retries + 1):
        res = timed_run(ctx["pythons"][contender], contender, wl, args, ctx["base"], data)
        res.update(contender=contender, workload=wl.name, round=rnd + 1)
        if ctx["digest"] and res.get("data_checksum") not in (None, ctx["digest"]):
            res["verified"] = (
                f"MISMATCH: worker generated different data "
                f"({res['data_checksum']} != {ctx['digest']})"
            )
        _progress(rnd, args.rounds, wl, contender, res)
        attempts.append(res)
        noisy = "error" not in res and res["background_cpu"] > args.noisy
        if not noisy or attempt == args.retries:
            return attempts
        res["discarded"] = True
        print(f"{'':37}(other processes busy: repeating this run)", flush=True)
    return attempts


def bench_workload(
    wl: Workload,
    contenders: list[str],
    pythons: dict[str, Path],
    args: argparse.Namespace,
    base: str,
) -> list[dict]:
    """All rounds of one workload; a contender that fails is dropped for the rest."""
    data = generate(wl) if args.verify != "none" else None
    digest = checksum(data) if data is not None else None
    ctx = {"args": args, "pythons": pythons, "base": base, "digest": digest}
    results: list[dict] = []
    failed: set[str] = set()
    for rnd in range(args.rounds):
        verify_now = args.verify == "all" or (args.verify == "first" and rnd == 0)
        for contender in rotated(contenders, rnd):
            if contender in failed:
                continue
            attempts = measured_run(contender, wl, rnd, ctx, data if verify_now else None)
            if "error" in attempts[-1]:
                failed.add(contender)
            results += attempts
    return results


# --------------------------------------------------------------------------
# statistics and tables
# --------------------------------------------------------------------------


def summarise(wl: Workload, contenders: list[str], results: list[dict]) -> list[dict]:
    """One row per contender: medians over its successful rounds."""
    kept = [r for r in results if "error" not in r and not r.get("discarded")]
    ok = {c: [r for r in kept if r["contender"] == c] for c in contenders}
    ref = ok.get(REFERENCE)
    ref_median = statistics.median(r["seconds"] for r in ref) if ref else None
    rows = []
    for c in contenders:
        runs = ok[c]
        if not runs:
            err = next((r["error"] for r in results if r["contender"] == c), "not run")
            rows.append({"contender": c, "error": err.strip().splitlines()[-1]})
            continue
        secs = [r["seconds"] for r in runs]
        med = statistics.median(secs)
        disk = statistics.median(r["bytes_on_disk"] for r in runs)
        rows.append(
            {
                "contender": c,
                "runs": len(runs),
                "median_s": med,
                "min_s": min(secs),
                "max_s": max(secs),
                "ratio": med / ref_median if ref_median else None,
                "mb_per_s": wl.nbytes / 1e6 / med,
                "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
                "rss_growth_mib": statistics.median(
                    r["peak_rss_mib"] - r["rss_before_mib"] for r in runs
                ),
                "compression_ratio": wl.nbytes / disk if disk else None,
                "files": runs[0]["files"],
                "cpu_util": statistics.median(
                    r["cpu_seconds"] / (r["seconds"] * r["cores"]) for r in runs
                ),
                "background_cpu": statistics.median(r["background_cpu"] for r in runs),
                "verified": next((r["verified"] for r in runs if "verified" in r), "-"),
            }
        )
    return rows


def paired_ratio(results: list[dict], num: str, den: str) -> float | None:
    """Median over rounds of num/den time within the same round."""
    by_round: dict[int, dict[str, float]] = {}
    for r in results:
        if "error" not in r and not r.get("discarded"):
            by_round.setdefault(r["round"], {})[r["contender"]] = r["seconds"]
    ratios = [t[num] / t[den] for t in by_round.values() if num in t and den in t]
    return statistics.median(ratios) if ratios else None


def target_lines(wl: Workload, rows: list[dict], results: list[dict]) -> list[str]:
    medians = {r["contender"]: r["median_s"] for r in rows if "median_s" in r}
    targets = TARGETS.get(wl.name, [])
    limits = {(num, den): limit for num, den, limit in targets}
    pairs = [(num, den) for num, den, _ in targets]
    pairs += [pair for pair in REPORTED if pair not in limits]
    lines = []
    for num, den in pairs:
        if num not in medians or den not in medians:
            continue
        ratio = medians[num] / medians[den]
        paired = paired_ratio(results, num, den)
        verdict = ""
        if (num, den) in limits:
            limit = limits[num, den]
            verdict = "  MET" if ratio <= limit else "  NOT MET"
            verdict += f" (target <= {limit:.2f})"
        paired_text = "-" if paired is None else f"{paired:.2f}"
        lines.append(
            f"{num} / {den}: {ratio:.2f} of the median time "
            f"(per-round paired median {paired_text}){verdict}"
        )
    return lines


COLUMNS = [  # header, row key, format
    ("contender", "contender", "{}"),
    ("median s", "median_s", "{:.3f}"),
    ("min-max s", None, None),
    ("ratio", "ratio", "{:.2f}"),
    ("MB/s", "mb_per_s", "{:.0f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("RSS growth MiB", "rss_growth_mib", "{:.0f}"),
    ("compr. ratio", "compression_ratio", "{:.2f}"),
    ("files", "files", "{}"),
    ("CPU util", "cpu_util", "{:.0%}"),
    ("other CPU", "background_cpu", "{:.0%}"),
    ("read-back", "verified", "{}"),
]


def _cells(row: dict) -> list[str]:
    if "error" in row:
        return [row["contender"], "FAILED: " + row["error"]] + [""] * (len(COLUMNS) - 2)
    cells = []
    for _header, key, fmt in COLUMNS:
        if key is None:
            cells.append(f"{row['min_s']:.3f}-{row['max_s']:.3f}")
        else:
            value = row.get(key)
            cells.append("-" if value is None else fmt.format(value))
    return cells


def text_table(rows: list[dict]) -> str:
    table = [[h for h, _k, _f in COLUMNS]] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table if len(line[i]) < 60) for i in range(len(COLUMNS))]
    out = []
    for line in table:
        out.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    return "\n".join(out)


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| " + " | ".join(h for h, _k, _f in COLUMNS) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(COLUMNS) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def workload_heading(wl: Workload, rounds: int) -> str:
    return (
        f"{wl.name}: {wl.description}; {wl.dtype} {'x'.join(map(str, wl.shape))}, "
        f"{wl.n_chunks} chunks of {wl.chunk}, {wl.tile}-px internal tiles, "
        f"{wl.codec} level {wl.level}, predictor {wl.predictor}, "
        f"{wl.nbytes / 2**20:.0f} MiB raw, median of {rounds} rounds"
    )


# --------------------------------------------------------------------------
# environment and output files
# --------------------------------------------------------------------------


def environment(base: str, results: list[dict]) -> dict:
    with open("/proc/cpuinfo") as fh:
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
            platform.processor(),
        )
    fs = subprocess.run(["df", "-T", base], capture_output=True, text=True, check=False).stdout
    fs_line = fs.strip().splitlines()[-1].split() if fs.strip() else []
    versions: dict[str, dict] = {}
    for r in results:
        if "versions" in r and r["contender"] not in versions:
            versions[r["contender"]] = {"python": r["python"], **r["versions"]}
    sources = {r["versions"].get(SOURCE_KEY) for r in results if "versions" in r} - {None}
    head = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "tmpdir": base,
        "tmp_filesystem": " ".join(fs_line[:2]) if fs_line else "?",
        "versions": versions,
        "git": head or "?",
        "xr_tiles_sources_seen": sorted(sources),
    }


MARKDOWN_NOTES = """\
Columns: **median s** is the median wall time of the write alone; **ratio** is
that over xr_tiles-threads' median; **MB/s** is raw input bytes (10^6) per
second; **peak RSS** is the worker's peak resident memory during the write
(the input array, already in memory, included) and **RSS growth** the peak
minus the resident size just before the write; **compr. ratio** is raw bytes
over bytes on disk; **CPU util** is (user + sys CPU time) / (wall time x
cores); **other CPU** is the CPU time everything else on the machine (other
processes, kernel writeback) used during the write, as a share of all cores --
a noise indicator; **read-back** is the first round's output read back with
rasterio and compared with the input.

How each writer is called, including where a peer cannot use the same
settings, is in the docstring of `benchmarks/contenders.py`.  Every run is a
fresh process with an untimed warm-up write; see `benchmarks/bench_write.py`.
"""


def write_reports(
    path: Path, args: argparse.Namespace, env: dict, sections: list[dict],
    command: str | None = None,
) -> None:
    md = [
        f"# xr_tiles write benchmark{' (quick)' if args.quick else ''}",
        "",
        (
            f"{env['date']}, {env['cpu']}, {env['cores']} cores, "
            f"{env['memory_gib']} GiB RAM, Linux {env['kernel']}, outputs on "
            f"{env['tmp_filesystem']} ({env['tmpdir']}); {args.rounds} rounds, "
            "contender order rotated each round."
        ),
        "",
    ]
    for name, vers in env["versions"].items():
        md.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    md.append(f"- repository: git {env['git']}")
    if len(env["xr_tiles_sources_seen"]) > 1:
        md.append(
            "- **warning: the xr_tiles sources changed during the run** "
            f"({', '.join(env['xr_tiles_sources_seen'])}); rounds are not comparable"
        )
    md.append("")
    for sec in sections:
        md += [f"## {sec['heading']}", "", markdown_table(sec["rows"]), ""]
        md += [f"- {line}" for line in sec["targets"]]
        md.append("")
    md.append(MARKDOWN_NOTES)
    command = command or ("benchmarks/bench_write.py " + " ".join(sys.argv[1:])).strip()
    md.append(f"Command: `.venv/bin/python {command}`")
    path.write_text("\n".join(md) + "\n")
    payload = {
        "command": command,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": env,
        "workloads": [
            {
                "workload": s["workload"],
                "summary": s["rows"],
                "targets": s["targets"],
                "runs": s["runs"],
            }
            for s in sections
        ],
    }
    path.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def report_only(args: argparse.Namespace) -> int:
    """Rewrite the reports from a finished run's JSON, with the current targets."""
    saved = json.loads(args.out.with_suffix(".json").read_text())
    args = argparse.Namespace(**{**vars(args), **saved["args"], "out": args.out})
    sections = []
    for item in saved["workloads"]:
        wl = get_workload(item["workload"], quick=args.quick)
        sections.append({
            "workload": item["workload"],
            "heading": workload_heading(wl, args.rounds),
            "rows": item["summary"],
            "targets": target_lines(wl, item["summary"], item["runs"]),
            "runs": item["runs"],
        })
    write_reports(args.out, args, saved["environment"], sections, saved.get("command"))
    print(f"rewrote {args.out} from {args.out.with_suffix('.json')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_only(args)
    pythons = interpreters(args.contenders, args.xrspatial_venv)
    base = tempfile.mkdtemp(prefix="xr_tiles-bench-", dir=args.tmpdir)
    print(
        f"{args.rounds} rounds; contenders {', '.join(args.contenders)}; outputs under {base}",
        flush=True,
    )
    sections, all_results = [], []
    started = time.perf_counter()
    try:
        for name in args.workloads:
            wl = get_workload(name, quick=args.quick)
            heading = workload_heading(wl, args.rounds)
            print(f"\n== {heading}", flush=True)
            results = bench_workload(wl, args.contenders, pythons, args, base)
            rows = summarise(wl, args.contenders, results)
            targets = target_lines(wl, rows, results)
            discarded = sum(1 for r in results if r.get("discarded"))
            if discarded:
                targets.append(f"{discarded} run(s) discarded as noisy and repeated")
            print("\n" + text_table(rows))
            for line in targets:
                print("  " + line)
            sections.append(
                {
                    "workload": name,
                    "heading": heading,
                    "rows": rows,
                    "targets": targets,
                    "runs": results,
                }
            )
            all_results += results
    finally:
        shutil.rmtree(base, ignore_errors=True)
    env = environment(args.tmpdir or tempfile.gettempdir(), all_results)
    write_reports(args.out, args, env, sections)
    print(
        f"\nwrote {args.out} and {args.out.with_suffix('.json')} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    failed = any("error" in r for s in sections for r in s["rows"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
