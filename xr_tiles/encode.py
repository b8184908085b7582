"""Encode one block as a standalone, internally tiled GeoTIFF, in memory; pure.

With overviews, the file holds one page per level, laid out Cloud Optimized.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tifffile
from affine import Affine
from tifffile import COMPRESSION, PHOTOMETRIC, PLANARCONFIG

from .geotags import GDAL_NODATA, GeoTags
from .options import TILE_MULTIPLE
from .overviews import overview_levels
from .template import (
    HeaderTemplate,
    cloud_optimized,
    encode_segment,
    header_template,
    is_plain,
    tile_segments,
)

# tifffile's own rule for switching to BigTIFF (its imwrite), for files of several pages.
BIGTIFF_FROM = 2**32 - 2**25


@dataclass(frozen=True, kw_only=True)
class TileSpec:
    """How every tile of one band group is encoded; the same for all its tiles."""

    dtype: np.dtype
    band_count: int
    compression: COMPRESSION | None
    compressionargs: dict[str, Any]
    predictor: int
    blocksize: int
    nodata: float | None
    rgb: bool  # jpeg/webp store pixel-interleaved RGB(A)
    geotags: GeoTags
    skip_empty: bool = False
    overviews: tuple[int, ...] = ()  # factors, ascending powers of two
    resampling: str = "nearest"
    lossless: bool = True  # decoding a tile gives its pixels back exactly
    # NaN marks what nodata is (decoded data, an explicit nodata): stored as nodata. Raw
    # data's NaN with another nodata are values, kept as GDAL reads them.
    nan_is_nodata: bool = True

    def internal_tile(self, height: int, width: int) -> tuple[int, int]:
        """``blocksize``, or the smallest multiple of 16 covering a smaller block."""
        return (
            min(self.blocksize, _round_up(height, TILE_MULTIPLE)),
            min(self.blocksize, _round_up(width, TILE_MULTIPLE)),
        )


def encode_tile(
    blocks: Sequence[Any], spec: TileSpec, transform: Affine,
    template: HeaderTemplate | None = None,
) -> bytes | None:
    """Return the GeoTIFF bytes of one block (all bands of the group, stacked); None for
    a block of nodata only when ``spec.skip_empty``.

    With the ``template`` of this block's shape (``tile_template``), only the segments
    are encoded and the header is filled in; the bytes are those tifffile would write
    (laid out Cloud Optimized where there are overviews).
    """
    encoded = encode_with_levels(blocks, spec, transform, template)
    return None if encoded is None else encoded.data


@dataclass(frozen=True)
class EncodedTile:
    """A tile's file, and its overview levels (pixels), one per ``spec.overviews``."""

    data: bytes
    levels: Sequence[np.ndarray]


def encode_with_levels(
    blocks: Sequence[Any], spec: TileSpec, transform: Affine,
    template: HeaderTemplate | None = None,
) -> EncodedTile | None:
    """``encode_tile``, keeping the overview levels (for the whole raster's small ones)."""
    pixels = _stored_pixels(blocks, spec)
    if spec.skip_empty and _nodata_only(pixels, spec.nodata):
        return None
    levels = [pixels, *overview_levels(pixels, spec.overviews, spec.resampling, spec.nodata)]
    return EncodedTile(_encoded_levels(levels, spec, transform, template), levels[1:])


def decoded_pages(data: bytes, pages: Sequence[int], spec: TileSpec) -> list[np.ndarray]:
    """Pages of a GeoTIFF xr_tiles wrote (0: full resolution, ``i``: the ``i``-th level),
    decoded by tifffile, as (band, y, x) pixels."""
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        decoded = [tiff.pages[index].asarray(maxworkers=1) for index in pages]
    if spec.rgb:
        return [np.moveaxis(pixels, -1, 0) for pixels in decoded]
    return [pixels[np.newaxis] if pixels.ndim == 2 else pixels for pixels in decoded]


def level_tiff(pixels: np.ndarray, spec: TileSpec, transform: Affine, geotags: GeoTags) -> bytes:
    """One overview level of the whole raster as a GeoTIFF of its own, georeferenced at
    its own resolution (``geotags``), encoded as the tiles are."""
    level_spec = dataclasses.replace(spec, overviews=(), skip_empty=False, geotags=geotags)
    return _written_by_tifffile([pixels], level_spec, transform)


def _encoded_levels(
    levels: Sequence[np.ndarray], spec: TileSpec, transform: Affine,
    template: HeaderTemplate | None,
) -> bytes:
    if template is not None:
        encode = functools.partial(
            encode_segment, compression=spec.compression, predictor=spec.predictor,
            compressionargs=spec.compressionargs,
        )
        pages = [
            tile_segments(level, spec.internal_tile(*level.shape[-2:]), encode)
            for level in levels
        ]
        try:
            return template.fill(pages, transform)
        except struct.error:  # offsets past 4 GiB: tifffile switches to BigTIFF
            pass
    written = _written_by_tifffile(levels, spec, transform)
    return cloud_optimized(written, spec.geotags) if spec.overviews else written


def tile_template(spec: TileSpec, height: int, width: int) -> HeaderTemplate | None:
    """The header template of ``spec``'s tiles of this shape; None where tifffile must
    write every tile itself (codecs that are not plain, see ``template``)."""
    if not is_plain(spec.compression):
        return None
    shapes = [(height, width)] + [(-(-height // f), -(-width // f)) for f in spec.overviews]
    zeros = [np.zeros((spec.band_count, *shape), spec.dtype) for shape in shapes]
    return header_template(_written_by_tifffile(zeros, spec, Affine.identity()), spec.geotags)


def _written_by_tifffile(
    levels: Sequence[np.ndarray], spec: TileSpec, transform: Affine
) -> bytes:
    """(band, y, x) pixels in the stored dtype, and their overviews, as one GeoTIFF
    written by tifffile: one page per level. Overview pages carry the nodata tag, as
    GDAL's do, but not the georeferencing."""
    nodata_tags = [tag for tag in spec.geotags.shared if tag[0] == GDAL_NODATA]
    bigtiff = sum(level.nbytes for level in levels) > BIGTIFF_FROM
    buffer = io.BytesIO()
    with tifffile.TiffWriter(buffer, bigtiff=bigtiff) as writer:
        for index, level in enumerate(levels):
            if index == 0:
                _write_page(writer, level, spec, spec.geotags.for_tile(transform))
            else:
                _write_page(writer, level, spec, nodata_tags, subfiletype=1)
    return buffer.getvalue()


def _write_page(
    writer: tifffile.TiffWriter, pixels: np.ndarray, spec: TileSpec, extratags: list[Any],
    **page: Any,
) -> None:
    height, width = pixels.shape[-2:]
    layout: dict[str, Any]
    # tifffile's enums rather than their names: it converts names by catching exceptions.
    if spec.rgb:
        pixels = np.moveaxis(pixels, 0, -1)
        layout = {"photometric": PHOTOMETRIC.RGB, "planarconfig": PLANARCONFIG.CONTIG}
        if spec.band_count == 4:
            layout["extrasamples"] = ("unassalpha",)
    elif spec.band_count == 1:
        pixels = pixels[0]
        layout = {"photometric": PHOTOMETRIC.MINISBLACK}
    else:
        layout = {"photometric": PHOTOMETRIC.MINISBLACK, "planarconfig": PLANARCONFIG.SEPARATE}
    writer.write(
        pixels,
        tile=spec.internal_tile(height, width),
        compression=spec.compression,
        compressionargs=spec.compressionargs,
        predictor=spec.predictor if spec.predictor != 1 else None,
        extratags=extratags,
        metadata=None,
        software=False,
        maxworkers=1,  # tiles are written in parallel by dask: no threads within a tile
        **layout,
        **page,
    )


def _stored_pixels(blocks: Sequence[Any], spec: TileSpec) -> np.ndarray:
    """Host memory, (band, y, x), in the stored dtype, NaN replaced by a numeric nodata
    where NaN marks nodata."""
    planes = [_on_host(block) for block in blocks]
    planes = [plane[np.newaxis] if plane.ndim == 2 else plane for plane in planes]
    pixels = planes[0] if len(planes) == 1 else np.concatenate(planes)
    if pixels.dtype != spec.dtype:
        pixels = pixels.view(np.uint8) if pixels.dtype == bool else pixels.astype(spec.dtype)
    nodata = spec.nodata
    if spec.dtype.kind == "f" and spec.nan_is_nodata and nodata is not None and not np.isnan(nodata):
        missing = np.isnan(pixels)
        if missing.any():
            pixels = np.where(missing, spec.dtype.type(spec.nodata), pixels)
    return pixels


def _nodata_only(pixels: np.ndarray, nodata: float | None) -> bool:
    """Stored pixels (NaN already replaced by a numeric nodata) that are all nodata."""
    if nodata is None:
        return False
    if np.isnan(nodata):
        return bool(np.isnan(pixels).all())
    return bool((pixels == pixels.dtype.type(nodata)).all())


def _on_host(block: Any) -> np.ndarray:
    """cupy blocks come to host one at a time, never the whole array."""
    if hasattr(block, "get") and not isinstance(block, np.ndarray):
        return block.get()  # type: ignore[no-any-return]
    return np.asarray(block)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
