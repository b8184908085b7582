"""The input of ``xr-tiles write``: anything xarray opens lazily, with dask, as stored."""

from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr
from fsspec.core import split_protocol

from .options import InputError, one_line

RASTERIO_SUFFIXES = (".tif", ".tiff", ".vrt")
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray", ".zmetadata")
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
    engine = engine or guess_engine(source)
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
        return _gdal_bands(dataset["band_data"])
    return dataset


def _opened(
    source: str, engine: str | None, chunks: Any, storage_options: Mapping[str, Any]
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
            return xr.open_dataset(source, engine=engine, chunks=spatial, **kwargs)
    except (OSError, ValueError, TypeError, KeyError, ImportError) as error:
        raise InputError(f"cannot open {source}: {one_line(error)}") from None


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
    (``long_name``), not the numbers rioxarray gives them."""
    array = array.drop_vars("band", errors="ignore").copy(deep=False)
    array.name = None
    if "band" in array.dims and array.sizes["band"] == 1:
        return array.squeeze("band", drop=True)
    return array
