"""Commit benchmark: what the copy-on-write commit saves, and that it loses nothing.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_commit.py            # 8192 x 8192, 5 rounds
    .venv/bin/python benchmarks/bench_commit.py --quick    # 2048 x 2048, 2 rounds

1. Region update: an 8192 x 8192 float32 terrain mosaic (512-chunks: 256 tiles; zstd 3,
   predictor 3; ``overviews="auto"``, average), of which a 2048 x 2048 region (1/16:
   16 tiles) is rewritten with ``mode="r+"``, against rewriting the whole mosaic with
   ``mode="w"``. Each timed write runs in a fresh process after an untimed warm-up, the
   two alternating; medians. The data are in memory (numpy), dask-chunked.
2. Resume: the whole write runs in a child process (threads), killed with SIGKILL once
   half its tiles are in place; then ``resume=True`` runs in a fresh process, timed,
   against an uninterrupted write. The tiles each write put are counted on disk.
3. Crash points: runs ``tests/test_crash_points.py`` (a write killed right after its k-th
   mutation, for every k, in each scenario) and tabulates what a reader saw.
4. Faults: runs ``tests/test_faults.py`` and ``tests/test_concurrency.py`` and lists each
   fault tried and whether the output survived it.

The durability flush is measured by ``bench_write.py`` (contenders ``xr_tiles-no-flush``
and ``xr_tiles-fsync-each`` beside the default). Results go to ``benchmarks/commit.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
WRITE = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {bench!r})
import dask.array as dsa, numpy as np, xarray as xr
import xr_tiles
from workloads import _smooth_2d

args = json.loads(sys.argv[1])
side, seed = args["side"], args["seed"]
rng = np.random.default_rng(seed)
values = (_smooth_2d(side, side) * 1500.0 + 800.0 + seed + rng.normal(0, 0.01, (side, side)))
coords = {{"y": side - 0.5 - np.arange(side), "x": 0.5 + np.arange(side)}}
array = xr.DataArray(dsa.from_array(values.astype(np.float32), chunks=512), dims=("y", "x"),
                     coords=coords).rio.write_crs("EPSG:32633")
options = dict(codec="zstd", overviews="auto", resampling="average", scheduler="threads")
if args.get("region"):
    (y0, y1), (x0, x1) = args["region"]
    array = array.isel(y=slice(y0, y1), x=slice(x0, x1))
    options.update(mode="r+", region="auto")
else:
    options.update(mode="w", resume=args.get("resume", False))
with tempfile.TemporaryDirectory() as folder:  # warm-up: imports, GDAL, thread pools
    array[:1024, :1024].tiles.to_vrt(f"{{folder}}/warm.vrt", codec="zstd")
root = Path(args["path"]).with_name(Path(args["path"]).stem + "_tiles")
before = set(root.glob("*/r*.tif"))
start = time.perf_counter()
array.tiles.to_vrt(args["path"], **options)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "tiles": len(set(root.glob("*/r*.tif")) - before)}}))
"""


def run_write(**args: object) -> dict:
    """One timed write in a fresh process (``WRITE``); its report."""
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    script = WRITE.format(bench=str(BENCH))
    done = subprocess.run([sys.executable, "-c", script, json.dumps(args)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the write {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def killed_half_way(path: Path, side: int, tiles: int) -> int:
    """The whole write in a child, killed once half its tiles are in place; how many
    it had put."""
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    script = WRITE.format(bench=str(BENCH))
    child = subprocess.Popen([sys.executable, "-c", script, json.dumps({"path": str(path),
                              "side": side, "seed": 1})], env=env, stdout=subprocess.DEVNULL)
    root = path.with_name(f"{path.stem}_tiles")
    while len(list(root.glob("*/r*.tif"))) < tiles // 2:
        if child.poll() is not None:
            raise RuntimeError("the write ended before it was half way")
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return len(list(root.glob("*/r*.tif")))


def region_and_resume(side: int, rounds: int, folder: Path) -> dict:
    tiles = (side // 512) ** 2
    quarter = side // 4
    region = [[quarter, 2 * quarter], [quarter, 2 * quarter]]
    mosaic = folder / "mosaic" / "mosaic.vrt"
    run_write(path=str(mosaic), side=side, seed=0)  # the mosaic the updates start from
    results: dict[str, list] = {"whole": [], "region": [], "resume": [], "kept": []}
    for number in range(rounds):
        order = ["whole", "region"] if number % 2 == 0 else ["region", "whole"]
        for kind in order:
            report = run_write(path=str(mosaic), side=side, seed=number + 1,
                               region=region if kind == "region" else None)
            results[kind].append(report)
        interrupted = folder / f"resume-{number}" / "mosaic.vrt"
        kept = killed_half_way(interrupted, side, tiles)
        report = run_write(path=str(interrupted), side=side, seed=1, resume=True)
        results["resume"].append(report)
        results["kept"].append(kept)
        shutil.rmtree(interrupted.parent)
        print(f"  round {number + 1}/{rounds}: whole {results['whole'][-1]['seconds']:.2f} s, "
              f"region {results['region'][-1]['seconds']:.2f} s, resume "
              f"{report['seconds']:.2f} s ({report['tiles']} tiles, {kept} kept)", flush=True)
    return {"side": side, "tiles": tiles, "region_tiles": tiles // 16, **results}


def pytest_run(paths: list[str], folder: Path) -> tuple[dict, list[dict]]:
    """Run tests; return the crash summaries they wrote and each test's outcome."""
    summaries = folder / "crash"
    summaries.mkdir()
    junit = folder / "junit.xml"
    env = {**os.environ, "XR_TILES_CRASH_SUMMARY": str(summaries)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", f"--junitxml={junit}",
                    *paths], cwd=REPOSITORY, env=env, check=False)
    crash = {path.stem: json.loads(path.read_text()) for path in sorted(summaries.glob("*.json"))}
    tests = sorted(
        ({"name": case.get("name"), "file": case.get("classname"),
          "outcome": next((child.tag for child in case), "passed"),
          "seconds": float(case.get("time", 0))}
         for case in ET.parse(junit).getroot().iter("testcase")),
        key=lambda test: (str(test["file"]), str(test["name"])),
    )
    return crash, tests


def median(reports: list[dict], key: str = "seconds") -> float:
    return statistics.median(report[key] for report in reports)


def report(timing: dict, crash: dict, tests: list[dict], quick: bool) -> str:
    side, tiles = timing["side"], timing["tiles"]
    whole = median(timing["whole"])
    lines = [
        "# xr_tiles commit benchmark",
        "",
        (f"`benchmarks/bench_commit.py{' --quick' if quick else ''}`, {dt.date.today()}, "
         f"{os.cpu_count()} cores; the script's docstring says what is measured. "
         f"{side} x {side} float32 terrain, 512-chunks ({tiles} tiles), zstd 3 + predictor 3, "
         f'overviews="auto" (average), threads; median of {len(timing["whole"])} rounds.'),
        "",
        "| write | tiles written | median s | ratio to the whole write |",
        "|:---|---:|---:|---:|",
        f"| the whole mosaic, mode=\"w\" | {timing['whole'][0]['tiles']} | {whole:.2f} | 1.00 |",
        (f"| a region of 1/16, mode=\"r+\" | {timing['region'][0]['tiles']} | "
         f"{median(timing['region']):.2f} | {median(timing['region']) / whole:.2f} |"),
        (f"| resume=True after a kill half way ({statistics.median(timing['kept']):.0f} tiles "
         f"kept) | {statistics.median(r['tiles'] for r in timing['resume']):.0f} | "
         f"{median(timing['resume']):.2f} | {median(timing['resume']) / whole:.2f} |"),
        "",
        "## Crash points",
        "",
        ("A write killed right after its k-th mutation, for every k (`tests/test_crash_points.py`):"
         " what GDAL read then. Local points are the write's file operations (a file opened"
         " for writing, a link, rename, unlink, mkdir, rmdir), S3 points the PUTs and DELETEs"
         " the server answered."),
        "",
        "| scenario | overviews | points | the old output | the new output | lost or corrupt |",
        "|:---|:---|---:|---:|---:|---:|",
    ]
    for summary in crash.values():
        # A first write's old output is none: no VRT is what a reader must find then.
        fresh = summary["scenario"].endswith("fresh")
        old = summary.get("absent", 0) if fresh else summary.get("old", 0)
        lost = summary.get("corrupt", 0) + (0 if fresh else summary.get("absent", 0))
        lines.append(
            f"| {summary['scenario']} | {'yes' if summary['overviews'] else 'no'} | "
            f"{summary['points']} | {old}{' (none)' if fresh else ''} | "
            f"{summary.get('new', 0)} | {lost} |"
        )
    total = sum(summary["points"] for summary in crash.values())
    lines += ["", f"{total} points in all.", "", "## Faults", "",
              "| test | outcome |", "|:---|:---|"]
    for test in tests:
        if "test_faults" in str(test["file"]) or "test_concurrency" in str(test["file"]):
            outcome = {"passed": "survived", "skipped": "skipped"}.get(test["outcome"], "**failed**")
            lines.append(f"| {test['name']} | {outcome} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2048 x 2048, 2 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--out", type=Path, default=BENCH / "commit.md")
    args = parser.parse_args()
    side = 2048 if args.quick else 8192
    rounds = args.rounds or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as scratch:
        folder = Path(scratch)
        print(f"region update and resume, {side} x {side}, {rounds} rounds", flush=True)
        timing = region_and_resume(side, rounds, folder)
        print("crash points and faults (pytest)", flush=True)
        crash, tests = pytest_run(["tests/test_crash_points.py", "tests/test_faults.py",
                                   "tests/test_concurrency.py"], folder)
    text = report(timing, crash, tests, args.quick)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"timing": timing, "crash": crash, "tests": tests}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
