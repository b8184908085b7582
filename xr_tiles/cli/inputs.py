"""The input of ``xr-tiles write``: anything xarray opens lazily, with dask, as stored;
any other raster GDAL reads, through rioxarray's engine."""

from __future__ import annotations

import contextlib
import os
import pathlib
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from fsspec.core import split_protocol

from ..source import spatial_dims
from .options import InputError, one_line

RASTERIO_SUFFIXES = (".tif", ".tiff", ".vrt")
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")
NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf")
# What the first bytes of a file say it is, and the engines that read it.
SIGNATURES = {
    b"CDF\x01": ("NetCDF-3", "netCDF4 or scipy"),
    b"CDF\x02": ("NetCDF-3 (64-bit offsets)", "netCDF4 or scipy"),
    b"CDF\x05": ("NetCDF-3 (64-bit data, CDF-5)", "netCDF4"),
    b"\x89HDF\r\n\x1a\n": ("NetCDF-4 (HDF5)", "netCDF4 or h5netcdf"),
}
# The extra of xr_tiles that installs each engine xarray knows but may lack.
EXTRAS = {"netcdf4": "netcdf", "h5netcdf": "netcdf", "scipy": "netcdf", "zarr": "zarr"}
# The spatial dims xr_tiles recognises; absent ones are ignored by xarray's ``chunks``.
SPATIAL_DIMS = ("y", "x", "lat", "lon", "latitude", "longitude")
DEFAULT_TILE = 1024


def guess_engine(source: str) -> str | None:
    """rasterio for GeoTIFF and VRT, zarr for a Zarr store, else None (xarray guesses)."""
    protocol, location = split_protocol(source)
    suffix = pathlib.PurePosixPath(location.rstrip("/")).suffix.lower()
    if suffix in RASTERIO_SUFFIXES:
        return "rasterio"
    if suffix == ".zarr":
        return "zarr"
    local = protocol in (None, "file")
    if local and any(os.path.exists(os.path.join(location, name)) for name in ZARR_MARKERS):
        return "zarr"
    return None


def choose_engine(source: str, engine: str | None) -> str:
    """The xarray engine that opens ``source``: ``engine``, else ``guess_engine``'s, else
    the first installed engine that says it can (as xarray guesses), else rasterio: GDAL
    reads what no engine claims. NetCDF or Zarr with no engine installed to read it is
    refused, naming the extra that installs one."""
    installed = {name: backend for name, backend in xr.backends.list_engines().items()
                 if name != "store"}
    if engine is not None and engine not in installed:
        extra = EXTRAS.get(engine)
        if extra is None:
            raise InputError(
                f"--engine {engine}: no such xarray engine here; installed: {', '.join(installed)}"
            )
        raise InputError(f"--engine {engine} is not installed: {install_hint(extra)}")
    chosen = engine or guess_engine(source) or _claimed(source, installed)
    if chosen is None:
        kind = _netcdf_kind(source)
        if kind is not None:
            name, readers = kind
            raise InputError(
                f"cannot open {source}: it is {name}, which no installed xarray engine reads "
                f"(it takes {readers}): {install_hint('netcdf')}"
            )
        return "rasterio"
    if chosen not in installed:  # zarr, by its name or its files
        raise InputError(
            f"cannot open {source}: it is Zarr, and xarray reads Zarr with zarr: "
            f"{install_hint('zarr')}"
        )
    return chosen


def install_hint(extra: str) -> str:
    return f"pip install 'xr_tiles[{extra}]'"


def _claimed(source: str, installed: Mapping[str, Any]) -> str | None:
    """The first installed engine that says it opens ``source``, if any."""
    for name, backend in installed.items():
        with contextlib.suppress(Exception):  # a guess that fails is no claim, as in xarray
            if backend.guess_can_open(source):
                return name
    return None


def _netcdf_kind(source: str) -> tuple[str, str] | None:
    """What NetCDF ``source`` is by its first bytes (a local file) or its suffix, and
    the engines that read it; None if it is not NetCDF."""
    protocol, location = split_protocol(source)
    if protocol in (None, "file") and os.path.isfile(location):
        with open(location, "rb") as file:
            start = file.read(8)
        return next((kind for magic, kind in SIGNATURES.items() if start.startswith(magic)), None)
    if pathlib.PurePosixPath(location.rstrip("/")).suffix.lower() in NETCDF_SUFFIXES:
        return "NetCDF", "netCDF4 or h5netcdf"
    return None


def check_exists(source: str) -> None:
    """A local INPUT must exist (a URL is the backend's to find)."""
    protocol, location = split_protocol(source)
    if protocol in (None, "file") and not os.path.exists(location):
        raise InputError(f"Invalid value for 'INPUT': {source!r} does not exist.")


def open_input(
    source: str,
    *,
    engine: str | None,
    chunks: Any,
    variables: Sequence[str],
    isel: Sequence[tuple[str, Any]],
    sel: Sequence[tuple[str, Any]],
    storage_options: Mapping[str, Any],
) -> xr.DataArray | xr.Dataset:
    """``source`` opened lazily (dask, ``chunks`` pixels on the spatial dims or the
    store's own chunks), raw values as stored (nodata, scale and offset kept as metadata,
    as GDAL has them), with the variables and selections asked for."""
    check_exists(source)
    engine = choose_engine(source, engine)
    dataset = _opened(source, engine, chunks, storage_options)
    dataset = _selected(dataset, isel, sel)
    if variables:
        missing = [name for name in variables if name not in dataset.data_vars]
        if missing:
            raise InputError(
                f"no variable {', '.join(map(repr, missing))} in {source}; it has "
                f"{', '.join(map(repr, map(str, dataset.data_vars))) or 'none'}"
            )
        dataset = dataset[list(variables)]
    if engine == "rasterio" and list(dataset.data_vars) == ["band_data"]:
        return checked_dims(_gdal_bands(dataset["band_data"]))
    return checked_dims(dataset)


def _opened(
    source: str, engine: str, chunks: Any, storage_options: Mapping[str, Any]
) -> xr.Dataset:
    kwargs: dict[str, Any] = {"mask_and_scale": False, "decode_coords": "all"}
    if storage_options:
        if engine != "zarr":
            raise InputError(
                "--input-storage-option is for a Zarr INPUT (engine zarr); GDAL reads other "
                "URLs with its own settings (AWS_*, GS_*, ...)"
            )
        kwargs["storage_options"] = dict(storage_options)
    if chunks is None and engine != "zarr":
        chunks = DEFAULT_TILE
    if chunks is None:
        spatial: dict[str, Any] = {}  # the store's own chunks
    else:
        y, x = chunks if isinstance(chunks, tuple) else (chunks, chunks)
        spatial = {dim: y if dim.startswith(("y", "lat")) else x for dim in SPATIAL_DIMS}
    try:
        with warnings.catch_warnings():
            # Tiles that are not the file's own blocks are what was asked for.
            warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
            # A Zarr without consolidated metadata opens as well, if a little slower.
            warnings.filterwarnings("ignore", "Failed to open Zarr store with consolidated")
            return _with_times(source, engine, spatial, kwargs)
    except ImportError as error:  # an engine whose own dependency is missing (h5py)
        extra = EXTRAS.get(engine)
        hint = f": {install_hint(extra)}" if extra else ""
        raise InputError(f"cannot open {source}: {one_line(error).rstrip('.')}{hint}") from None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InputError(f"cannot open {source}: {one_line(error)}") from None


def _with_times(source: str, engine: str, chunks: Any, kwargs: dict[str, Any]) -> xr.Dataset:
    """Opened with its times decoded where xarray can, else with them as stored: GDAL
    reads a file whose time units xarray cannot decode (its bands are numbered then)."""
    try:
        return xr.open_dataset(source, engine=engine, chunks=chunks, **kwargs)
    except ValueError as error:
        if "decode" not in str(error) or "time" not in str(error):
            raise
        return xr.open_dataset(source, engine=engine, chunks=chunks, decode_times=False, **kwargs)


def _selected(
    dataset: xr.Dataset, isel: Sequence[tuple[str, Any]], sel: Sequence[tuple[str, Any]]
) -> xr.Dataset:
    for option, pairs in (("--isel", isel), ("--sel", sel)):
        for dim, value in pairs:
            try:
                select = dataset.isel if option == "--isel" else dataset.sel
                dataset = select({dim: value})
            except (KeyError, ValueError, IndexError, TypeError) as error:
                raise InputError(f"{option} {dim}={value}: {one_line(error)}") from None
    return dataset


def _gdal_bands(array: xr.DataArray) -> xr.DataArray:
    """A raster GDAL reads, as rioxarray opens it: its bands keep GDAL's descriptions
    (``long_name``) and their numbers in the file (the ``band`` coordinate, which says
    whose colours they have), not a name."""
    array = array.copy(deep=False)
    array.name = None
    if array.sizes.get("band", 1) == 1 and "band" in array.dims:
        return array.squeeze("band")
    return array


def checked_dims(obj: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    """``obj``, if each variable to write has at most one dimension besides y and x
    (its bands); else the one-line error that names the others and how to select them."""
    spatial = spatial_dims(obj)
    if spatial is None:
        return obj  # to_vrt says what it looks for
    variables = [obj] if isinstance(obj, xr.DataArray) else [
        var for var in obj.data_vars.values() if set(spatial) <= set(var.dims)
    ]
    for var in variables:
        extra = [dim for dim in var.dims if dim not in spatial]
        if len(extra) > 1:
            name = "the input" if var.name is None else f"variable {str(var.name)!r}"
            dims = ", ".join(f"{dim}: {size}" for dim, size in var.sizes.items())
            raise InputError(
                f"{name} has dims ({dims}): select one band dimension with "
                f"{_selections(var, extra)} (xr_tiles writes (y, x) or (band, y, x))"
            )
    return obj


def _selections(var: xr.DataArray, extra: list[Hashable]) -> str:
    """Two ways to keep one of the ``extra`` dims as bands: by position, the last; by
    label (where the labels read well on a command line), the first."""
    by_position = " ".join(f"--isel {dim}=0" for dim in extra[:-1])
    by_label = " ".join(_by_label(var, dim) for dim in extra[1:])
    return f"{by_position} or {by_label}"


def _by_label(var: xr.DataArray, dim: Hashable) -> str:
    """``--sel DIM=LABEL`` of the dim's first label: a number (not a fill value such as
    9.97e36) or a word; else ``--isel DIM=0``."""
    if dim in var.coords and var[dim].dtype.kind in "iufU":
        label = np.asarray(var[dim].values[0]).item()
        if isinstance(label, str) or (np.isfinite(label) and abs(label) < 1e9):
            return f"--sel {dim}={label}"
    return f"--isel {dim}=0"
