"""What a VRT names: its sources and overviews, read from its XML (GDAL keeps them to itself)."""

from __future__ import annotations

import os
import pathlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from rasterio.errors import RasterioError

from .. import state
from .options import InputError


@dataclass(frozen=True)
class Rect:
    """A ``SrcRect`` or ``DstRect``: pixel offsets and sizes."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Source:
    """One band of one file that a VRT band reads (a source), or one of its overviews."""

    path: pathlib.Path
    name: str  # as the VRT writes it
    band: int  # the VRT's band, from 1
    source_band: int
    overview: bool
    src: Rect | None = None
    dst: Rect | None = None
    size: tuple[int, int] | None = None  # SourceProperties: width, height
    open_options: dict[str, str] = field(default_factory=dict)


def sources(vrt: pathlib.Path) -> list[Source]:
    """Every source and overview of every band of ``vrt``, in the order it lists them."""
    try:
        root = ET.parse(vrt).getroot()
    except ET.ParseError as error:
        raise InputError(f"{vrt} is not a VRT (GDAL's XML: {error})") from None
    found = []
    for band in root.iter("VRTRasterBand"):
        number = int(band.get("band", "0"))
        for element in band:
            filename = element.find("SourceFilename")
            if filename is None or not filename.text:
                continue
            found.append(_source(vrt, element, filename, number))
    return found


def published(vrt: pathlib.Path) -> state.Published:
    """What an xr_tiles VRT on disk says of itself, its sub-VRTs read beside it; raises
    ``state.ForeignVrtError`` for another VRT."""
    root = f"{vrt.stem}_tiles"
    folder = vrt.parent / root
    return state.published(vrt.read_text(encoding="utf-8"), root,
                           lambda write_id, name: (folder / write_id / name).read_bytes())


def overview_factors(dataset: Any) -> list[int]:
    """The first band's overview factors; none where GDAL cannot size them (a level's
    file is missing: ``validate`` reports it as such)."""
    if not dataset.count:
        return []
    try:
        return list(dataset.overviews(1))
    except (ZeroDivisionError, RasterioError):
        return []


def _source(vrt: pathlib.Path, element: ET.Element, filename: ET.Element, band: int) -> Source:
    name = str(filename.text)
    relative = filename.get("relativeToVRT") == "1"
    path = pathlib.Path(os.path.normpath(vrt.parent / name)) if relative else pathlib.Path(name)
    properties = element.find("SourceProperties")
    size = None
    if properties is not None and properties.get("RasterXSize"):
        size = (int(properties.get("RasterXSize", 0)), int(properties.get("RasterYSize", 0)))
    return Source(
        path=path,
        name=name,
        band=band,
        source_band=int(element.findtext("SourceBand", "1").removeprefix("mask,") or 1),
        overview=element.tag == "Overview",
        src=_rect(element.find("SrcRect")),
        dst=_rect(element.find("DstRect")),
        size=size,
        open_options={
            str(item.get("key")): item.text or "" for item in element.iterfind("OpenOptions/OOI")
        },
    )


def _rect(element: ET.Element | None) -> Rect | None:
    if element is None:
        return None
    return Rect(*(float(element.get(key, 0)) for key in ("xOff", "yOff", "xSize", "ySize")))


def referenced_files(vrt: pathlib.Path) -> set[pathlib.Path]:
    """The files ``vrt`` names, and those the VRTs it names name, recursively."""
    found: set[pathlib.Path] = set()
    pending = [vrt]
    while pending:
        current = pending.pop()
        for source in sources(current):
            if source.path in found:
                continue
            found.add(source.path)
            if source.path.suffix.lower() == ".vrt" and source.path.is_file():
                pending.append(source.path)
    return found
