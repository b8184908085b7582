"""A tile's TIFF header, laid out once by tifffile; per tile only numbers change.

tifffile spends about a hundred microseconds of Python, under the GIL, building the tags
of every file it writes; with thousands of small tiles that, not the codec, bounds the
speed. Tiles of one shape and spec differ only in their compressed segments, the
segments' offsets and byte counts, and the origin tag. So tifffile writes one tile of
each shape (all zeros) as a template; each real tile reuses that header, with those
values packed in, and its segments encoded by the functions tifffile itself calls.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
import tifffile
from affine import Affine
from tifffile import COMPRESSION, TIFF

from .cog import TILE_BYTE_COUNTS, TILE_OFFSETS, Slot, cog_header, page_segments
from .geotags import GeoTags

# Codecs whose segments are a plain function of the tile's pixels; JPEG, WebP and LERC
# (tables, colour layout, per-tile parameters) stay with tifffile.
PLAIN_COMPRESSIONS = frozenset(
    {None, COMPRESSION.LZW, COMPRESSION.ADOBE_DEFLATE, COMPRESSION.LZMA, COMPRESSION.ZSTD}
)


@dataclass(frozen=True)
class HeaderTemplate:
    """The header of every tile of one shape; ``fill`` completes it for one tile."""

    header: bytes
    offsets: tuple[Slot, ...]  # one per page: the full resolution, then each overview
    byte_counts: tuple[Slot, ...]
    origin: Slot | None
    geotags: GeoTags

    def fill(self, pages: Sequence[Sequence[bytes]], transform: Affine) -> bytes:
        """The whole file: header with this tile's values, then the segments of each
        page, the last page's first (a single page's right after its header)."""
        header = bytearray(self.header)
        position = len(header)
        for page in reversed(range(len(pages))):
            sizes = [len(segment) for segment in pages[page]]
            offsets = list(accumulate(sizes[:-1], initial=position))
            position += sum(sizes)
            struct.pack_into(self.offsets[page].format, header, self.offsets[page].offset, *offsets)
            counts = self.byte_counts[page]
            struct.pack_into(counts.format, header, counts.offset, *sizes)
        if self.origin is not None:
            values = self.geotags.origin_values(transform)
            struct.pack_into(self.origin.format, header, self.origin.offset, *values)
        return b"".join((header, *(segment for page in reversed(pages) for segment in page)))


def header_template(tiff: bytes, geotags: GeoTags) -> HeaderTemplate | None:
    """The template of a tile tifffile wrote as ``tiff``. A single page keeps tifffile's
    layout, and has no template unless its header comes first and its segments follow
    back to back to the end of the file; several pages are laid out Cloud Optimized."""
    with tifffile.TiffFile(io.BytesIO(tiff)) as parsed:
        if len(parsed.pages) > 1:
            header, slots = cog_header(tiff)
            return _template(header, slots, geotags, with_origin=True)
        page = parsed.pages.first
        tags = page.tags
        offsets, counts = page.dataoffsets, page.databytecounts
        start = offsets[0]
        ends = [offset + count for offset, count in zip(offsets, counts, strict=True)]
        if any(end != offset for end, offset in zip(ends, offsets[1:], strict=False)):
            return None
        if ends[-1] != len(tiff) or any(tag.valueoffset >= start for tag in tags.values()):
            return None
        order = parsed.byteorder
        slots = [{
            tag.code: Slot(tag.valueoffset, f"{order}{tag.count}{TIFF.DATA_FORMATS[tag.dtype][-1]}")
            for tag in tags.values()
        }]
    return _template(tiff[:start], slots, geotags, with_origin=True)


def cloud_optimized(tiff: bytes, geotags: GeoTags) -> bytes:
    """``tiff``, a tile with overviews as tifffile wrote it, laid out Cloud Optimized."""
    header, slots = cog_header(tiff)
    # The origin is already the tile's own: only the data offsets change.
    template = _template(header, slots, geotags, with_origin=False)
    return template.fill(page_segments(tiff), Affine.identity())


def _template(
    header: bytes, slots: list[dict[int, Slot]], geotags: GeoTags, *, with_origin: bool
) -> HeaderTemplate:
    origin = None
    if with_origin and geotags.origin is not None:
        origin = slots[0][geotags.origin]
    return HeaderTemplate(
        header,
        tuple(page[TILE_OFFSETS] for page in slots),
        tuple(page[TILE_BYTE_COUNTS] for page in slots),
        origin,
        geotags,
    )


def is_plain(compression: int | None) -> bool:
    """Whether a tile's segments are a plain function of its pixels (see above)."""
    return compression in PLAIN_COMPRESSIONS


def encode_segment(
    tile: np.ndarray, compression: int | None, predictor: int, compressionargs: dict[str, Any]
) -> bytes:
    """What tifffile does to one (rows, columns, samples) tile of a plain codec."""
    if compression is None:
        return tile.tobytes()
    if predictor != 1:
        # axis -2: along each row, as tifffile predicts a (rows, columns, samples) tile
        tile = TIFF.PREDICTORS[predictor](tile, axis=-2)
    return TIFF.COMPRESSORS[compression](tile, **compressionargs)  # type: ignore[no-any-return]


def tile_segments(
    planes: np.ndarray, tile_shape: tuple[int, int], encode: Callable[[np.ndarray], bytes]
) -> list[bytes]:
    """Encoded segments of (band, rows, columns) pixels, band by band, tiles in row
    order, edge tiles padded with zeros: tifffile's order for planar images."""
    tile_rows, tile_cols = tile_shape
    # As tifffile does: broadcast or transposed blocks (da.ones, .T) become plain arrays.
    planes = np.ascontiguousarray(planes)
    _, height, width = planes.shape
    segments = []
    for plane in planes:
        for top in range(0, height, tile_rows):
            for left in range(0, width, tile_cols):
                tile = plane[top : top + tile_rows, left : left + tile_cols]
                if tile.shape != tile_shape:
                    padded = np.zeros(tile_shape, plane.dtype)
                    padded[: tile.shape[0], : tile.shape[1]] = tile
                    tile = padded
                segments.append(encode(tile[..., np.newaxis]))
    return segments
