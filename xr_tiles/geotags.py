"""GeoTIFF tags for a grid, asked of GDAL once; per tile only the origin changes."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import tifffile
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

MODEL_PIXEL_SCALE = 33550
MODEL_TIEPOINT = 33922
MODEL_TRANSFORMATION = 34264
GEO_KEY_DIRECTORY = 34735
GEO_DOUBLE_PARAMS = 34736
GEO_ASCII_PARAMS = 34737
GDAL_NODATA = 42113
COPIED_TAGS = (MODEL_PIXEL_SCALE, GEO_KEY_DIRECTORY, GEO_DOUBLE_PARAMS, GEO_ASCII_PARAMS,
               GDAL_NODATA)
DOUBLE = 12

TagTuple = tuple[int, int, int, object, bool]


@dataclass(frozen=True)
class GeoTags:
    """The tags GDAL writes for one CRS, pixel size and nodata, minus the origin."""

    shared: tuple[TagTuple, ...]
    origin: int | None  # MODEL_TIEPOINT, MODEL_TRANSFORMATION, or None when not georeferenced

    def for_tile(self, transform: Affine) -> list[TagTuple]:
        """Tags placing a tile whose top-left pixel corner is at ``transform``."""
        if self.origin is None:
            return list(self.shared)
        values = self.origin_values(transform)
        return [*self.shared, (self.origin, DOUBLE, len(values), values, True)]

    def origin_values(self, transform: Affine) -> tuple[float, ...]:
        """The origin tag's values for a tile at ``transform`` (``origin`` is not None)."""
        if self.origin == MODEL_TRANSFORMATION:
            a, b, c, d, e, f = transform[:6]
            return (a, b, 0.0, c, d, e, 0.0, f, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
        return (0.0, 0.0, 0.0, transform.c, transform.f, 0.0)


def geotiff_tags(
    crs: CRS | None, transform: Affine, nodata: float | None, dtype: np.dtype
) -> GeoTags:
    """Let GDAL georeference a 2 x 2 raster and keep the tags it wrote."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as memory:
            profile = {"driver": "GTiff", "width": 2, "height": 2, "count": 1, "dtype": dtype}
            with memory.open(**profile, crs=crs, transform=transform, nodata=nodata) as dataset:
                dataset.write(np.zeros((1, 2, 2), dtype))
            written = memory.read()
    with tifffile.TiffFile(io.BytesIO(written)) as tiff:
        tags = tiff.pages.first.tags
        shared = tuple(
            (tag.code, int(tag.dtype), tag.count, tag.value, True)
            for tag in tags.values()
            if tag.code in COPIED_TAGS
        )
        origin = next((code for code in (MODEL_TRANSFORMATION, MODEL_TIEPOINT) if code in tags), None)
    return GeoTags(shared=shared, origin=origin)


__all__ = ["GeoTags", "geotiff_tags"]
