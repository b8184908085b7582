"""What ``xr-tiles info`` reports: the raster as GDAL reads it, the tiles as xr_tiles
recorded them, and what it all takes on disk."""

from __future__ import annotations

import math
import pathlib
import warnings
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

from .. import state
from .options import InputError, one_line
from .sources import overview_factors, published, referenced_files, sources


def facts(vrt: pathlib.Path) -> dict[str, Any]:
    """``width``, ``height``, ``bands``, ``crs``, ``transform``, ``tiles``, ``overviews``
    and ``bytes`` of the VRT at ``vrt``, as plain JSON values."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(vrt) as dataset:
                raster = _raster(dataset)
                uncompressed = dataset.width * dataset.height * sum(
                    np.dtype(dtype).itemsize for dtype in dataset.dtypes
                )
    except RasterioIOError as error:
        raise InputError(f"GDAL cannot open {vrt}: {one_line(error)}") from None
    files = {vrt, *referenced_files(vrt)}
    on_disk = sum(path.stat().st_size for path in files if path.is_file())
    return {
        **raster,
        "tiles": tile_counts(vrt),
        "bytes": {
            "on_disk": on_disk,
            "uncompressed": uncompressed,
            "ratio": round(uncompressed / on_disk, 3) if on_disk else None,
        },
    }


def _raster(dataset: Any) -> dict[str, Any]:
    return {
        "width": dataset.width,
        "height": dataset.height,
        "bands": [
            {"dtype": dtype, "nodata": json_number(nodata, dtype), "description": description}
            for dtype, nodata, description in zip(
                dataset.dtypes, dataset.nodatavals, dataset.descriptions, strict=True
            )
        ],
        "crs": None if dataset.crs is None else dataset.crs.to_string(),
        "transform": list(dataset.transform.to_gdal()),
        "overviews": overview_factors(dataset),
    }


def json_number(value: float | None, dtype: str) -> float | int | str | None:
    """A nodata value as JSON holds it: an int for integer bands, and GDAL's JSON
    strings for the floats JSON has no number for."""
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return int(value) if np.dtype(dtype).kind in "iu" else float(value)


def tile_counts(vrt: pathlib.Path) -> dict[str, Any]:
    """Tiles written and skipped (of the grid xr_tiles recorded); for a VRT xr_tiles did
    not write, the files its bands read, with nothing known of a grid."""
    try:
        mosaic = published(vrt)
    except state.ForeignVrtError:
        read = {source.path for source in sources(vrt) if not source.overview}
        return {"written": len(read), "skipped": None, "grid": None, "files_per_tile": None}
    grid = mosaic.identity[state.GRID]
    files_per_tile = len({band["file"][0] for band in mosaic.identity[state.BANDS]})
    rows, cols = len(grid["y_chunks"]), len(grid["x_chunks"])
    written = len(mosaic.tiles)
    return {
        "written": written,
        "skipped": rows * cols * files_per_tile - written,
        "grid": [rows, cols],
        "files_per_tile": files_per_tile,
    }


def text(vrt: pathlib.Path, found: dict[str, Any]) -> str:
    """``found`` as lines for a person."""
    bands = found["bands"]
    lines = [
        str(vrt),
        f"  size        {found['width']} x {found['height']} pixels, {len(bands)} band"
        + ("s" if len(bands) != 1 else ""),
    ]
    for number, band in enumerate(bands, 1):
        nodata = "none" if band["nodata"] is None else band["nodata"]
        description = "" if band["description"] is None else f", {band['description']!r}"
        lines.append(f"  band {number:<6} {band['dtype']}, nodata {nodata}{description}")
    tiles, size = found["tiles"], found["bytes"]
    skipped = "" if tiles["skipped"] is None else f", {tiles['skipped']} skipped"
    grid = ""
    if tiles["grid"] is not None:
        files = tiles["files_per_tile"]
        each = f", {files} files each" if files > 1 else ""
        grid = " (a grid of {} x {} tiles{})".format(*tiles["grid"], each)
    lines += [
        f"  crs         {found['crs'] or 'none'}",
        f"  transform   {', '.join(repr(value) for value in found['transform'])}",
        f"  tiles       {tiles['written']} written{skipped}{grid}",
        f"  overviews   {', '.join(map(str, found['overviews'])) or 'none'}",
        f"  bytes       {size['on_disk']:,} on disk, {size['uncompressed']:,} uncompressed"
        + _compressed(size),
    ]
    return "\n".join(lines)


def _compressed(size: dict[str, Any]) -> str:
    """On-disk bytes as a share of the raw pixels' (``ratio`` is raw over on-disk)."""
    if not size["ratio"]:
        return ""
    return f" (compressed to {100 / size['ratio']:.0f}% of raw)"
