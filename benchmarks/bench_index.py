"""Index benchmark: what xr_tiles' nested VRT and GTI index cost a write, and what they save
a reader, against the flat VRT, at 10k, 100k and 1M tiles.

Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/bench_index.py [--sizes 10000,100000,1000000] [--rounds 3]
    .venv/bin/python benchmarks/bench_index.py --sizes 10000     # ~5 min; all three ~75 min

Big outputs go to ``--work`` (default ``/work/xr_tiles_bench_index``, ~1 GB and 3M files
at 1M tiles: use a disk, not a small /tmp).

The raster: 16 x 16 uint8 tiles (one dask chunk each, ``map_blocks``, so every tile's
pixels differ: ``(local index + 31 row + 17 col) % 256``), 100 x 100, 313 x 320 and
1000 x 1000 tiles (10,000, 100,160 and 1,000,000), EPSG:32631, 10 m pixels, written with
``codec="none"``, ``overviews=[2, 4, 8, 16, 32, 64]``, dask's threaded scheduler and the
defaults otherwise (``durable=True``). Writes, each in a fresh process:

- ``flat``: ``xr_tiles.plan.NEST_ABOVE_TILES = 10**12`` in the writing process, so one
  flat VRT (what xr_tiles wrote before nesting);
- ``nested``: the VRT as xr_tiles writes it now (sub-VRTs of 32 x 32 tiles above 4,096);
- ``gti``: nested plus ``index="gti"`` (``<stem>.gti.gpkg``);
- ``stac``: nested plus ``index="gti"`` and ``stac=True`` (an Item JSON a tile).

At 10k and 100k tiles the variants alternate in each of ``--rounds`` rounds (at 100k only
``flat`` and ``stac``: a write takes a minute); at 1M ``gti`` and ``flat`` are written once
each (``--stac-1m`` adds the million Items). In the writing process the index's parts are
timed by wrapping xr_tiles' own functions: ``mosaic.documents`` (every index document),
its ``_blocks`` (the sub-VRTs), ``vrt_xml`` (the top VRT and the level VRTs),
``_merged_levels`` (the small levels, one GeoTIFF each: the same for every variant),
``catalogues.gti_index`` and ``catalogues._stac_files``, and ``LocalStore.put`` by kind of
file (sub-VRTs, STAC Items, staged index and collection, levels), ``publish_beside``,
``flush`` and ``Commit.publish``. "What the index adds" is the nested variant's documents
and sub-VRT puts minus the flat write's documents, and the GTI's and STAC's builds and puts.

Reads, each in a fresh process (``--worker``, rasterio, GDAL's block cache empty; the page
cache warm: all files were just written): after the imports and an untimed open of one tile
(driver registration), the open (``rasterio.open``) and one read are timed:

- ``centre``: the 512 x 512 window at the raster's centre, at full resolution;
- ``corner``: the 512 x 512 window centred on the block corner nearest the centre (offset
  by half a tile: 33 x 33 tiles, 4 sub-VRTs of the nested VRT);
- ``corner 2x2``: the 32 x 32 window of the 2 x 2 tiles round that block corner (4
  sub-VRTs): what a 512 x 512 window of real tiles (256 px and up) touches;
- ``1/64``: the whole raster at ``out_shape=(height // 64, width // 64)``: from overviews;
- ``1/2``: a 1024 x 1024 window at the centre read into 512 x 512: from the level of factor
  2 (one GeoTIFF at 10k and 100k; at 1M a VRT of the tiles' overviews, nested for the
  nested VRT and GTI, flat for the flat VRT);

for the flat VRT (``flat/out.vrt``), the nested VRT and the GTI index of the last ``stac``
(or, at 1M, ``gti``) write, and three "floors", the files the read needs read directly (each
tile the window covers, with ``OVERVIEW_LEVEL=0`` for 1/2 at 1M; the level's GeoTIFF where
it is one): ``floor``, GDALOpenEx + GDALRasterIO + GDALClose of each through ctypes
(rasterio's own libgdal): the pixels' own open and decoding, so that read minus floor is
what the index adds; ``floor+gt``, the same plus GDALGetGeoTransform (which loads a tile's
georeferencing and PAM side-car); ``floor+srs``, the same plus GDALGetSpatialRef: the
georeferenced open that a VRT source's proxy dataset and a GTI tile make, so that read minus
it is what the index adds beyond GDAL's own open of each tile; and ``floor_rio``,
``rasterio.open`` + ``read`` of each (rasterio's per-open work makes it dearer than any
index). Each read is also run with ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``
(``+EMPTY_DIR``; at 1M the flat VRT only for ``centre``: its open alone takes ~25 s).
Rounds interleave the indexes; medians of ``--rounds``. Every read's pixels are hashed:
flat, nested, GTI and the floors must agree bit for bit, and full-resolution and 1/2 windows
must equal the values the tiles were made of. Results go to ``benchmarks/index.md`` (the raw
numbers to ``<work>/results.json``; ``--report-from`` rewrites the report from them, and
``--reads-only`` repeats the reads over the files of the last run).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

TILE = 16
RES = 10.0
X0, Y0 = 500_000.0, 6_000_000.0
FACTORS = [2, 4, 8, 16, 32, 64]
SHAPES = {10_000: (100, 100), 100_000: (313, 320), 1_000_000: (1000, 1000)}
WINDOW = 512
BLOCK_PX = 32 * TILE  # xr_tiles.plan.NEST_BLOCK tiles
EMPTY_DIR = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
INDEXES = ("flat", "nested", "gti", "floor", "floor+gt", "floor+srs", "floor_rio")
FLOORS = ("floor", "floor+gt", "floor+srs", "floor_rio")
GEOREFERENCED = "floor+srs"  # what any GDAL reader of a tile, VRT and GTI included, pays
READS = ("centre", "corner", "corner 2x2", "1/64", "1/2")
WINDOWS = ("centre", "corner", "corner 2x2")  # full-resolution reads through tiles
SMALL = 2 * TILE  # the 2 x 2 tiles window: what a 512 x 512 window of real tiles covers
TARGET = 0.1
HERE = Path(__file__).resolve().parent


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.1f}"


def expected(row0: int, col0: int, height: int, width: int) -> np.ndarray:
    """The pixels the tiles were made of, for a window of the mosaic."""
    rows = np.arange(row0, row0 + height)[:, None]
    cols = np.arange(col0, col0 + width)[None, :]
    local = (rows % TILE) * TILE + cols % TILE
    return ((local + 31 * (rows // TILE) + 17 * (cols // TILE)) % 256).astype(np.uint8)


# ---------------------------------------------------------------------------------- writes


class Timers:
    """Seconds and calls by name, from any thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.missing: list[str] = []

    def wrap(self, owner: Any, attribute: str, name: str | None = None,
             by: Any = None) -> None:
        original = getattr(owner, attribute, None)
        if original is None:  # another layout of xr_tiles than 73203e6's: reported
            self.missing.append(f"{owner.__name__}.{attribute}")
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = by(*args, **kwargs) if by else (name or attribute)
                with self.lock:
                    self.seconds[key] += time.perf_counter() - start
                    self.calls[key] += 1

        setattr(owner, attribute, timed)


def put_kind(_store: Any, _write_id: str, name: str, *_: Any, **__: Any) -> str:
    if name.startswith("index/"):
        return "put sub-VRTs"
    if name.startswith("staged/"):
        return "put staged (" + name.split("/", 1)[1] + ")"
    if name.endswith(".json"):
        return "put STAC Items"
    if name.startswith("overviews/"):
        return "put levels"
    return "put tiles"


def raster(rows: int, cols: int) -> Any:
    import dask.array as dsa
    import rioxarray  # noqa: F401 - registers .rio
    import xarray as xr

    def block(block_id: tuple[int, int]) -> np.ndarray:
        row, col = block_id
        return expected(row * TILE, col * TILE, TILE, TILE)

    array = dsa.map_blocks(block, dtype=np.uint8, chunks=((TILE,) * rows, (TILE,) * cols))
    coords = {"y": Y0 - (np.arange(rows * TILE) + 0.5) * RES,
              "x": X0 + (np.arange(cols * TILE) + 0.5) * RES}
    return xr.DataArray(array, dims=("y", "x"), coords=coords).rio.write_crs("EPSG:32631")


def write_worker(spec: dict) -> dict:
    """One write in this process, its index's parts timed by wrapping xr_tiles' functions."""
    import xr_tiles
    from xr_tiles import graph, plan
    from xr_tiles.store import commit, local

    try:  # flat modules up to 73203e6, which this was run at; the index/ package since
        from xr_tiles import catalogues, mosaic
    except ImportError:
        from xr_tiles.index import catalogues, mosaic  # type: ignore[no-redef]

    timers = Timers()
    timers.wrap(graph, "documents", "documents (all)")
    timers.wrap(mosaic, "_blocks", "sub-VRT documents")
    timers.wrap(mosaic, "vrt_xml", "VRT documents (top, levels)")
    timers.wrap(mosaic, "_merged_levels", "merged levels")
    timers.wrap(mosaic, "catalogue_files", "catalogue files (all)")
    try:  # the GTI has a module of its own since 6df0dc3, imported where asked for
        from xr_tiles.index import gti as gti_module
    except ImportError:
        gti_module = catalogues
    timers.wrap(gti_module, "gti_index", "GTI index")
    timers.wrap(catalogues, "_stac_files", "STAC documents")
    timers.wrap(local.LocalStore, "put", by=put_kind)
    timers.wrap(local.LocalStore, "publish_beside",
                by=lambda _store, _write_id, name, _target: f"publish beside ({name})")
    timers.wrap(local.LocalStore, "flush", "flush")
    timers.wrap(commit.Commit, "publish", "publish (all)")
    if spec["variant"] == "flat":
        plan.NEST_ABOVE_TILES = 10**12
    array = raster(*spec["shape"])
    options = {"index": "gti"} if spec["variant"] in ("gti", "stac") else {}
    if spec["variant"] == "stac":
        options["stac"] = True
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small tiles, overview factors above the tile size
        array.tiles.to_vrt(spec["path"], codec="none", overviews=FACTORS, scheduler="threads",
                           **options)
    seconds = time.perf_counter() - start
    return {"write": seconds, "parts": dict(timers.seconds), "calls": dict(timers.calls),
            "xr_tiles": xr_tiles.__file__, "unwrapped": timers.missing}


# ----------------------------------------------------------------------------------- reads


OPEN_FLAGS = 0x02 | 0x40  # GDAL_OF_RASTER | GDAL_OF_VERBOSE_ERROR


def gdal_library() -> ctypes.CDLL:
    """The GDAL that rasterio loaded, for the floor: GDAL's own open and read of each file,
    without rasterio's per-open Python work (a few ms a file, more than GDAL's)."""
    import rasterio

    found = glob.glob(str(Path(rasterio.__file__).parent.parent / "rasterio.libs/libgdal*"))
    gdal = ctypes.CDLL(found[0])
    gdal.GDALAllRegister()
    gdal.GDALOpenEx.restype = ctypes.c_void_p
    gdal.GDALOpenEx.argtypes = [ctypes.c_char_p, ctypes.c_uint] + [ctypes.c_void_p] * 3
    gdal.GDALGetRasterBand.restype = ctypes.c_void_p
    gdal.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    gdal.GDALRasterIO.argtypes = (
        [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_int] * 4 + [ctypes.c_void_p]
        + [ctypes.c_int] * 5
    )
    gdal.GDALClose.argtypes = [ctypes.c_void_p]
    gdal.GDALGetGeoTransform.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    gdal.GDALGetSpatialRef.restype = ctypes.c_void_p
    gdal.GDALGetSpatialRef.argtypes = [ctypes.c_void_p]
    gdal.CPLGetLastErrorMsg.restype = ctypes.c_char_p
    return gdal


def read_worker(spec: dict) -> dict:
    """Time the open and one read of an index (or the floor: its files read directly)."""
    import rasterio
    from rasterio.windows import Window

    clock = time.perf_counter
    with rasterio.open(spec["warm"]):
        pass
    out: dict[str, Any] = {}
    if spec["index"] == "floor_rio":
        start = clock()
        pixels = np.zeros(spec["shape"], np.uint8)
        for path, options, (r, c, h, w), (dr, dc), out_shape in spec["pieces"]:
            with rasterio.open(path, **options) as dataset:
                pixels[dr:dr + out_shape[0], dc:dc + out_shape[1]] = dataset.read(
                    1, window=Window(c, r, w, h), out_shape=tuple(out_shape))
        out["open"], out["seconds"] = 0.0, clock() - start
    elif spec["index"] in ("floor", "floor+gt", "floor+srs"):
        gdal = gdal_library()
        geotransform = (ctypes.c_double * 6)()
        with_gt = spec["index"] in ("floor+gt", "floor+srs")
        with_srs = spec["index"] == "floor+srs"
        start = clock()
        pixels = np.zeros(spec["shape"], np.uint8)
        for path, options, (r, c, h, w), (dr, dc), out_shape in spec["pieces"]:
            piece = np.empty(out_shape, np.uint8)
            pairs = [f"{k}={v}".encode() for k, v in options.items()]
            array = (ctypes.c_char_p * (len(pairs) + 1))(*pairs, None)
            handle = gdal.GDALOpenEx(path.encode(), OPEN_FLAGS, None, array, None)
            if not handle:
                raise RuntimeError(gdal.CPLGetLastErrorMsg().decode())
            if with_gt:
                gdal.GDALGetGeoTransform(handle, geotransform)
            if with_srs:  # the tile's SRS from its GeoKeys, as a VRT source's proxy asks it
                gdal.GDALGetSpatialRef(handle)
            band = gdal.GDALGetRasterBand(handle, 1)
            if gdal.GDALRasterIO(band, 0, c, r, w, h, piece.ctypes.data, out_shape[1],
                                 out_shape[0], 1, 0, 0):
                raise RuntimeError(gdal.CPLGetLastErrorMsg().decode())
            gdal.GDALClose(handle)
            pixels[dr:dr + out_shape[0], dc:dc + out_shape[1]] = piece
        out["open"], out["seconds"] = 0.0, clock() - start
    else:
        start = clock()
        dataset = rasterio.open(spec["path"])
        out["open"] = clock() - start
        window = spec["window"]
        start = clock()
        pixels = dataset.read(
            1, window=None if window is None else Window(window[1], window[0], window[3],
                                                         window[2]),
            out_shape=tuple(spec["shape"]))
        out["seconds"] = clock() - start
        dataset.close()
    out["hash"] = hashlib.sha1(pixels.tobytes()).hexdigest()[:16] + str(pixels.shape)
    if spec.get("expect"):
        row, col, height, width, step = spec["expect"]
        want = expected(row, col, height, width)[step // 2::step, step // 2::step]
        out["expected"] = bool((pixels == want).all())
    return out


def write_folder(folder: Path) -> Path:
    """The folder of the (one) write under a VRT's tiles folder."""
    found = [p.parent for p in (folder / "out_tiles").glob("*/overviews")]
    assert len(found) == 1, found
    return found[0]


def tile_pieces(write: Path, shape: tuple[int, int], region: tuple[int, int, int, int],
                factor: int) -> list:
    """Each tile a ``region`` (row, col, height, width, in full-resolution pixels) covers,
    as (path, open options, window in the tile's level, offset in the buffer, shape)."""
    rows, cols = shape
    row0, col0, height, width = region
    name = f"r{{:0{len(str(rows - 1))}d}}_c{{:0{len(str(cols - 1))}d}}.tif"
    options = {} if factor == 1 else {"OVERVIEW_LEVEL": FACTORS.index(factor)}
    size = TILE // factor
    pieces = []
    for r in range(row0 // TILE, (row0 + height - 1) // TILE + 1):
        for c in range(col0 // TILE, (col0 + width - 1) // TILE + 1):
            top, left = max(row0, r * TILE), max(col0, c * TILE)
            bottom = min(row0 + height, (r + 1) * TILE)
            right = min(col0 + width, (c + 1) * TILE)
            src = ((top - r * TILE) // factor, (left - c * TILE) // factor,
                   (bottom - top) // factor, (right - left) // factor)
            assert src[2] <= size
            assert src[3] <= size
            pieces.append((str(write / name.format(r, c)), options, src,
                           ((top - row0) // factor, (left - col0) // factor), src[2:]))
    return pieces


def read_plan(folder: Path, n: int) -> dict[str, dict]:
    """The read specs of one size, by read name (path and index filled in per index)."""
    rows, cols = SHAPES[n]
    height, width = rows * TILE, cols * TILE
    write = write_folder(folder / "main")
    windows = geometry(n)
    specs = {}
    for name in WINDOWS:
        region = windows[name][0]
        specs[name] = {"window": region, "shape": region[2:], "expect": (*region, 1),
                       "pieces": tile_pieces(write, (rows, cols), region, 1)}
    small = (height // 64, width // 64)
    specs["1/64"] = {"window": None, "shape": small,
                     "pieces": [(str(write / "overviews/overview_64.tif"), {},
                                 (0, 0, -(-height // 64), -(-width // 64)), (0, 0), small)]}
    region = windows["1/2"][0]
    half = region[:2]
    level = write / "overviews/overview_2.tif"
    pieces = ([(str(level), {}, (half[0] // 2, half[1] // 2, WINDOW, WINDOW), (0, 0),
                (WINDOW, WINDOW))] if level.exists()
              else tile_pieces(write, (rows, cols), region, 2))
    specs["1/2"] = {"window": region, "shape": (WINDOW, WINDOW), "expect": (*region, 2),
                    "pieces": pieces}
    for spec in specs.values():
        spec["warm"] = str(write / f"r{0:0{len(str(rows - 1))}d}_c{0:0{len(str(cols - 1))}d}.tif")
    return specs


def touched(n: int, window: tuple[int, int, int, int] | None, span: int) -> int:
    """How many squares of ``span`` pixels a window covers."""
    if window is None:
        rows, cols = SHAPES[n]
        return -(-rows * TILE // span) * -(-cols * TILE // span)
    row, col, height, width = window
    return (((row + height - 1) // span - row // span + 1)
            * ((col + width - 1) // span - col // span + 1))


# ---------------------------------------------------------------------------------- driver


def run_worker(spec: dict, env: dict | None = None, timeout: int = 3600) -> dict:
    environment = dict(os.environ, **(env or {}))
    done = subprocess.run(
        [sys.executable, __file__, "--worker"], input=json.dumps(spec), capture_output=True,
        text=True, env=environment, timeout=timeout, check=False,
    )
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1][:300]
        return {"error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


def files_and_bytes(folder: Path) -> dict[str, tuple[int, int]]:
    """Files and bytes by kind under a write's output folder."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if "/staged/" in rel:
                continue  # hard links to the files published beside the VRT
            kind = ("top VRT" if rel == "out.vrt" else "GTI index" if rel.endswith(".gti.gpkg")
                    else "sub-VRTs" if "/index/" in rel else "STAC Items" if rel.endswith(".json")
                    and "/out_tiles/" in f"/{rel}" else "STAC collection" if rel.endswith(".json")
                    else "levels" if "/overviews/" in rel else "tiles" if rel.endswith(".tif")
                    else "other")
            found[kind][0] += 1
            found[kind][1] += path.stat().st_size
    return {k: (v[0], v[1]) for k, v in found.items()}


def do_writes(work: Path, n: int, rounds: int, stac_1m: bool, log: list) -> list[dict]:
    folder = work / f"n{n}"
    big = n >= 1_000_000
    variants = (["gti", "flat"] if not stac_1m else ["stac", "flat"]) if big else (
        ["flat", "nested", "gti", "stac"] if n <= 10_000 else ["flat", "stac"])
    main = variants[0] if big else variants[-1]
    rows = []
    for round_ in range(1 if big else rounds):
        for variant in variants:
            target = folder / ("main" if variant == main else variant)
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            result = run_worker({"mode": "write", "variant": variant, "shape": SHAPES[n],
                                 "path": str(target / "out.vrt")})
            result.update(tiles=n, variant=variant, round=round_)
            if "error" not in result and round_ == (1 if big else rounds) - 1:
                result["files"] = files_and_bytes(target)
            rows.append(result)
            log.append(result)
            print(f"  write {n} {variant} r{round_}: "
                  f"{result.get('write', result.get('error'))}", flush=True)
    return rows


def do_reads(work: Path, n: int, rounds: int, log: list) -> list[dict]:
    folder = work / f"n{n}"
    specs = read_plan(folder, n)
    paths = {"flat": folder / "flat/out.vrt", "nested": folder / "main/out.vrt",
             "gti": folder / "main/out.gti.gpkg"}
    big = n >= 1_000_000
    rows = []
    for round_ in range(rounds):
        for read, base in specs.items():
            for env_name, env in [("", {}), ("+EMPTY_DIR", EMPTY_DIR)]:
                for index in INDEXES:
                    if big and index == "flat" and env and read != "centre":
                        continue
                    spec = {**base, "mode": "read", "index": index,
                            "path": str(paths.get(index, ""))}
                    if index not in FLOORS:
                        spec.pop("pieces")
                    result = run_worker(spec, env)
                    result.update(tiles=n, read=read, env=env_name, index=index,
                                  round=round_)
                    rows.append(result)
                    log.append(result)
                    print(f"  read {n} r{round_} {read}{env_name} {index}: "
                          + json.dumps({k: v for k, v in result.items()
                                        if k in ("open", "seconds", "error", "expected")}),
                          flush=True)
    return rows


# ---------------------------------------------------------------------------------- report


def medians(rows: list[dict]) -> dict[tuple, dict]:
    """Per (tiles, read, env, index): median open and read, pixels' agreement."""
    grouped: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        grouped[r["tiles"], r["read"], r["env"], r["index"]].append(r)
    out = {}
    for key, found in grouped.items():
        good = [r for r in found if "error" not in r]
        if not good:
            out[key] = {"error": found[0]["error"], "runs": 0}
            continue
        out[key] = {
            "open": statistics.median(r["open"] for r in good),
            "read": statistics.median(r["seconds"] for r in good),
            "total": statistics.median(r["open"] + r["seconds"] for r in good),
            "runs": len(good), "hashes": {r["hash"] for r in good},
            "expected": all(r.get("expected", True) for r in good),
        }
    return out


def same(m: dict, n: int, read: str, env: str) -> str:
    """Whether this read's pixels were one and the same through every index and the floor
    (and the values the tiles were made of, where known)."""
    found = [m.get((n, read, e, i)) for e in ("", "+EMPTY_DIR") for i in INDEXES]
    found = [f for f in found if f and "hashes" in f]
    hashes = set().union(*(f["hashes"] for f in found)) if found else set()
    if len(hashes) != 1:
        return f"NO ({len(hashes)} distinct)"
    return "yes" if all(f["expected"] for f in found) else "NO (not the tiles' values)"


def read_tables(m: dict, sizes: list[int]) -> list[str]:
    lines = [
        "## Reads", "",
        ("`open`: rasterio.open; `read`: the read right after it (median of the runs, each a "
         "fresh process). Floors, the files the read needs read directly, without an index: "
         "`floor`: GDALOpenEx + GDALRasterIO + GDALClose each (rasterio's GDAL through "
         "ctypes); `floor+gt`: the same plus GDALGetGeoTransform (which loads the tile's "
         "georeferencing and PAM side-car); `floor+srs`: the same plus GDALGetSpatialRef "
         "(the tile's SRS from its GeoKeys): the georeferenced open that a VRT source's "
         "proxy dataset and a GTI tile both make; `rio floor`: "
         "rasterio.open + read each. `- floor`: read minus `floor` (what the index adds to "
         "the pixels' bare open and decoding), also per tile read in ms; `- srs floor`: read "
         "minus `floor+srs` (what the index adds to GDAL's georeferenced open and decoding of "
         "the same tiles); `tiles`/`subs`: "
         "tiles (or files) and nested sub-VRTs the read covers; `same`: flat, nested, GTI and "
         "the four floors gave the same pixels bit for bit, in both environments (and, for "
         "the windows and 1/2, the values the tiles were made of)."),
        "",
        ("| tiles | read | env | subs | tiles read | index | runs | open | read | floor | "
         "floor+gt | floor+srs | rio floor | - floor | ms a tile | - srs floor | open + read "
         "| same |"),
        "|---:|---|---|---:|---:|---|---:|" + "---:|" * 10 + "---|",
    ]
    for n in sizes:
        specs_geom = geometry(n)
        for read in READS:
            for env in ("", "+EMPTY_DIR"):
                floors = [m.get((n, read, env, f), {}).get("read") for f in FLOORS]
                for index in ("flat", "nested", "gti"):
                    r = m.get((n, read, env, index))
                    if r is None:
                        continue
                    window, _ = specs_geom[read]
                    count = touched(n, window, TILE) if read in WINDOWS or (
                        read == "1/2" and n >= 1_000_000) else 1
                    # Sub-VRTs only where the read goes through tiles, not one level file.
                    subs = touched(n, window, BLOCK_PX) if count > 1 else "-"
                    tiles = f"{count:,}" if count > 1 else "1 file"
                    if "error" in r:
                        lines.append(f"| {n:,} | {read} | {env or 'default'} | | | {index} | 0 "
                                     f"| error: {r['error']} |" + " |" * 10)
                        continue
                    over = r["read"] - floors[0] if floors[0] is not None else None
                    srs = floors[FLOORS.index(GEOREFERENCED)]
                    over_srs = None if srs is None else r["read"] - srs
                    lines.append(
                        f"| {n:,} | {read} | {env or 'default'} | {subs} | {tiles} | {index} "
                        f"| {r['runs']} | {fmt(r['open'])} | {fmt(r['read'])} "
                        + "".join(f"| {fmt(f)} " for f in floors)
                        + f"| {fmt(over)} | "
                        + f"{fmt(None if over is None or count == 1 else over / count * 1e3)} "
                        f"| {fmt(over_srs)} | {fmt(r['total'])} | {same(m, n, read, env)} |")
    return lines


def geometry(n: int) -> dict[str, tuple]:
    """Each read's window (None: the whole raster) and the level factor it reads."""
    rows, cols = SHAPES[n]
    height, width = rows * TILE, cols * TILE
    corner = (round(height / 2 / BLOCK_PX) * BLOCK_PX - WINDOW // 2 + TILE // 2,
              round(width / 2 / BLOCK_PX) * BLOCK_PX - WINDOW // 2 + TILE // 2)
    half = ((height - 2 * WINDOW) // 4 * 2, (width - 2 * WINDOW) // 4 * 2)
    pair = (corner[0] + WINDOW // 2 - TILE // 2 - TILE,
            corner[1] + WINDOW // 2 - TILE // 2 - TILE)
    return {"centre": (((height - WINDOW) // 2, (width - WINDOW) // 2, WINDOW, WINDOW), 1),
            "corner": ((*corner, WINDOW, WINDOW), 1),
            "corner 2x2": ((*pair, SMALL, SMALL), 1),
            "1/64": (None, 64), "1/2": ((*half, 2 * WINDOW, 2 * WINDOW), 1)}


def pivot(m: dict, sizes: list[int], title: str, value: Any) -> list[str]:
    lines = ["", f"### {title}", "",
             "| index | env | " + " | ".join(f"{n:,}" for n in sizes) + " |",
             "|---|---|" + "---:|" * len(sizes)]
    for index in ("flat", "nested", "gti"):
        for env in ("", "+EMPTY_DIR"):
            cells = [value(m, n, env, index) for n in sizes]
            if set(cells) != {"-"}:
                lines.append(f"| {index} | {env or 'default'} | " + " | ".join(cells) + " |")
    return lines


def open_cell(m: dict, n: int, env: str, index: str) -> str:
    opens = [m[k]["open"] for k in m if k[0] == n and k[2] == env and k[3] == index
             and "open" in m[k]]
    return fmt(statistics.median(opens)) if opens else "-"


def overhead_cell(read: str, floor_name: str = "floor") -> Any:
    def cell(m: dict, n: int, env: str, index: str) -> str:
        r, floor = m.get((n, read, env, index)), m.get((n, read, env, floor_name))
        if not r or not floor or "read" not in r or "read" not in floor:
            return "-"
        return fmt(r["read"] - floor["read"])
    return cell


def targets(m: dict, sizes: list[int]) -> list[str]:
    """The issue's targets, per index and size (default environment, and with EMPTY_DIR
    where it was measured)."""
    lines = [
        "", "## Targets (< 0.1 s, GDAL in a fresh process)", "",
        ("Open: median over every read's open. A window's time beyond its pixels' own open "
         "and decoding, two ways: minus `floor` (GDAL's bare open and read of the same tiles) "
         "and minus `floor+srs` (the same plus the tile's georeferencing, which every GDAL "
         "reader of a tile pays: a VRT source's proxy dataset and a GTI tile both ask it); "
         "`512`: the worse of `centre` and `corner` (1,024-1,089 tiles of 16 px); `2x2`: "
         "`corner 2x2`, the 2 x 2 tiles across a block corner, which is what a 512 x 512 "
         "window of real tiles (256 px and up) touches. `1/64`: minus the level file's own "
         "read. `met`: under 0.1 s."),
        "",
        ("| tiles | index | env | open | met | 512 - floor | met | 512 - srs floor | met "
         "| 2x2 - srs floor | met | 1/64 - floor | met |"),
        "|---:|---|---|---:|---|---:|---|---:|---|---:|---|---:|---|",
    ]

    def verdict(value: float | None) -> str:
        return "-" if value is None else "yes" if value < TARGET else "no"

    def over(n: int, reads: tuple[str, ...], env: str, index: str, floor: str) -> float | None:
        found = [m[n, w, env, index]["read"] - m[n, w, env, floor]["read"] for w in reads
                 if "read" in m.get((n, w, env, index), {})
                 and "read" in m.get((n, w, env, floor), {})]
        return max(found) if found else None

    for n in sizes:
        for index in ("flat", "nested", "gti"):
            for env in ("", "+EMPTY_DIR"):
                opened = open_cell(m, n, env, index)
                if opened == "-":
                    continue
                cells = [over(n, ("centre", "corner"), env, index, "floor"),
                         over(n, ("centre", "corner"), env, index, GEOREFERENCED),
                         over(n, ("corner 2x2",), env, index, GEOREFERENCED),
                         over(n, ("1/64",), env, index, "floor")]
                lines.append(
                    f"| {n:,} | {index} | {env or 'default'} | {opened} "
                    f"| {verdict(float(opened))} | "
                    + " | ".join(f"{fmt(c)} | {verdict(c)}" for c in cells) + " |")
    return lines


PART_KEYS = [
    "documents (all)", "sub-VRT documents", "VRT documents (top, levels)", "merged levels",
    "GTI index", "STAC documents", "put sub-VRTs", "put STAC Items", "put staged*",
    "publish beside*", "flush", "publish (all)",
    # not shown as columns: the parts of the staged files, for the sums below
    "put staged (index.gti.gpkg)", "publish beside (staged/index.gti.gpkg)",
    "put staged (collection.json)", "publish beside (staged/collection.json)",
]
SHOWN = 12


def with_gti_part(write: dict) -> dict:
    """``write`` with its GTI build worked out from the catalogue files where a run did not
    time it itself (the GTI's own module was not wrapped before the fix of 2026-12-02): the
    catalogue files are the GTI and the STAC documents."""
    parts, missing = write.get("parts", {}), write.get("unwrapped", [])
    if "GTI index" in parts or not any(name.endswith("gti_index") for name in missing):
        return write
    gti = parts.get("catalogue files (all)", 0.0) - parts.get("STAC documents", 0.0)
    return {**write, "parts": {**parts, "GTI index": gti},
            "unwrapped": [name for name in missing if not name.endswith("gti_index")]}


def write_medians(writes: list[dict]) -> dict[tuple[int, str], dict]:
    """Per (tiles, variant): the median whole write and of each part (a key ending in
    ``*``: the sum of the parts of that prefix)."""
    good = [with_gti_part(w) for w in writes if "error" not in w]
    table = {}
    for n in sorted({w["tiles"] for w in good}):
        for variant in ("flat", "nested", "gti", "stac"):
            found = [w for w in good if w["tiles"] == n and w["variant"] == variant]
            if not found:
                continue
            row = {"write": statistics.median(w["write"] for w in found), "runs": len(found)}
            for key in PART_KEYS:
                prefix = key.removesuffix("*")
                row[key] = statistics.median(
                    sum(v for k, v in w["parts"].items() if k.startswith(prefix))
                    if key.endswith("*") else w["parts"].get(key, 0.0) for w in found)
            table[n, variant] = row
    return table


def index_added(table: dict[tuple[int, str], dict], n: int) -> dict[str, float | None] | None:
    """Seconds the nested VRT, the GTI index and the STAC catalogue add to a write of
    ``n`` tiles, from the timed parts; None without a flat and a nested write."""
    flat = table.get((n, "flat"))
    full = table.get((n, "stac")) or table.get((n, "gti"))
    if not flat or not full:
        return None
    stac = table.get((n, "stac"))
    return {
        "flat": flat["write"], "full": full["write"],
        "nested": (full["sub-VRT documents"] + full["VRT documents (top, levels)"]
                   + full["put sub-VRTs"] - flat["VRT documents (top, levels)"]),
        "gti": (full["GTI index"] + full["put staged (index.gti.gpkg)"]
                + full["publish beside (staged/index.gti.gpkg)"]),
        "stac": None if stac is None else (
            stac["STAC documents"] + stac["put STAC Items"]
            + stac["put staged (collection.json)"]
            + stac["publish beside (staged/collection.json)"]),
    }


def write_tables(writes: list[dict]) -> list[str]:
    table = write_medians(writes)
    lines = [
        "", "## Writes", "",
        ("Whole write: `to_vrt` in a fresh process (median of the rounds; `runs`). The parts "
         "are timed inside that process by wrapping xr_tiles' functions (medians too): "
         "`documents` builds every index document (VRTs, sub-VRTs, merged levels, GTI, STAC); "
         "`publish` puts them, syncs, publishes the VRT and the staged files, and cleans up."),
        "",
        ("| tiles | variant | runs | write s | documents | sub-VRT docs | VRT docs | merged "
         "levels | GTI | STAC docs | put sub-VRTs | put STAC Items | put staged | publish "
         "beside | flush | publish (all) |"),
        "|---:|---|---:|" + "---:|" * (SHOWN + 1),
    ]
    for (n, variant), row in table.items():
        lines.append(f"| {n:,} | {variant} | {row['runs']} | {fmt(row['write'])} | "
                     + " | ".join(fmt(row[k]) for k in PART_KEYS[:SHOWN]) + " |")
    lines += [
        "", "### What the index adds to a write", "",
        ("Seconds, and as a share of the flat write (the write without any index but the flat "
         "VRT): nested VRT = its documents (sub-VRTs, top VRT, levels) and the sub-VRTs' puts "
         "minus the flat write's VRT documents; GTI = building the GeoPackage, its put and "
         "its publish beside the VRT; STAC = its documents, the Items' puts and the "
         "collection's put and publish. The whole-write difference (medians) is shown too: "
         "on 2 shared cores it is mostly the noise of the tiles' own writing."),
        "",
        ("| tiles | flat write s | nested VRT s | share | GTI s | share | STAC s | share "
         "| nested+GTI(+STAC) write minus flat write s |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted({n for n, _ in table}):
        added = index_added(table, n)
        if added is None:
            continue
        cells = [f"{fmt(added[k])} | "
                 + ("-" if added[k] is None else f"{added[k] / added['flat']:.1%}")
                 for k in ("nested", "gti", "stac")]
        lines.append(f"| {n:,} | {fmt(added['flat'])} | " + " | ".join(cells)
                     + f" | {fmt(added['full'] - added['flat'])} |")
    missing = sorted({name for w in writes for name in with_gti_part(w).get("unwrapped", [])})
    if missing:
        lines += ["", ("**Not timed** (absent from this xr_tiles, so counted as 0 above): "
                       f"{', '.join(missing)}.")]
    lines += ["", "### Files written (the last round)", "",
              "| tiles | variant | kind | files | bytes |", "|---:|---|---|---:|---:|"]
    for w in writes:
        for kind, (count, size) in sorted(w.get("files", {}).items()):
            lines.append(f"| {w['tiles']:,} | {w['variant']} | {kind} | {count:,} | {size:,} |")
    return lines


def per_tile(m: dict, index: str, env: str) -> float | None:
    """Median over sizes and the two windows of (read - floor) / tiles read, in ms."""
    found = []
    for (n, read, e, i), r in m.items():
        floor = m.get((n, read, e, "floor"), {})
        if i == index and e == env and read in ("centre", "corner") and "read" in r \
                and "read" in floor:
            found.append((r["read"] - floor["read"]) / touched(n, geometry(n)[read][0], TILE))
    return statistics.median(found) * 1e3 if found else None


def worst(m: dict, index: str, reads: tuple[str, ...]) -> float | None:
    """The most that ``index`` added to the georeferenced floor over sizes, environments
    and ``reads``."""
    found = [r["read"] - m[n, rd, e, GEOREFERENCED]["read"] for (n, rd, e, i), r in m.items()
             if i == index and rd in reads and "read" in r
             and "read" in m.get((n, rd, e, GEOREFERENCED), {})]
    return max(found) if found else None


def ratio(m: dict, read: str, index: str) -> float | None:
    """Median over sizes of the read's time by default over its time with EMPTY_DIR."""
    found = [r["read"] / m[n, rd, "+EMPTY_DIR", i]["read"] for (n, rd, e, i), r in m.items()
             if rd == read and i == index and e == "" and "read" in r
             and "read" in m.get((n, rd, "+EMPTY_DIR", i), {})]
    return statistics.median(found) if found else None


def notes(m: dict, writes: list[dict]) -> list[str]:
    """What the numbers say, worked out from them."""
    sizes = sorted({n for n, *_ in m})
    largest = sizes[-1]
    flat_open = m.get((largest, "centre", "", "flat"), {}).get("open")
    floor_ms = [m[n, w, "", "floor"]["read"] / touched(n, geometry(n)[w][0], TILE) * 1e3
                for n in sizes for w in ("centre", "corner") if "read" in m.get(
                    (n, w, "", "floor"), {})]
    table = write_medians(writes)
    added = {n: index_added(table, n) for n in sizes}
    stac = [(n, a["stac"], a["stac"] / n * 1e3) for n, a in added.items() if a and a["stac"]]

    def small(index: str) -> str:
        r, floor = m.get((largest, "1/64", "", index), {}), m.get((largest, "1/64", "", "floor"), {})
        return fmt(r["read"] - floor["read"]) if "read" in r and "read" in floor else "-"

    def own(index: str) -> str:
        return fmt(m.get((largest, "centre", "+EMPTY_DIR", index), {}).get("read"))

    level_floor = " / ".join(
        fmt(m[1_000_000, "1/2", e, "floor"]["read"] / 4096 * 1e3, 2)
        if "read" in m.get((1_000_000, "1/2", e, "floor"), {}) else "-"
        for e in ("", "+EMPTY_DIR"))
    verdicts = {same(m, n, read, env) for n in sizes for read in READS
                for env in ("", "+EMPTY_DIR")}
    lines = [
        "## Notes", "",
        (f"- **Open.** The flat VRT's open grows with its sources ({fmt(flat_open)} s at "
         f"{largest:,} tiles, about {fmt(flat_open / largest * 1e6 if flat_open else None, 1)} "
         "us a source): it parses every one. The nested VRT's top VRT lists one source per "
         "32 x 32 tiles and opens in milliseconds at every size; the GTI index opens in a few "
         "milliseconds at every size (a GeoPackage with an R-tree, read on demand)."),
        (f"- **A window's time is the tiles' opens, not the index.** GDAL's bare open and "
         f"read of one 16 x 16 tile (`floor`) costs ~{fmt(statistics.median(floor_ms) if floor_ms else None, 2)} "
         "ms; read through an index each tile costs much more: (read - floor) / tiles = "
         f"{fmt(per_tile(m, 'flat', ''), 2)} ms a tile through the flat VRT, "
         f"{fmt(per_tile(m, 'nested', ''), 2)} nested, {fmt(per_tile(m, 'gti', ''), 2)} GTI "
         f"(with EMPTY_DIR: {fmt(per_tile(m, 'flat', '+EMPTY_DIR'), 2)}, "
         f"{fmt(per_tile(m, 'nested', '+EMPTY_DIR'), 2)}, "
         f"{fmt(per_tile(m, 'gti', '+EMPTY_DIR'), 2)}), medians over sizes and windows. "
         "Most of it is the tile's georeferencing, which GDAL works out at each open of a "
         "tile that a VRT or GTI reads (a VRT source's `GDALProxyPoolDataset::Create` asks "
         "the tile's geotransform and SRS; a `perf` profile, not part of this script, put "
         "88% of a nested window's read there, most of it building the SRS from the GeoKeys "
         "through PROJ), and which the bare floor skips: opening each tile and asking those "
         f"two (`floor+srs`) costs {fmt(per_tile(m, GEOREFERENCED, ''), 2)} ms a tile "
         f"({fmt(per_tile(m, GEOREFERENCED, '+EMPTY_DIR'), 2)} with EMPTY_DIR) beyond the "
         "bare floor. So a 512 x 512 window of 1,024-1,089 tiles of 16 px cannot be read "
         "within 0.1 s of the bare floor by any index over GDAL; beyond the georeferenced "
         "floor, what the index itself adds (the top VRT, the 1-4 sub-VRTs' parse, the "
         "proxy datasets; GTI's R-tree query) is at most "
         f"{fmt(worst(m, 'nested', ('centre', 'corner')))} s nested and "
         f"{fmt(worst(m, 'gti', ('centre', 'corner')))} s GTI over sizes and environments, "
         "and for the 2 x 2 tiles a 512 x 512 window of real tiles touches, at most "
         f"{fmt(worst(m, 'nested', ('corner 2x2',)))} s nested and "
         f"{fmt(worst(m, 'gti', ('corner 2x2',)))} s GTI. `GetGeoTransform` alone (`floor+gt`) "
         "also loads the tile's PAM side-car (`TryLoadXML`), which lists the folder unless "
         "EMPTY_DIR."),
        (f"- **EMPTY_DIR** (`GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`) makes a centre window "
         f"{fmt(ratio(m, 'centre', 'flat'), 2)} x faster through the flat VRT, "
         f"{fmt(ratio(m, 'centre', 'nested'), 2)} x nested, {fmt(ratio(m, 'centre', 'gti'), 2)} "
         "x GTI (medians over sizes): otherwise every tile's georeferencing look-up lists the "
         "tiles' folder for side-car files (GDAL stops listing after "
         "`GDAL_READDIR_LIMIT_ON_OPEN`, 1,000 entries by default, so the cost, ~0.5 ms a "
         "tile here, does not grow with the folder's 1M files)."),
        ("- **GTI reads a window slower than the VRTs** (per tile above): it opens each tile "
         "itself and places it by the tile's own georeferencing (see index_study.md), where a "
         "VRT source's placement is in the XML."),
        ("- **1/64 comes from one GeoTIFF** (`overviews/overview_64.tif`, merged: "
         "xr_tiles writes each level whose tiles' part is small as one file of the whole "
         f"level). At {largest:,} tiles, read minus floor: nested {small('nested')} s, GTI "
         f"{small('gti')} s, flat {small('flat')} s. To pick a level GDAL opens every "
         "`<Overview>` dataset on the first decimated read, so at 1M tiles that read also "
         "parses the factor-2 level's VRT (the only level not merged there): the flat VRT's "
         "has 1M sources (the ~20 s above, again, after its open), the nested VRT's ~1,000 "
         "sub-VRTs (~20-30 ms). 1/2 at 1M tiles reads that level: each tile's overview "
         "(`OVERVIEW_LEVEL=0`), through nested sub-VRTs for the nested VRT and GTI (whose "
         "overview layer names the nested level VRT), through 1M flat sources for the flat "
         f"VRT; its floor is itself dear ({level_floor} ms a tile bare, default / EMPTY_DIR: "
         "opening a tile at `OVERVIEW_LEVEL` reads its overview directory and lists the "
         "folder). Below 1M tiles every level is one GeoTIFF."),
        (f"- **The index's own part of a window** is the difference between indexes at one "
         f"size: at {largest:,} tiles, centre window with EMPTY_DIR, flat {own('flat')} s, "
         f"nested {own('nested')} s, GTI {own('gti')} s (the flat VRT's read includes its "
         "walk of every source, the nested one the parse of its sub-VRTs)."),
    ]
    if stac:
        n, seconds, ms = stac[-1]
        lines.append(
            f"- **STAC is the dear part of a write**: {fmt(seconds)} s at {n:,} tiles "
            f"({fmt(ms, 2)} ms a tile: an Item JSON built and put a tile), so ~{ms * 1000:,.0f} "
            "s at 1M tiles by extrapolation (not written at 1M unless `--stac-1m`). The nested "
            "VRT's documents cost about what the flat VRT's do, and the GTI a few seconds at "
            "1M tiles (pyogrio writing the GeoPackage and its R-tree).")
    lines.append(
        ("- **Bit for bit**: every read's pixels were the same through the flat VRT, the "
         "nested VRT, GTI and the floors, with and without EMPTY_DIR; the windows and 1/2 "
         "also equal the values the tiles were made of." if verdicts == {"yes"} else
         f"- **Bit for bit: NOT everywhere**: `same` says {sorted(verdicts)}; see the table.")
        + " The flat VRT at every size is a real second write (`NEST_ABOVE_TILES = 10**12`), "
        "of its own tiles.")
    return lines


def report(results: dict) -> str:
    meta, reads, writes = results["meta"], results["reads"], results["writes"]
    sizes = sorted({r["tiles"] for r in reads} | {w["tiles"] for w in writes})
    m = medians(reads)
    lines = [
        "# xr_tiles index benchmark: flat VRT, nested VRT and GTI at 10k-1M tiles", "",
        (f"`benchmarks/bench_index.py`, {meta['date']}, xr_tiles at {meta['commit']}; the "
         f"script's docstring says what is measured. rasterio {meta['rasterio']} (GDAL "
         f"{meta['gdal']}), pyogrio {meta['pyogrio']} (GDAL {meta['pyogrio_gdal']}, writes "
         f"the GTI), {meta['cpus']} CPUs shared with other jobs, {meta['memory_gib']} GiB, "
         "warm page cache. Tiles: 16 x 16 uint8, codec none, overviews 2-64 (factors 4-64 "
         "merged into one GeoTIFF a level at every size; factor 2 too below 1M tiles); "
         "100 x 100, 313 x 320 (the column `100,000`: 100,160 tiles) and 1000 x 1000 tiles, "
         "every tile in one folder a write. The flat VRT is a second real write with "
         "`xr_tiles.plan.NEST_ABOVE_TILES = 10**12`, at every size. Times in seconds, medians "
         f"of {meta['rounds']} fresh processes unless `runs` says less."),
        "",
        *pivot(m, sizes, "Open s (median over all reads)", open_cell),
        *pivot(m, sizes, "512 x 512 window at the centre, read minus floor s",
               overhead_cell("centre")),
        *pivot(m, sizes, "512 x 512 window across a block corner, read minus floor s",
               overhead_cell("corner")),
        *pivot(m, sizes, "512 x 512 window across a block corner, read minus the "
               "georeferenced floor (`floor+srs`) s", overhead_cell("corner", GEOREFERENCED)),
        *pivot(m, sizes, "32 x 32 window of 2 x 2 tiles across a block corner, read minus "
               "the georeferenced floor (`floor+srs`) s",
               overhead_cell("corner 2x2", GEOREFERENCED)),
        *pivot(m, sizes, "Whole raster at 1/64 (overviews), read minus floor s",
               overhead_cell("1/64")),
        *pivot(m, sizes, "1024 x 1024 at 1/2 (the level of factor 2), read minus floor s",
               overhead_cell("1/2")),
        *targets(m, sizes),
        "",
        *read_tables(m, sizes),
        *write_tables(writes),
        "",
        *notes(m, writes),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="run the spec on stdin")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default="/work/xr_tiles_bench_index")
    parser.add_argument("--out", default=str(HERE / "index.md"))
    parser.add_argument("--stac-1m", action="store_true", help="a million STAC Items too")
    parser.add_argument("--reads-only", action="store_true",
                        help="reuse the writes (and their rows) of the last run")
    parser.add_argument("--report-from", help="rewrite the report from a results JSON")
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(sys.stdin.read())
        print(json.dumps(write_worker(spec) if spec["mode"] == "write" else read_worker(spec)))
        return
    work = Path(args.work)
    results_path = work / "results.json"
    if args.report_from:
        Path(args.out).write_text(report(json.loads(Path(args.report_from).read_text())))
        return
    import pyogrio
    import rasterio

    import xr_tiles

    work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(xr_tiles.__file__).parent, check=False)
    meta = {
        "date": time.strftime("%Y-%m-%d"), "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__, "pyogrio": pyogrio.__version__,
        "pyogrio_gdal": pyogrio.__gdal_version_string__, "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "rounds": args.rounds, "commit": commit.stdout.strip() or "?",
        "xr_tiles": xr_tiles.__file__,
    }
    print(json.dumps(meta), flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    old: dict = {}
    if args.reads_only and results_path.exists():
        old = json.loads(results_path.read_text())
    writes = [w for w in old.get("writes", []) if w["tiles"] in sizes]
    reads: list[dict] = []
    log: list = []
    for n in sizes:
        start = time.perf_counter()
        if not args.reads_only:
            writes += do_writes(work, n, args.rounds, args.stac_1m, log)
        reads += do_reads(work, n, args.rounds, log)
        print(f"size {n}: {time.perf_counter() - start:.0f} s", flush=True)
        results = {"meta": meta, "writes": writes, "reads": reads}
        results_path.write_text(json.dumps(results, indent=1, default=list))
    results = {"meta": meta, "writes": writes, "reads": reads}
    text = report(results)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
