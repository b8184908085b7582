"""The VRT documents: GDAL's XML mosaic of the tiles, and with overviews one mosaic of
the tiles' overviews per level, listed as the main bands' ``<Overview>``; pure, built
with ElementTree."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.dtypes import dtype_rev, typename_fwd

from ..encode import TileSpec
from ..plan import Block, Tile, TilePlan
from ..source import Band
from ..state import STATE_DOMAIN, STATE_KEY

# A tile to list: where it is in the mosaic, and the write whose folder holds it.
Source = tuple[Tile, str]
# A block of a nested VRT, and the write whose folder holds its sub-VRTs.
Placed = tuple[Block, str]
VRT_BLOCK = 128  # GDAL's default block size of a VRT

SOURCES_MARK = "xr_tiles sources of band"
SOURCES_LINE = re.compile(rf"^ *<!--{SOURCES_MARK} (\d+)-->\n", re.MULTILINE)
# The indentation ET.indent gives a VRTRasterBand's children.
SOURCE_TEMPLATE = """\
    <SimpleSource>
      <SourceFilename relativeToVRT="1">{path}</SourceFilename>
{open_options}\
      <SourceBand>{band}</SourceBand>
      <SourceProperties RasterXSize="{width}" RasterYSize="{height}" DataType="{type}" \
BlockXSize="{block_x}" BlockYSize="{block_y}" />
      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}" />
      <DstRect xOff="{x}" yOff="{y}" xSize="{width}" ySize="{height}" />
    </SimpleSource>
"""
OVERVIEW_LEVEL = """\
      <OpenOptions>
        <OOI key="OVERVIEW_LEVEL">{level}</OOI>
      </OpenOptions>
"""


def vrt_xml(
    plan: TilePlan,
    bands: Sequence[Band],
    band_order: Sequence[tuple[int, int]],
    specs: Sequence[TileSpec],
    crs: CRS | None,
    metadata: Mapping[str, str],
    sources: Sequence[Sequence[Source]],
    factor: int = 1,
    *,
    write_id: str,
    state: str | None = None,
    blocks: Sequence[Placed] | None = None,
) -> str:
    """Return the VRT mosaicking ``sources[group]`` of each band group (the tiles there
    are, each in its write's folder); band ``i`` reads band ``band_order[i]``. ``state``:
    the write's record of itself (metadata domain ``xr_tiles``). With ``blocks``, a
    nested VRT: it mosaics those blocks' sub-VRTs (``block_xml``), not the tiles.

    With ``factor`` > 1, the mosaic of the tiles' overviews of that factor, which lives
    in the folder of this write (``write_id``). The main VRT lists each level as an
    ``<Overview>``: this mosaic, or for small levels one GeoTIFF of the whole level
    (``plan.merged``), both in that folder. Not GDAL's
    implicit overviews of the main VRT: those are sized ``round(size / factor)`` and
    scaled to it, which resamples every tile's overview unless the raster is a multiple
    of the factor, and opening every tile costs a small level more than its pixels.
    """
    height, width = plan.level_shape(factor)
    root = _dataset(width, height, plan.level_transform(factor), crs)
    if state is not None:
        _metadata(root, {STATE_KEY: state}, domain=STATE_DOMAIN)
    _metadata(root, metadata)
    texts = {}
    for number, (band, (group, index)) in enumerate(zip(bands, band_order, strict=True), 1):
        element = _band(root, number, band)
        if factor == 1:
            for overview in plan.overviews:
                # A merged level's file holds its band group's bands; a mosaic all bands.
                band_in_file = index + 1 if overview in plan.merged else number
                _overview(element, plan.overview_path(overview, group, write_id), band_in_file)
        # A placeholder, replaced by the band's sources once the document is serialised.
        element.append(ET.Comment(f"{SOURCES_MARK} {number}"))
        if blocks is None:
            # A level's VRT is in its write's overviews/, two down from the tiles folder.
            path = plan.source_path if factor == 1 else _from_write_folder(plan)
            texts[str(number)] = _sources(
                sources[group], group, index, specs[group], factor, path, (0, 0))
        else:
            texts[str(number)] = _block_sources(
                plan, _in_band_order(blocks, group, len(specs), plan, factor), number, band,
                factor)
    return _serialised(root, texts)


def block_xml(
    plan: TilePlan,
    bands: Sequence[Band],
    band_order: Sequence[tuple[int, int]],
    specs: Sequence[TileSpec],
    crs: CRS | None,
    block: Block,
    sources: Sequence[Sequence[Source]],
    factor: int = 1,
) -> str:
    """Return the sub-VRT of one block of a nested VRT: the mosaic of the block's tiles
    (``sources[group]``: those there are), or of their overviews of ``factor``, with the
    main VRT's bands (type and nodata: holes read as nodata, as in the main VRT). It
    lives in its write's ``index/``; the block's level sub-VRTs, beside it, are its
    ``<Overview>``s."""
    transform = plan.level_transform(factor)
    row_off, col_off = block.row_off // factor, block.col_off // factor
    height, width = _block_shape(plan, block, factor)
    root = _dataset(width, height, transform @ Affine.translation(col_off, row_off), crs)
    texts = {}
    for number, (band, (group, index)) in enumerate(zip(bands, band_order, strict=True), 1):
        element = _band(root, number, Band(dtype=band.dtype, nodata=band.nodata))
        if factor == 1:
            for level in plan.nested_levels():
                name = plan.block_filename(block, level).rsplit("/", 1)[-1]
                _overview(element, name, number)
        element.append(ET.Comment(f"{SOURCES_MARK} {number}"))
        texts[str(number)] = _sources(
            sources[group], group, index, specs[group], factor, _from_write_folder(plan),
            (block.row_off, block.col_off),
        )
    return _serialised(root, texts)


def mosaic_looks(vrt_text: str) -> tuple[dict[str, str], list[Band]]:
    """What a VRT shows of its data beyond the pixels: its metadata, and each band's
    description, unit, metadata and colours (in ``Band``s whose other fields are not
    read: their dtype is a placeholder)."""
    root = ET.fromstring(vrt_text)
    bands = []
    for element in root.iterfind("VRTRasterBand"):
        table = element.find("ColorTable")
        bands.append(Band(
            dtype=np.dtype("uint8"), nodata=None,
            description=element.findtext("Description"),
            unit=element.findtext("UnitType"),
            metadata=_items(element),
            color_interp=element.findtext("ColorInterp"),
            color_table=None if table is None else tuple(
                tuple(int(entry.get(f"c{i}", 255)) for i in range(1, 5))  # type: ignore[misc]
                for entry in table.iterfind("Entry")
            ),
        ))
    return _items(root), bands


def _items(element: ET.Element) -> dict[str, str]:
    """An element's metadata of the default domain."""
    return {
        str(item.get("key")): item.text or ""
        for metadata in element.iterfind("Metadata") if metadata.get("domain") is None
        for item in metadata.iterfind("MDI")
    }


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
    if band.color_interp is not None:
        sub(element, "ColorInterp", band.color_interp)
    if band.color_table is not None:
        table = sub(element, "ColorTable")
        for entry in band.color_table:
            sub(table, "Entry", **{f"c{i}": str(value) for i, value in enumerate(entry, 1)})
    _metadata(element, band.metadata)
    return element


def _overview(band: ET.Element, path: str, number: int) -> None:
    overview = sub(band, "Overview")
    sub(overview, "SourceFilename", path, relativeToVRT="1")
    sub(overview, "SourceBand", str(number))


def _sources(
    sources: Sequence[Source], group: int, index: int, spec: TileSpec, factor: int,
    path: Callable[[Tile, int, str], str], origin: tuple[int, int],
) -> str:
    """The ``SimpleSource`` elements of one band, as indented XML text: of the tiles, or
    of their overview of ``factor``, placed from ``origin`` (a block's first pixel).

    Written from a template rather than with ElementTree, whose serialiser costs tens of
    microseconds a source: a mosaic may have tens of thousands of them. Only the path
    holds text from outside (the VRT's name), and it is escaped.
    """
    data_type = gdal_typename(spec.dtype)
    open_options = ""
    if factor > 1:
        open_options = OVERVIEW_LEVEL.format(level=spec.overviews.index(factor))
    parts = []
    row0, col0 = origin
    for tile, write_id in sources:
        # A tile's overview has a pixel for every window, the last one cut by its edge.
        height, width = -(-tile.height // factor), -(-tile.width // factor)
        block_y, block_x = spec.internal_tile(height, width)
        parts.append(SOURCE_TEMPLATE.format(
            path=escape(path(tile, group, write_id)), open_options=open_options,
            band=index + 1, type=data_type, width=width, height=height, block_x=block_x,
            block_y=block_y, x=_scaled(tile.col_off - col0, factor),
            y=_scaled(tile.row_off - row0, factor),
        ))
    return "".join(parts)


def _block_sources(
    plan: TilePlan, blocks: Sequence[Placed], number: int, band: Band, factor: int
) -> str:
    """The ``SimpleSource`` elements of one band of a nested VRT: a sub-VRT a block,
    band ``number`` of each (a sub-VRT has the main VRT's bands)."""
    data_type = gdal_typename(band.dtype)
    parts = []
    for block, write_id in blocks:
        height, width = _block_shape(plan, block, factor)
        name = plan.block_filename(block, factor)
        # The main VRT is beside the tiles folder; a level's in its write's overviews/.
        path = (f"{plan.folder}/{write_id}/{name}" if factor == 1
                else f"../../{write_id}/{name}")
        parts.append(SOURCE_TEMPLATE.format(
            path=escape(path), open_options="", band=number, type=data_type, width=width,
            height=height, block_x=min(VRT_BLOCK, width), block_y=min(VRT_BLOCK, height),
            x=block.col_off // factor, y=block.row_off // factor,
        ))
    return "".join(parts)


def _in_band_order(
    blocks: Sequence[Placed], group: int, groups: int, plan: TilePlan, factor: int
) -> Sequence[Placed]:
    """The blocks as a band of the nested VRT lists them. Band groups' merged levels are
    files of their own, so the bands' overviews are different datasets; where every band
    lists the same sources in the same order, GDAL reads the VRT dataset-wide, takes one
    band's overview dataset for all bands and fails on the others' (GDAL 3.6 to 3.10). The
    bands of groups after the first list them in reverse (the blocks do not overlap: the
    same pixels), which keeps GDAL to band by band reads, as for a flat VRT. Not a
    ComplexSource: that reads through float64, which 64-bit integers do not survive."""
    if factor == 1 and groups > 1 and plan.merged and group > 0:
        return blocks[::-1]
    return blocks


def _block_shape(plan: TilePlan, block: Block, factor: int) -> tuple[int, int]:
    """A block's pixels on the level of ``factor``: it starts on one (``nested_levels``)
    and ends on one or at the raster's edge."""
    return (-(-(block.row_off + block.height) // factor) - block.row_off // factor,
            -(-(block.col_off + block.width) // factor) - block.col_off // factor)


def _from_write_folder(plan: TilePlan) -> Callable[[Tile, int, str], str]:
    """A tile's path from a folder inside a write's folder (``overviews/``, ``index/``)."""
    return lambda tile, group, write_id: f"../../{write_id}/{plan.filename(tile, group)}"


def _dataset(width: int, height: int, transform: Affine, crs: CRS | None) -> ET.Element:
    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    if crs is not None:
        sub(root, "SRS", crs.to_wkt())
    sub(root, "GeoTransform", ", ".join(repr(float(v)) for v in transform.to_gdal()))
    return root


def _serialised(root: ET.Element, texts: Mapping[str, str]) -> str:
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode") + "\n"
    return SOURCES_LINE.sub(lambda match: texts[match[1]], text)


def _scaled(offset: int, factor: int) -> str:
    """A tile's offset on an overview level: fractional where the tile does not start on
    a window, and GDAL then resamples its overview onto the level's grid."""
    return str(offset // factor) if offset % factor == 0 else repr(offset / factor)


def _metadata(parent: ET.Element, items: Mapping[str, str], **domain: str) -> None:
    if items:
        element = sub(parent, "Metadata", **domain)
        for key, value in items.items():
            sub(element, "MDI", value, key=key)


def _number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value) if isinstance(value, float) else str(value)
