"""The colour interpretation and colour table of bands read from a GDAL raster.

rioxarray keeps neither (only the file it read, in ``encoding["source"]``, and each
band's number in the ``band`` coordinate), so they are read back from that file, as GDAL
reads it, for the bands the data still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import rasterio
import xarray as xr
from rasterio.errors import RasterioError

ColorTable = tuple[tuple[int, int, int, int], ...]


@dataclass(frozen=True)
class BandColors:
    """What GDAL says of one band's colours: ``interp`` as GDAL names it (``Red``)."""

    interp: str | None = None
    table: ColorTable | None = None


def band_colors(var: xr.DataArray, count: int) -> list[BandColors]:
    """The colours of the ``count`` bands of ``var`` ((band, y, x), or (y, x) for one),
    from the GDAL raster rioxarray read it from; none for data from anywhere else."""
    source = var.encoding.get("source")
    numbers = _band_numbers(var, count)
    if not source or "rasterio_dtype" not in var.encoding or numbers is None:
        return [BandColors()] * count
    try:
        with rasterio.open(source) as dataset:
            if max(numbers) > dataset.count:
                return [BandColors()] * count
            return [_colors(dataset, number) for number in numbers]
    except (RasterioError, OSError):
        return [BandColors()] * count


def _band_numbers(var: xr.DataArray, count: int) -> Sequence[int] | None:
    """The source's band numbers, from 1: rioxarray's ``band`` coordinate; without it,
    all of them in order."""
    if "band" in var.coords:
        values = np.atleast_1d(var["band"].values)
        if values.dtype.kind in "iu" and values.size == count:
            return [int(value) for value in values]
        return None
    return list(range(1, count + 1))


def _colors(dataset: rasterio.io.DatasetReader, number: int) -> BandColors:
    interp = dataset.colorinterp[number - 1]
    try:
        table = dataset.colormap(number)
    except ValueError:  # rasterio's word for a band without a colour table
        table = None
    return BandColors(
        interp=interp.name.capitalize(),
        table=None if table is None else tuple(
            tuple(int(c) for c in table[index]) for index in range(len(table))  # type: ignore[misc]
        ),
    )
