"""Shared fixtures: synthetic rasters and GDAL (rasterio) as the oracle that reads them back."""

from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import time
import uuid
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

import xr_tiles  # noqa: F401  (registers .tiles)

PIXEL = 30.0
ORIGIN = (500_000.0, 4_000_000.0)


def synthetic_values(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> np.ndarray:
    """Random values spanning the dtype (floats: a smooth field plus noise)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == bool:
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1000).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def make_raster(
    shape: tuple[int, ...] = (64, 80),
    dtype: Any = "float32",
    *,
    chunks: Any = None,
    crs: str | None = "EPSG:32633",
    south_up: bool = False,
    nodata: float | None = None,
    band_dim: str = "band",
    name: str | None = "elevation",
    seed: int = 0,
) -> xr.DataArray:
    """A georeferenced DataArray, (y, x) or (band, y, x), on a 30 m grid."""
    height, width = shape[-2:]
    x = ORIGIN[0] + PIXEL * (np.arange(width) + 0.5)
    step = PIXEL if south_up else -PIXEL
    y = ORIGIN[1] + step * (np.arange(height) + 0.5)
    dims: tuple[str, ...] = ("y", "x")
    coords: dict[str, Any] = {"y": y, "x": x}
    if len(shape) == 3:
        dims = (band_dim, *dims)
        coords[band_dim] = [f"b{i}" for i in range(shape[0])]
    array = xr.DataArray(synthetic_values(shape, dtype, seed), dims=dims, coords=coords, name=name)
    if crs is not None:
        array = array.rio.write_crs(crs)
    if nodata is not None:
        array = array.rio.write_nodata(nodata)
    if isinstance(chunks, tuple):
        chunks = {"y": chunks[0], "x": chunks[1]}
    return array if chunks is None else array.chunk(chunks)


@dataclass
class ReadBack:
    """What GDAL reports for a written VRT."""

    values: np.ndarray | None  # (band, y, x); None when band dtypes differ
    bands: list[np.ndarray]
    transform: Affine
    crs: Any
    nodatavals: tuple[Any, ...]
    dtypes: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    units: tuple[str | None, ...]
    tags: dict[str, str]


def read_with_gdal(path: str | pathlib.Path) -> ReadBack:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            return ReadBack(
                values=dataset.read() if len(set(dataset.dtypes)) == 1 else None,
                bands=[dataset.read(band) for band in dataset.indexes],
                transform=dataset.transform,
                crs=dataset.crs,
                nodatavals=dataset.nodatavals,
                dtypes=dataset.dtypes,
                descriptions=dataset.descriptions,
                scales=dataset.scales,
                offsets=dataset.offsets,
                units=dataset.units,
                tags=dataset.tags(),
            )


def north_up(array: xr.DataArray) -> xr.DataArray:
    """``array`` as xr_tiles writes it: rows from north to south (y descending)."""
    y = array.rio.y_dim
    if array.sizes[y] > 1 and array[y].values[1] > array[y].values[0]:
        return array.isel({y: slice(None, None, -1)})
    return array


def expected_bands(array: xr.DataArray) -> np.ndarray:
    values = np.asarray(array.values)
    return values[np.newaxis] if values.ndim == 2 else values


WRITE_ID = re.compile(r"(?<=_tiles/)[0-9a-f]{12}(?=/)")


def tile_folder(vrt: pathlib.Path) -> pathlib.Path:
    """The folder of the one write a VRT's tiles come from: ``<stem>_tiles/<write id>/``."""
    root = vrt.with_name(f"{vrt.stem}_tiles")
    folders = [
        p for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and re.fullmatch("[0-9a-f]{12}", p.name)
    ]
    assert len(folders) == 1, f"expected the folder of one write in {root}, found {folders}"
    return folders[0]


def without_write_ids(text: str) -> str:
    """A VRT's text with the write ids in its paths and its record of the last write (id
    and input token) replaced: to compare the outputs of two writes, which have their own
    ids, of inputs that may be equal without being the same dask graph."""
    text = WRITE_ID.sub("<write>", text)
    return re.sub(r'"(write|token)": "[0-9a-f]+"', r'"\1": "<\1>"', text)


def downsample(values: np.ndarray, factor: int, resampling: str, nodata: float | None):
    """The whole raster's level, window by window from a reshape, with NaN for nodata:
    another route than the writer's, which builds each level from the previous one."""
    bands, height, width = values.shape
    rows, cols = -(-height // factor), -(-width // factor)
    if resampling == "nearest":  # the window's centre, or its last pixel where shorter
        y = np.minimum(np.arange(rows) * factor + factor // 2, height - 1)
        x = np.minimum(np.arange(cols) * factor + factor // 2, width - 1)
        return values[:, y][:, :, x]
    floats = values.astype(np.float64)
    if nodata is not None:
        floats[values == nodata] = np.nan
    padded = np.full((bands, rows * factor, cols * factor), np.nan)
    padded[:, :height, :width] = floats
    windows = padded.reshape(bands, rows, factor, cols, factor).transpose(0, 1, 3, 2, 4)
    windows = windows.reshape(bands, rows, cols, factor * factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows of nodata only
        if resampling == "mode":
            level = np.array([_mode(window) for window in windows.reshape(-1, factor**2)])
            level = level.reshape(bands, rows, cols)
        else:
            level = {"average": np.nanmean, "min": np.nanmin, "max": np.nanmax}[resampling](
                windows, axis=-1
            )
    if values.dtype.kind in "iu":
        level = np.rint(level)
    return np.where(np.isnan(level), np.nan if nodata is None else nodata, level).astype(
        values.dtype
    )


def _mode(window: np.ndarray) -> float:
    """The commonest value; ties to the smallest."""
    found, counts = np.unique(window[~np.isnan(window)], return_counts=True)
    return float(found[np.argmax(counts)]) if found.size else np.nan


def tree(folder: pathlib.Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones too): file bytes, or None for a folder."""
    return {
        path.relative_to(folder).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def referenced_files(vrt: pathlib.Path) -> set[pathlib.Path]:
    """The files a VRT names, and those the VRTs it names name, recursively (absolute)."""
    found: set[pathlib.Path] = set()
    for element in ET.parse(vrt).getroot().iter("SourceFilename"):
        assert element.get("relativeToVRT") == "1", f"{vrt} names {element.text} absolutely"
        path = pathlib.Path(os.path.normpath(vrt.parent / str(element.text)))
        if path not in found:
            found.add(path)
            if path.suffix == ".vrt":
                found |= referenced_files(path)
    return found


def silence_writes(vrt: pathlib.Path, seconds: float = 61.0) -> None:
    """Make the unpublished writes of ``vrt`` look silent for ``seconds`` (their manifests
    and folders last changed then), as a write whose process went quiet does after that
    long: a lazy write is judged running by those times alone."""
    then = time.time() - seconds
    for entry in vrt.with_name(f"{vrt.stem}_tiles").iterdir():
        os.utime(entry, (then, then), follow_symlinks=False)


def assert_only_referenced(vrt: pathlib.Path, *others: pathlib.Path) -> None:
    """Under the VRT's folder: the VRT, the files it names and nothing else (no manifest,
    lock, partial file or empty folder), besides ``others`` that are not the output's."""
    files = {p for p in vrt.parent.rglob("*") if not p.is_dir()}
    expected = {vrt, *referenced_files(vrt), *others}
    assert files == expected, (
        f"not named: {sorted(map(str, files - expected))}; missing: {sorted(map(str, expected - files))}"
    )
    for folder in (p for p in vrt.parent.rglob("*") if p.is_dir()):
        assert any(folder in file.parents for file in expected), f"{folder} is left empty"


def store_referenced(fs: Any, vrt: str) -> set[str]:
    """``referenced_files`` on an fsspec store: the keys a VRT names, recursively."""
    found: set[str] = set()
    for element in ET.fromstring(fs.cat_file(vrt)).iter("SourceFilename"):
        key = os.path.normpath(f"{os.path.dirname(vrt)}/{element.text}")
        if key not in found:
            found.add(key)
            if key.endswith(".vrt"):
                found |= store_referenced(fs, key)
    return found


def assert_store_only_referenced(fs: Any, vrt: str, *others: str) -> None:
    """Under the VRT's prefix: the VRT and the objects it names, nothing else, besides
    ``others``."""
    fs.invalidate_cache()
    keys = {key.lstrip("/") for key in fs.find(os.path.dirname(vrt))}
    expected = {key.lstrip("/") for key in {vrt, *store_referenced(fs, vrt), *others}}
    assert keys == expected, f"not named: {sorted(keys - expected)}; missing: {sorted(expected - keys)}"


# --------------------------------------------------------------------------- S3 (moto)


CREDENTIALS = {"key": "testing", "secret": "testing"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in its own process (GDAL, reading in this one, holds the GIL)."""
    pytest.importorskip("s3fs")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, gdal_s3_settings):
    """A fresh bucket; its storage_options; and the filesystem, as a test would see it.
    GDAL is set up to read it."""
    options = {"endpoint_url": s3_endpoint, **CREDENTIALS}
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3", **options, skip_instance_cache=True)
    fs.mkdir(name)
    return name, options, fs


@pytest.fixture
def gdal_s3_settings(monkeypatch, s3_endpoint):
    """What GDAL's /vsis3/ needs for the loopback server, in the environment (rasterio
    leaves AWS credentials to it)."""
    settings = {
        "AWS_S3_ENDPOINT": s3_endpoint.removeprefix("http://"), "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE", "AWS_ACCESS_KEY_ID": CREDENTIALS["key"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["secret"], "AWS_REGION": "us-east-1",
        # Tests read a URL again after writing it anew: no cached bytes or listings.
        "CPL_VSIL_CURL_NON_CACHED": "/vsis3/",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def raster() -> Callable[..., xr.DataArray]:
    return make_raster


@pytest.fixture
def gdal_read() -> Callable[[str | pathlib.Path], ReadBack]:
    return read_with_gdal


@pytest.fixture
def vrt_path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "out" / "mosaic.vrt"
