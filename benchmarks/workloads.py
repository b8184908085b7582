"""Benchmark workloads: what to write and how to generate it.

Imported by both the driver (``bench_write.py``, Python 3.11) and the
subprocess worker (``worker.py``), which may run under the xarray-spatial
Python 3.12 venv.  It therefore depends on numpy only.

Every process generates the same data from a fixed seed; the data is an
in-memory numpy array that each contender wraps in dask with the
workload's chunks.  Generation is never timed.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, replace

import numpy as np

SEED = 20240611
BLOCKSIZE = 256  # internal TIFF tile size requested from every contender
QUICK_DIVISOR = 4  # --quick shrinks each spatial dimension by this factor


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    kind: str  # generator: "random", "smooth", "image" or "dem"
    dtype: str
    bands: int  # 0 means a 2-D (y, x) array, otherwise (band, y, x)
    height: int
    width: int
    chunk: int  # dask chunk edge (y and x); bands are never split
    codec: str
    level: int
    predictor: int  # TIFF predictor: 1 none, 2 horizontal, 3 floating point

    @property
    def shape(self) -> tuple[int, ...]:
        if self.bands:
            return (self.bands, self.height, self.width)
        return (self.height, self.width)

    @property
    def chunks(self) -> tuple[int, ...]:
        if self.bands:
            return (self.bands, self.chunk, self.chunk)
        return (self.chunk, self.chunk)

    @property
    def tile(self) -> int:
        """Internal TIFF tile edge: 256, or the chunk edge when that is smaller.

        Smaller chunks get smaller tiles so no writer pads 128-pixel chunks into
        256-pixel tiles and GDAL never rewrites a half-filled block.
        """
        return min(BLOCKSIZE, self.chunk)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    @property
    def n_chunks(self) -> int:
        rows = -(-self.height // self.chunk)
        cols = -(-self.width // self.chunk)
        return rows * cols

    def to_dict(self) -> dict:
        return asdict(self)


# The target workload: xarray-spatial's own VRT microbenchmark, called as it
# is there, to_geotiff(da, "x.vrt", compression="zstd"), i.e. its default level 6 and no
# predictor; every contender matches that.
RANDOM_F32 = Workload(
    name="random-f32",
    description="4096x4096 float32 uniform random, 256 chunks "
    "(xarray-spatial's own VRT microbenchmark, its defaults: no predictor)",
    kind="random",
    dtype="float32",
    bands=0,
    height=4096,
    width=4096,
    chunk=256,
    codec="zstd",
    level=6,
    predictor=1,
)

# zstd/deflate level 6 everywhere: it is xarray-spatial's default for both
# codecs and GDAL's default ZLEVEL (GDAL's own ZSTD_LEVEL default is 9, so the
# GDAL contender is told 6 explicitly).  Apart from random-f32 (xarray-spatial's
# microbenchmark, no predictor), the predictor is what xr_tiles picks
# automatically (3 for floats, 2 for integers) and is passed to every contender.
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        RANDOM_F32,
        # The same data with the floating-point predictor (xr_tiles' default for floats).
        replace(
            RANDOM_F32,
            name="random-f32-fp",
            description="4096x4096 float32 uniform random, 256 chunks, floating-point predictor",
            predictor=3,
        ),
        Workload(
            name="smooth-f32",
            description="8192x8192 float32 smooth field, 1024 chunks",
            kind="smooth",
            dtype="float32",
            bands=0,
            height=8192,
            width=8192,
            chunk=1024,
            codec="zstd",
            level=6,
            predictor=3,
        ),
        Workload(
            name="rgb-u8",
            description="3x6144x6144 uint8 image-like (smooth + grain), 1024 chunks, deflate",
            kind="image",
            dtype="uint8",
            bands=3,
            height=6144,
            width=6144,
            chunk=1024,
            codec="deflate",
            level=6,
            predictor=2,
        ),
        Workload(
            name="dem-i16",
            description="8192x8192 int16 terrain-like, 128 chunks (4096 tiles)",
            kind="dem",
            dtype="int16",
            bands=0,
            height=8192,
            width=8192,
            chunk=128,
            codec="zstd",
            level=6,
            predictor=2,
        ),
    ]
}


def get_workload(name: str, quick: bool = False) -> Workload:
    """Return a workload by name; ``quick`` shrinks it for smoke runs."""
    wl = WORKLOADS[name]
    if not quick:
        return wl
    d = QUICK_DIVISOR
    return Workload(**{**wl.to_dict(), "height": wl.height // d, "width": wl.width // d})


# --------------------------------------------------------------------------
# data generation (numpy only, deterministic, row band by row band to keep
# the temporaries small)
# --------------------------------------------------------------------------

ROW_BAND = 512


def _axis(n: int) -> np.ndarray:
    """Coordinates in [0, 1) along one axis, float64."""
    return np.arange(n, dtype=np.float64) / n


def _smooth_2d(height: int, width: int, phase: float = 0.0) -> np.ndarray:
    """A smooth float64 field in roughly [-1.5, 1.5] (sum of outer products).

    Computed in float64 and rounded to the target dtype by the caller, which
    keeps the values bit-identical across numpy builds.
    """
    y, x = _axis(height), _axis(width)
    tau = 2 * np.pi
    a, b = np.sin(tau * (3 * y + phase)), np.cos(tau * (2 * x + phase))
    c, d = np.cos(tau * (7 * y + 0.3)), np.sin(tau * (5 * x - phase))
    e, f = 0.8 * y, 0.4 * x
    out = np.empty((height, width), dtype=np.float64)
    for r0 in range(0, height, ROW_BAND):
        r1 = min(r0 + ROW_BAND, height)
        blk = out[r0:r1]
        np.multiply.outer(a[r0:r1], b, out=blk)
        blk += 0.5 * np.multiply.outer(c[r0:r1], d)
        blk += e[r0:r1, None]
        blk -= f[None, :]
    return out


def _gen_random(wl: Workload, rng: np.random.Generator) -> np.ndarray:
    return rng.random(wl.shape, dtype=np.float32)


def _gen_smooth(wl: Workload, rng: np.random.Generator) -> np.ndarray:
    return (_smooth_2d(wl.height, wl.width) * 1000.0).astype(wl.dtype)


def _gen_dem(wl: Workload, rng: np.random.Generator) -> np.ndarray:
    """Terrain-like int16: smooth relief plus a few metres of roughness."""
    relief = _smooth_2d(wl.height, wl.width) * 1500.0 + 800.0
    out = np.empty(wl.shape, dtype=wl.dtype)
    for r0 in range(0, wl.height, ROW_BAND):
        r1 = min(r0 + ROW_BAND, wl.height)
        noise = rng.integers(-4, 5, size=(r1 - r0, wl.width), dtype=np.int16)
        out[r0:r1] = np.rint(relief[r0:r1]).astype(np.int16) + noise
    return out


def _gen_image(wl: Workload, rng: np.random.Generator) -> np.ndarray:
    """Photo-like uint8 bands: smooth shading, band-shifted, with grain."""
    out = np.empty(wl.shape, dtype=wl.dtype)
    for band in range(wl.bands):
        shade = _smooth_2d(wl.height, wl.width, phase=0.17 * band)
        for r0 in range(0, wl.height, ROW_BAND):
            r1 = min(r0 + ROW_BAND, wl.height)
            grain = rng.integers(-6, 7, size=(r1 - r0, wl.width), dtype=np.int16)
            vals = np.rint(110.0 + 55.0 * shade[r0:r1]).astype(np.int16)
            out[band, r0:r1] = np.clip(vals + grain, 0, 255)
    return out


_GENERATORS = {
    "random": _gen_random,
    "smooth": _gen_smooth,
    "image": _gen_image,
    "dem": _gen_dem,
}


def generate(wl: Workload) -> np.ndarray:
    """Return the workload's data as a C-contiguous numpy array."""
    rng = np.random.default_rng(SEED)
    data = _GENERATORS[wl.kind](wl, rng)
    assert data.shape == wl.shape
    assert data.dtype == np.dtype(wl.dtype)
    return np.ascontiguousarray(data)


def checksum(data: np.ndarray) -> str:
    """Cheap content fingerprint to confirm every process wrote the same data."""
    return format(zlib.crc32(memoryview(data).cast("B")), "08x")
