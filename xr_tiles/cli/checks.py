"""What ``xr-tiles validate`` checks: every file a VRT names is there, whole, GDAL reads
it as the VRT says, where the VRT puts it, and tiles with overviews are valid COGs."""

from __future__ import annotations

import math
import os
import pathlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rio_cogeo.cogeo import cog_validate

from .. import state
from ..store.layout import sidecars
from .options import one_line
from .sources import Source, overview_factors, published, sources

Key = tuple[pathlib.Path, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Raster:
    """What GDAL reads of a file, kept once it is closed (a mosaic may have 100,000)."""

    width: int
    height: int
    dtypes: tuple[str, ...]
    nodatavals: tuple[float | None, ...]
    transform: Affine
    crs: CRS | None
    overviews: bool  # internal overviews of its first band

    @property
    def count(self) -> int:
        return len(self.dtypes)


class Checker:
    """The problems of one VRT and of the VRTs it names, each file read once."""

    def __init__(self, top: pathlib.Path) -> None:
        self.top = top
        self.opened: dict[Key, Raster] = {}
        self.problems: dict[Key, str] = {}  # files that cannot be opened or read
        self.visited: set[pathlib.Path] = set()

    def shown(self, path: pathlib.Path) -> str:
        """``path`` as a user finds it: relative to the top VRT's folder."""
        return os.path.relpath(path, self.top.parent)

    def open(self, source: Source) -> tuple[Raster | None, str | None]:
        """The dataset of ``source`` (opened and read once), or the problem with it."""
        key: Key = (source.path, tuple(sorted(source.open_options.items())))
        if key not in self.opened and key not in self.problems:
            try:
                self.opened[key] = self._read(source)
            except FileNotFoundError:
                self.problems[key] = f"{self.shown(source.path)}: missing"
            except RasterioError as error:
                reason = one_line(error.__cause__ or error)  # GDAL's own message, if chained
                self.problems[key] = f"{self.shown(source.path)}: GDAL cannot read it: {reason}"
        if key in self.problems:
            return None, self.problems[key]
        return self.opened[key], None

    def _read(self, source: Source) -> Raster:
        if not source.path.exists():
            raise FileNotFoundError(source.path)
        with rasterio.open(source.path, **source.open_options) as dataset:
            if source.path.suffix.lower() != ".vrt":  # a VRT's sources are checked one by one
                for band in dataset.indexes:  # every block decodes: nothing cut short or corrupt
                    dataset.read(band)
            return Raster(
                width=dataset.width, height=dataset.height, dtypes=tuple(dataset.dtypes),
                nodatavals=tuple(dataset.nodatavals), transform=dataset.transform,
                crs=dataset.crs, overviews=bool(overview_factors(dataset)),
            )

    def check(self, vrt: pathlib.Path) -> Iterator[str]:
        """Problems of ``vrt``, then of the VRTs it names."""
        if vrt in self.visited:
            return
        self.visited.add(vrt)
        mosaic, problem = self.open(Source(vrt, str(vrt), 0, 0, overview=False))
        if mosaic is None:
            yield str(problem)
            return
        listed = sources(vrt)
        recorded = vrt == self.top and _recorded(vrt)
        if recorded:
            yield from _state_problems(vrt)
            yield from _sidecar_problems(vrt)
        for source in listed:
            yield from self._source_problems(mosaic, source)
        if recorded:
            yield from self._band_counts(listed)
        for path in dict.fromkeys(source.path for source in listed):
            if path.suffix.lower() == ".vrt":
                yield from self.check(path)
            else:
                yield from self._cog_problems(path)

    def _source_problems(self, mosaic: Raster, source: Source) -> Iterator[str]:
        tile, problem = self.open(source)
        if tile is None:
            yield str(problem)
            return
        name = self.shown(source.path)
        if source.source_band > tile.count:
            yield f"{name}: has {tile.count} bands, the VRT reads band {source.source_band}"
            return
        where = f"{name} (band {source.source_band}, for VRT band {source.band})"
        dtype, nodata = tile.dtypes[source.source_band - 1], tile.nodatavals[source.source_band - 1]
        expected_dtype = mosaic.dtypes[source.band - 1]
        expected_nodata = mosaic.nodatavals[source.band - 1]
        if dtype != expected_dtype:
            yield f"{where}: dtype {dtype}, the VRT's is {expected_dtype}"
        if expected_nodata is not None and not _same(nodata, expected_nodata):
            yield f"{where}: nodata {nodata}, the VRT's is {expected_nodata}"
        if not source.overview:
            yield from _placement_problems(mosaic, tile, source, name)

    def _band_counts(self, listed: list[Source]) -> Iterator[str]:
        """An xr_tiles tile holds the bands the VRT reads from it, and no others."""
        read: dict[pathlib.Path, set[int]] = {}
        for source in listed:
            read.setdefault(source.path, set()).add(source.source_band)
        for path, bands in read.items():
            tile, _ = self.open(Source(path, str(path), 0, 0, overview=False))
            if tile is not None and tile.count != len(bands):
                yield f"{self.shown(path)}: has {tile.count} bands, the VRT reads {len(bands)}"

    def _cog_problems(self, path: pathlib.Path) -> Iterator[str]:
        """A tile with internal overviews must be a Cloud Optimized GeoTIFF."""
        tile, _ = self.open(Source(path, str(path), 0, 0, overview=False))
        if tile is None or not tile.overviews:
            return
        valid, errors, _ = cog_validate(path, quiet=True)
        if not valid:
            yield f"{self.shown(path)}: not a valid COG: {one_line('; '.join(errors))}"


def problems(vrt: pathlib.Path) -> list[str]:
    """Every problem found in ``vrt`` and the files it names, one line each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return list(dict.fromkeys(Checker(vrt).check(vrt)))  # each once


def _recorded(vrt: pathlib.Path) -> bool:
    """Whether xr_tiles wrote ``vrt`` (it holds xr_tiles' record of itself)."""
    return f'<Metadata domain="{state.STATE_DOMAIN}">' in vrt.read_text(encoding="utf-8")


def _state_problems(vrt: pathlib.Path) -> Iterator[str]:
    """An xr_tiles VRT names only its own tiles, as its record says."""
    try:
        published(vrt)
    except state.ForeignVrtError as error:
        yield f"{vrt.name}: its xr_tiles record does not fit: {one_line(error)}"


def _sidecar_problems(vrt: pathlib.Path) -> Iterator[str]:
    """GDAL's sidecars beside the mosaic, which xr_tiles did not write: GDAL serves them
    with it (a .ovr's pyramids before the mosaic's own levels), and the next write
    deletes them."""
    for name in sidecars(f"{vrt.stem}_tiles"):
        if (vrt.parent / name).exists():
            yield (f"{name}: a sidecar xr_tiles did not write (gdaladdo's or a GIS's), which "
                   "GDAL reads with the mosaic and the next write deletes; make overviews "
                   "with --overviews instead")


def _placement_problems(
    mosaic: Raster, tile: Raster, source: Source, name: str
) -> Iterator[str]:
    """The tile's size and georeferencing put its pixels where the VRT does."""
    if source.size is not None and source.size != (tile.width, tile.height):
        yield (f"{name}: {tile.width} x {tile.height} pixels, the VRT says "
               f"{source.size[0]} x {source.size[1]}")
    src, dst = source.src, source.dst
    if src is None or dst is None:
        return
    if src.x + src.width > tile.width or src.y + src.height > tile.height:
        yield f"{name}: {tile.width} x {tile.height} pixels, smaller than the VRT's SrcRect"
    if dst.x + dst.width > mosaic.width or dst.y + dst.height > mosaic.height:
        yield f"{name}: its DstRect reaches beyond the VRT's {mosaic.width} x {mosaic.height}"
    georeferenced = tile.crs is not None or tile.transform != Affine.identity()
    if not georeferenced or (src.width, src.height) != (dst.width, dst.height):
        return
    expected = mosaic.transform * Affine.translation(dst.x - src.x, dst.y - src.y)
    scale = max(abs(mosaic.transform.a), abs(mosaic.transform.e), 1e-300)
    if not all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6 * scale)
        for a, b in zip(tile.transform[:6], expected[:6], strict=True)
    ):
        yield (f"{name}: its geotransform is {tuple(tile.transform.to_gdal())}, the VRT "
               f"puts it at {tuple(expected.to_gdal())}")
    if tile.crs is not None and mosaic.crs is not None and tile.crs != mosaic.crs:
        yield f"{name}: CRS {tile.crs.to_string()}, the VRT's is {mosaic.crs.to_string()}"


def _same(value: float | None, expected: float) -> bool:
    if value is None:
        return False
    return value == expected or (math.isnan(value) and math.isnan(expected))
