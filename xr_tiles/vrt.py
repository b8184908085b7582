"""The VRT document: GDAL's XML mosaic of the tiles; pure, built with ElementTree."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

import numpy as np
from rasterio.crs import CRS
from rasterio.dtypes import dtype_rev, typename_fwd

from .encode import TileSpec
from .plan import Tile, TilePlan
from .source import Band


def vrt_xml(
    plan: TilePlan,
    bands: Sequence[Band],
    band_order: Sequence[tuple[int, int]],
    specs: Sequence[TileSpec],
    crs: CRS | None,
    metadata: Mapping[str, str],
    tiles: Sequence[Tile],
) -> str:
    """Return the VRT mosaicking ``tiles``; band ``i`` reads band ``band_order[i]``."""
    root = ET.Element("VRTDataset", rasterXSize=str(plan.width), rasterYSize=str(plan.height))
    if crs is not None:
        sub(root, "SRS", crs.to_wkt())
    sub(root, "GeoTransform", ", ".join(repr(float(v)) for v in plan.transform.to_gdal()))
    _metadata(root, metadata)
    for number, (band, (group, index)) in enumerate(zip(bands, band_order, strict=True), 1):
        element = _band(root, number, band)
        for tile in tiles:
            _source(element, plan, tile, group, index, specs[group])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def gdal_typename(dtype: np.dtype) -> str:
    return str(typename_fwd[dtype_rev[dtype.name]])


def _band(root: ET.Element, number: int, band: Band) -> ET.Element:
    element = sub(root, "VRTRasterBand", dataType=gdal_typename(band.dtype), band=str(number))
    if band.description is not None:
        sub(element, "Description", band.description)
    if band.nodata is not None:
        sub(element, "NoDataValue", _number(band.nodata))
    if band.unit is not None:
        sub(element, "UnitType", band.unit)
    if band.offset is not None:
        sub(element, "Offset", _number(band.offset))
    if band.scale is not None:
        sub(element, "Scale", _number(band.scale))
    _metadata(element, band.metadata)
    return element


def _source(
    band: ET.Element, plan: TilePlan, tile: Tile, group: int, index: int, spec: TileSpec
) -> None:
    source = sub(band, "SimpleSource")
    sub(source, "SourceFilename", plan.source_path(tile, group), relativeToVRT="1")
    sub(source, "SourceBand", str(index + 1))
    block_y, block_x = spec.internal_tile(tile.height, tile.width)
    sub(
        source, "SourceProperties",
        RasterXSize=str(tile.width), RasterYSize=str(tile.height),
        DataType=gdal_typename(spec.dtype),
        BlockXSize=str(block_x), BlockYSize=str(block_y),
    )
    size = {"xSize": str(tile.width), "ySize": str(tile.height)}
    sub(source, "SrcRect", xOff="0", yOff="0", **size)
    sub(source, "DstRect", xOff=str(tile.col_off), yOff=str(tile.row_off), **size)


def _metadata(parent: ET.Element, items: Mapping[str, str]) -> None:
    if items:
        domain = sub(parent, "Metadata")
        for key, value in items.items():
            sub(domain, "MDI", value, key=key)


def _number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value) if isinstance(value, float) else str(value)
