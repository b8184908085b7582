"""The Cloud Optimized layout of a tile with overviews: every IFD first, then the data.

tifffile writes each page (full resolution, then each overview) as its IFD followed by
its data. A Cloud Optimized GeoTIFF, as GDAL's COG driver writes it and rio-cogeo checks
it, keeps all IFDs together at the start, so that one small read gives a client the whole
structure, and stores the data of the smallest overview first and the full resolution
last. This module moves tifffile's IFDs, their tags unchanged, into that order; tifffile
cannot write it, and GDAL's COG driver would encode every tile a second time.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import cast

import tifffile
from tifffile import TIFF

TILE_OFFSETS = 324
TILE_BYTE_COUNTS = 325


@dataclass(frozen=True)
class Slot:
    """Where a tag's values sit in the header, and how they are packed."""

    offset: int
    format: str  # struct format of all values, byte order included


@dataclass(frozen=True)
class TiffLayout:
    """Sizes and struct formats of classic TIFF or BigTIFF."""

    header_size: int
    count_format: str  # the number of tags of an IFD
    value_format: str  # a tag's count, an offset
    entry_size: int

    @property
    def value_size(self) -> int:
        return struct.calcsize(self.value_format)


CLASSIC = TiffLayout(header_size=8, count_format="H", value_format="I", entry_size=12)
BIG = TiffLayout(header_size=16, count_format="Q", value_format="Q", entry_size=20)


def cog_header(tiff: bytes) -> tuple[bytes, list[dict[int, Slot]]]:
    """The file header and the IFDs of every page of ``tiff``, back to back in page
    order, each followed by its tags' values; and, per page, where each tag's values sit.

    The data offsets are left as they were: the caller packs in the new ones.
    """
    with tifffile.TiffFile(io.BytesIO(tiff)) as parsed:
        layout = BIG if parsed.is_bigtiff else CLASSIC
        order = parsed.byteorder
        # Pages, not frames: tifffile reads frames only when asked (useframes).
        pages = [list(cast(tifffile.TiffPage, page).tags.values()) for page in parsed.pages]
    header = bytearray(tiff[: layout.header_size])
    struct.pack_into(
        order + layout.value_format, header, layout.header_size - layout.value_size,
        layout.header_size,
    )
    slots = []
    for index, tags in enumerate(pages):
        last = index == len(pages) - 1
        ifd, page_slots = _ifd(tiff, tags, len(header), layout, order, last=last)
        header += ifd
        slots.append(page_slots)
    return bytes(header), slots


def _ifd(
    tiff: bytes, tags: list[tifffile.TiffTag], start: int, layout: TiffLayout, order: str,
    *, last: bool,
) -> tuple[bytes, dict[int, Slot]]:
    """One IFD placed at ``start``, its values that do not fit in an entry right after
    it; the next IFD follows (none after the ``last``)."""
    entries_start = start + struct.calcsize(layout.count_format)
    values_start = entries_start + len(tags) * layout.entry_size + layout.value_size
    entries, values, slots = bytearray(), bytearray(), {}
    for tag in tags:
        item_format = TIFF.DATA_FORMATS[tag.dtype]
        raw = tiff[tag.valueoffset : tag.valueoffset + tag.count * struct.calcsize(item_format)]
        if len(raw) <= layout.value_size:
            position = entries_start + len(entries) + layout.entry_size - layout.value_size
            field = raw.ljust(layout.value_size, b"\0")
        else:
            position = values_start + len(values)
            field = struct.pack(order + layout.value_format, position)
            values += raw + b"\0" * (len(raw) % 2)  # values start on a word boundary
        entries += struct.pack(f"{order}HH{layout.value_format}", tag.code, tag.dtype, tag.count)
        entries += field
        slots[tag.code] = Slot(position, f"{order}{tag.count}{item_format[-1]}")
    next_ifd = 0 if last else values_start + len(values)
    ifd = b"".join((
        struct.pack(order + layout.count_format, len(tags)),
        entries,
        struct.pack(order + layout.value_format, next_ifd),
        values,
    ))
    return ifd, slots


def page_segments(tiff: bytes) -> list[list[bytes]]:
    """The encoded segments of every page of ``tiff``, in page order."""
    with tifffile.TiffFile(io.BytesIO(tiff)) as parsed:
        return [
            [tiff[offset : offset + count]
             for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True)]
            for page in parsed.pages
        ]
