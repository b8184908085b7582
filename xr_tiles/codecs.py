"""The codec table: how each user-facing codec name maps onto a GeoTIFF compression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tifffile import COMPRESSION

INTEGER_KINDS = frozenset("iu")


@dataclass(frozen=True, kw_only=True)
class Codec:
    """What one compression can hold and which TIFF compression it is."""

    name: str
    compression: COMPRESSION | None
    level_range: tuple[float, float] | None = None
    default_level: float | None = None  # None: the codec has no level, or none is passed
    level_is_float: bool = False
    dtypes: frozenset[str] | None = None
    band_counts: frozenset[int] | None = None
    takes_predictor: bool = False
    lossless: bool = True
    lossy_levels: bool = False  # a level other than 0 makes it lossy (WebP quality, LERC error)

    def is_lossless(self, level: float | None) -> bool:
        """Whether decoding gives back the pixels exactly, at ``level``."""
        return self.lossless and not (self.lossy_levels and level)

    def accepts_dtype(self, dtype: np.dtype) -> bool:
        return self.dtypes is None or dtype.name in self.dtypes

    def accepts_band_count(self, count: int) -> bool:
        return self.band_counts is None or count in self.band_counts

    def default_predictor(self, dtype: np.dtype) -> int:
        """TIFF predictor GDAL users pick by hand: 2 for integers, 3 for floats."""
        if not self.takes_predictor:
            return 1
        return 2 if dtype.kind in INTEGER_KINDS else 3


_LERC_DTYPES = frozenset(
    {"int8", "uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"}
)

CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec(name="none", compression=None),
        # GDAL's defaults, but for zstd: GDAL's 9 costs about five times the time of
        # zstd's own default, 3, for a file about 2% smaller.
        Codec(
            name="deflate", compression=COMPRESSION.ADOBE_DEFLATE, level_range=(1, 9), default_level=6,
            takes_predictor=True,
        ),
        Codec(
            name="zstd", compression=COMPRESSION.ZSTD, level_range=(1, 22), default_level=3,
            takes_predictor=True,
        ),
        Codec(name="lzw", compression=COMPRESSION.LZW, takes_predictor=True),
        Codec(
            name="lzma", compression=COMPRESSION.LZMA, level_range=(0, 9), default_level=6,
            takes_predictor=True,
        ),
        Codec(name="packbits", compression=COMPRESSION.PACKBITS),
        # LERC's "level" is its maximum error per pixel: 0 keeps it lossless.
        Codec(
            name="lerc", compression=COMPRESSION.LERC, level_range=(0, float("inf")),
            level_is_float=True, dtypes=_LERC_DTYPES, lossy_levels=True,
        ),
        Codec(
            name="jpeg", compression=COMPRESSION.JPEG, level_range=(1, 100), default_level=75,
            dtypes=frozenset({"uint8"}), band_counts=frozenset({1, 3}), lossless=False,
        ),
        # WebP without a level is lossless; a level is the lossy quality.
        Codec(
            name="webp", compression=COMPRESSION.WEBP, level_range=(1, 100), dtypes=frozenset({"uint8"}),
            band_counts=frozenset({3, 4}), lossy_levels=True,
        ),
    )
}
