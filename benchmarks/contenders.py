"""The writers being compared, one small function each.

Each contender has a ``prepare(data, wl)`` step (untimed: wrap the numpy
array the way that library wants it) and a ``write(obj, outdir, wl)`` step
(timed: produce the output under ``outdir``).  Library imports are lazy
because the worker process for xarray-spatial runs under a different
interpreter that only has xarray-spatial, dask and numpy installed.

Settings, and where a peer cannot match them:

* all contenders: same codec, level and TIFF predictor (see workloads.py),
  same internal TIFF tile (256, or the chunk edge when smaller: 128 for the
  128-chunk workload), same dask chunks (the floor slices the numpy array
  along the same chunk grid instead of going through dask).  Multi-band data
  is stored band-planar (PlanarConfiguration=2, what xr_tiles writes for
  3 bands with deflate) wherever the writer allows it.
* xr_tiles: ``da.tiles.to_vrt("out.vrt", codec=..., level=..., predictor=...,
  scheduler="threads" | "synchronous", blocksize=...)``, num_workers left at
  dask's default (one thread per core).
* xarray-spatial 0.10.20: ``to_geotiff(da, "out.vrt", compression=...,
  compression_level=..., predictor=..., tile_size=256)``; it writes one
  tiled GeoTIFF per dask chunk plus a VRT, using dask's threaded scheduler.
  Its VRT path only accepts 2-D arrays, so for the 3-band workload it writes
  a single tiled GeoTIFF from a (y, x, band) array instead (its only
  multi-band path: one file, pixel-interleaved; the untimed prepare step
  transposes the data).
* rioxarray: ``da.rio.to_raster("out.tif", tiled=True, blockxsize=256,
  blockysize=256, compress=..., predictor=..., ZSTD_LEVEL/ZLEVEL=...,
  interleave="band", lock=threading.Lock())``: one GeoTIFF, the dask chunks
  are computed by
  dask's threaded scheduler and written through GDAL under the lock
  (compression happens inside the locked GDAL write).  GDAL's own
  NUM_THREADS is left at its default (off).
* floor: imagecodecs encodes every internal tile of every chunk, band by
  band -- TIFF predictor applied the way libtiff / tifffile do it (along the
  width axis, per row) -- in a ThreadPoolExecutor of 2 (one task per chunk)
  and writes the concatenated tile bytes to one file per chunk.  No TIFF
  container, no VRT, no dask.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from workloads import Workload


@dataclass(frozen=True)
class Contender:
    name: str
    python: str  # "main" (this repo's .venv) or "xrspatial" (3.12 venv)
    prepare: Callable[[np.ndarray, Workload], Any]
    write: Callable[[Any, str, Workload], str]
    versions: Callable[[], dict]


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------


def _coords(wl: Workload) -> dict:
    """North-up pixel-centre coordinates with unit pixels."""
    return {
        "y": wl.height - 0.5 - np.arange(wl.height, dtype=np.float64),
        "x": 0.5 + np.arange(wl.width, dtype=np.float64),
    }


def dask_dataarray(data: np.ndarray, wl: Workload, dims=None, chunks=None):
    """Wrap the numpy data in a dask-backed DataArray with the workload chunks."""
    import dask.array as dsa
    import xarray as xr

    dims = dims or (("band", "y", "x") if wl.bands else ("y", "x"))
    chunks = chunks or wl.chunks
    coords = _coords(wl)
    if "band" in dims:
        coords["band"] = np.arange(1, wl.bands + 1)
    return xr.DataArray(dsa.from_array(data, chunks=chunks), dims=dims, coords=coords, name="data")


def _version(module_name: str) -> str:
    try:
        from importlib.metadata import version

        return version(module_name)
    except Exception:  # noqa: BLE001 - best effort, report only
        return "?"


def _base_versions() -> dict:
    return {m: _version(m) for m in ("numpy", "dask", "xarray")}


# --------------------------------------------------------------------------
# xr_tiles
# --------------------------------------------------------------------------


def _xr_tiles_write(scheduler: str, *, durable: bool = True, fsync_each: bool = False):
    """``durable``: the default flush before the VRT is published (one ``syncfs``);
    ``fsync_each``: an ``fsync`` of every file as its task writes it instead, as tiles
    written on a distributed cluster get (the final flush then finds nothing left)."""

    def write(da, outdir: str, wl: Workload) -> str:
        import xr_tiles.store.sink  # also registers the .tiles accessor

        if fsync_each:
            xr_tiles.store.sink._in_distributed_worker = lambda: True
        return da.tiles.to_vrt(
            os.path.join(outdir, "out.vrt"),
            codec=wl.codec,
            level=wl.level,
            predictor=wl.predictor,
            scheduler=scheduler,
            blocksize=wl.tile,
            durable=durable,
        )

    return write


def _xr_tiles_versions() -> dict:
    import hashlib
    from pathlib import Path

    import xr_tiles

    # The package is under development: fingerprint the sources actually run.
    digest = hashlib.sha1()
    package = Path(xr_tiles.__file__).parent
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0" + source.read_bytes())
    return {
        **_base_versions(),
        "xr_tiles": getattr(xr_tiles, "__version__", _version("xr_tiles")),
        "xr_tiles sources sha1": digest.hexdigest()[:12],
    }


# --------------------------------------------------------------------------
# xarray-spatial
# --------------------------------------------------------------------------


def _xrspatial_prepare(data: np.ndarray, wl: Workload):
    if not wl.bands:
        return dask_dataarray(data, wl)
    # Only the single-file writer takes multi-band data, as (y, x, band).
    yxb = np.ascontiguousarray(np.moveaxis(data, 0, -1))
    return dask_dataarray(yxb, wl, dims=("y", "x", "band"), chunks=(wl.chunk, wl.chunk, wl.bands))


def _xrspatial_write(da, outdir: str, wl: Workload) -> str:
    from xrspatial.geotiff import to_geotiff

    name = "out.tif" if wl.bands else "out.vrt"
    path = os.path.join(outdir, name)
    # predictor=1 is its default (False): leave it out, as its microbenchmark does.
    extra = {} if wl.predictor == 1 else {"predictor": wl.predictor}
    to_geotiff(
        da,
        path,
        compression=wl.codec,
        compression_level=wl.level,
        tile_size=wl.tile,
        **extra,
    )
    return path


def _xrspatial_versions() -> dict:
    return {**_base_versions(), "xarray-spatial": _version("xarray-spatial")}


# --------------------------------------------------------------------------
# rioxarray / GDAL
# --------------------------------------------------------------------------

_GDAL_LEVEL_OPTION = {"zstd": "ZSTD_LEVEL", "deflate": "ZLEVEL"}


def _rioxarray_write(da, outdir: str, wl: Workload) -> str:
    import threading

    import rioxarray  # noqa: F401 - registers the .rio accessor

    path = os.path.join(outdir, "out.tif")
    options = {
        "tiled": True,
        "blockxsize": wl.tile,
        "blockysize": wl.tile,
        "compress": wl.codec.upper(),
        "predictor": wl.predictor,
        _GDAL_LEVEL_OPTION[wl.codec]: wl.level,
    }
    if wl.bands:
        options["interleave"] = "band"
    da.rio.to_raster(path, lock=threading.Lock(), **options)
    return path


def _rioxarray_versions() -> dict:
    import rasterio

    return {
        **_base_versions(),
        "rioxarray": _version("rioxarray"),
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
    }


# --------------------------------------------------------------------------
# floor: imagecodecs on the raw chunks, no container
# --------------------------------------------------------------------------

FLOOR_THREADS = 2


def _predict(tile: np.ndarray, predictor: int) -> np.ndarray:
    """Apply a TIFF predictor to a (rows, cols) tile as tifffile does."""
    import imagecodecs

    if predictor == 2:
        return imagecodecs.delta_encode(tile, axis=-1)
    if predictor == 3:
        return imagecodecs.floatpred_encode(tile, axis=-1)
    return tile


def _encoder(wl: Workload) -> Callable[[np.ndarray], bytes]:
    import imagecodecs

    if wl.codec == "zstd":
        return lambda buf: imagecodecs.zstd_encode(buf, level=wl.level)
    if wl.codec == "deflate":
        # TIFF "deflate" is a zlib stream; imagecodecs uses libdeflate.
        return lambda buf: imagecodecs.deflate_encode(buf, level=wl.level)
    raise ValueError(f"floor does not know codec {wl.codec!r}")


def _chunk_windows(wl: Workload):
    for r0 in range(0, wl.height, wl.chunk):
        for c0 in range(0, wl.width, wl.chunk):
            yield (r0, min(r0 + wl.chunk, wl.height), c0, min(c0 + wl.chunk, wl.width))


def _encode_plane(plane: np.ndarray, wl: Workload, encode) -> list[bytes]:
    """Encode one band of one chunk as its TIFF tiles' compressed bytes."""
    size = wl.tile
    rows, cols = plane.shape
    parts = []
    for r0 in range(0, rows, size):
        for c0 in range(0, cols, size):
            t = plane[r0 : r0 + size, c0 : c0 + size]
            if t.shape != (size, size):  # TIFF pads edge tiles
                t = np.pad(t, ((0, size - t.shape[0]), (0, size - t.shape[1])))
            parts.append(encode(_predict(np.ascontiguousarray(t), wl.predictor)))
    return parts


def _floor_prepare(data: np.ndarray, wl: Workload) -> np.ndarray:
    return data


def _floor_write(data: np.ndarray, outdir: str, wl: Workload) -> str:
    encode = _encoder(wl)
    tiles_dir = os.path.join(outdir, "out_tiles")
    os.mkdir(tiles_dir)
    planes = data if wl.bands else data[np.newaxis]

    def one_chunk(window) -> None:
        r0, r1, c0, c1 = window
        parts = []
        for plane in planes:
            parts += _encode_plane(plane[r0:r1, c0:c1], wl, encode)
        name = f"chunk_{r0 // wl.chunk}_{c0 // wl.chunk}.bin"
        with open(os.path.join(tiles_dir, name), "wb") as fh:
            fh.write(b"".join(parts))

    with ThreadPoolExecutor(FLOOR_THREADS) as pool:
        list(pool.map(one_chunk, _chunk_windows(wl)))
    return tiles_dir


def _floor_versions() -> dict:
    import imagecodecs

    return {"numpy": _version("numpy"), "imagecodecs": imagecodecs.__version__}


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in [
        Contender(
            "xr_tiles-threads",
            "main",
            dask_dataarray,
            _xr_tiles_write("threads"),
            _xr_tiles_versions,
        ),
        Contender(
            "xr_tiles-sync",
            "main",
            dask_dataarray,
            _xr_tiles_write("synchronous"),
            _xr_tiles_versions,
        ),
        Contender(
            "xr_tiles-no-flush",
            "main",
            dask_dataarray,
            _xr_tiles_write("threads", durable=False),
            _xr_tiles_versions,
        ),
        Contender(
            "xr_tiles-fsync-each",
            "main",
            dask_dataarray,
            _xr_tiles_write("threads", fsync_each=True),
            _xr_tiles_versions,
        ),
        Contender(
            "xarray-spatial", "xrspatial", _xrspatial_prepare, _xrspatial_write, _xrspatial_versions
        ),
        Contender("rioxarray", "main", dask_dataarray, _rioxarray_write, _rioxarray_versions),
        Contender("floor", "main", _floor_prepare, _floor_write, _floor_versions),
    ]
}

REFERENCE = "xr_tiles-threads"
