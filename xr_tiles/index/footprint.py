"""Where a tile is on the Earth: its outline in WGS84 (a GeoJSON geometry and bbox, as STAC
items give them), traced from its pixel edges through PROJ, and its bounds in its CRS."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pyproj
from affine import Affine
from rasterio.crs import CRS

from ..errors import UnsupportedInputError

WGS84 = pyproj.CRS.from_epsg(4326)
SEGMENTS = 16  # points an edge of a tile is sampled at (a power of two), before simplifying
TOLERANCE = 0.01  # pixels a footprint may stray from the true outline where it skips points
DIGITS = 7  # decimals of a footprint's degrees (about a centimetre)


def crs_bounds(transform: Affine, height: int, width: int) -> list[float]:
    """The pixels' [xmin, ymin, xmax, ymax] in their CRS."""
    a, b, c, d, e, f = transform[:6]
    xs = (c, c + a * width, c + b * height, c + a * width + b * height)
    ys = (f, f + d * width, f + e * height, f + d * width + e * height)
    return [min(xs), min(ys), max(xs), max(ys)]


def footprint(
    transform: Affine, height: int, width: int, crs: CRS | str, segments: int = SEGMENTS,
) -> tuple[dict[str, Any], list[float]]:
    """The GeoJSON geometry and bbox, in longitude and latitude (WGS 84), of ``height``
    by ``width`` pixels at ``transform`` in ``crs`` (or its WKT or code: quicker): their
    outline, sampled along each edge and kept where it bends, counterclockwise, cut at
    the antimeridian (RFC 7946, 3.1.9) or closed over the pole it goes around."""
    lon, lat = _lonlat(transform, height, width, crs, segments)
    lon, lat = _simplified(lon, lat, segments, height, width)
    turns = round((lon[-1] - lon[0]) / 360)
    if turns:
        way = 1 if turns > 0 else -1  # eastward
        return _around_pole(lon[::way], lat[::way])
    lon = lon - 360 * math.floor((lon.min() + 180) / 360)
    west, south, east, north = lon.min(), lat.min(), lon.max(), lat.max()
    if east <= 180:
        geometry = {"type": "Polygon", "coordinates": [_ring(lon, lat)]}
        return geometry, _bbox(west, south, east, north)
    if east - west >= 360:  # all the way round (0..360 longitudes): the whole band
        ring = [[-180.0, south], [180.0, south], [180.0, north], [-180.0, north]]
        geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        return geometry, _bbox(-180, south, 180, north)
    parts = [[_ring(*_cut(lon, lat, east=False))], [_ring(*_cut(lon - 360, lat, east=True))]]
    return {"type": "MultiPolygon", "coordinates": parts}, _bbox(west, south, east - 360, north)


def _lonlat(
    transform: Affine, height: int, width: int, crs: CRS | str, segments: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The pixels' outline in longitude and latitude, closed, its longitudes continuous
    (so that a ring around a pole ends a turn away). An error where it is off the Earth,
    which PROJ does not always say: there a point does not come back where it was."""
    to_lonlat, from_lonlat = _transformers(crs if isinstance(crs, str) else wkt2(crs))
    cols, rows = _unit_outline(segments)
    cols, rows = cols * width, rows * height
    a, b, c, d, e, f = transform[:6]
    xs, ys = a * cols + b * rows + c, d * cols + e * rows + f
    lon, lat = to_lonlat.transform(xs, ys)
    found = bool(np.isfinite(lon).all() and (np.abs(lat) <= 90).all())
    if found and from_lonlat is not None:
        back_x, back_y = from_lonlat.transform(lon, lat)
        pixel = min(math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e))
        found = bool(np.hypot(back_x - xs, back_y - ys).max() <= TOLERANCE * pixel)
    if not found:
        raise UnsupportedInputError(
            f"pixels within {crs_bounds(transform, height, width)} (in their CRS) lie off "
            "the Earth, so they have no footprint for a STAC item"
        )
    lon, lat = np.append(lon, lon[0]), np.append(lat, lat[0])
    turns = np.round(np.diff(lon) / 360)
    if turns.any():
        lon = lon - 360 * np.append(0.0, np.cumsum(turns))
    return lon, lat


@functools.lru_cache(maxsize=16)
def _transformers(name: str) -> tuple[pyproj.Transformer, pyproj.Transformer | None]:
    """To longitude and latitude from the CRS ``name`` (WKT, or a code), and back where
    it is projected: made once (a millisecond), then used by every tile (pyproj's are
    thread-safe)."""
    crs = pyproj.CRS.from_user_input(name)
    to_lonlat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    if crs.is_geographic:
        return to_lonlat, None
    return to_lonlat, pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)


@functools.lru_cache(maxsize=8)
def _unit_outline(segments: int) -> tuple[np.ndarray, np.ndarray]:
    """The outline's columns and rows, as parts of the width and height: down the left
    edge, along the bottom, up the right edge, back along the top."""
    step, zero, one = np.linspace(0, 1, segments, endpoint=False), np.zeros(segments), 1.0
    return (np.concatenate([zero, step, zero + one, one - step]),
            np.concatenate([step, zero + one, one - step, zero]))


def _simplified(
    lon: np.ndarray, lat: np.ndarray, segments: int, height: int, width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th point of the ring, for the longest step whose straight lines
    pass within ``TOLERANCE`` pixels of every point (most tiles: two lines a side)."""
    last = len(lon) - 1
    steps = 2 ** np.arange(int(math.log2(segments)), 0, -1)[:, np.newaxis]
    index = np.arange(last + 1)
    start = np.minimum(index - index % steps, last - steps)
    end = start + steps
    dx, dy = lon[end] - lon[start], lat[end] - lat[start]
    across = np.abs((lon - lon[start]) * dy - (lat - lat[start]) * dx)
    # A line spans steps / segments of an edge's pixels (the left and right edges' rows,
    # the bottom and top's columns), and lies ``across / length`` from a point.
    pixels = np.where(start // segments % 2 == 0, height, width) * steps / segments
    fits = (across * pixels <= TOLERANCE * (dx * dx + dy * dy)).all(axis=1)
    step = int(steps[fits.argmax(), 0]) if fits.any() else 1
    return lon[::step], lat[::step]


def _cut(lon: np.ndarray, lat: np.ndarray, *, east: bool) -> tuple[np.ndarray, np.ndarray]:
    """The part of the closed ring east or west of longitude 180, or of -180 where the
    ring is shifted a turn west (Sutherland-Hodgman, on one line)."""
    line = 180.0 if lon.max() > 180 else -180.0
    inside = lon >= line if east else lon <= line
    points = []
    for i in range(len(lon) - 1):
        if inside[i]:
            points.append((lon[i], lat[i]))
        if inside[i] != inside[i + 1]:
            share = (line - lon[i]) / (lon[i + 1] - lon[i])
            points.append((line, lat[i] + share * (lat[i + 1] - lat[i])))
    part = np.array([*points, points[0]])
    return part[:, 0], part[:, 1]


def _around_pole(lon: np.ndarray, lat: np.ndarray) -> tuple[dict[str, Any], list[float]]:
    """A ring that goes once eastward around a pole, as the polygon between it and the
    pole: cut at longitude 180, and closed along the pole's parallel."""
    lon = lon - 360 * math.floor((lon[0] + 180) / 360)
    cut = int(np.flatnonzero((lon[:-1] < 180) & (lon[1:] >= 180))[0])
    share = (180 - lon[cut]) / (lon[cut + 1] - lon[cut])
    at_cut = lat[cut] + share * (lat[cut + 1] - lat[cut])
    pole = 90.0 if lat.mean() > 0 else -90.0
    ring_lon = np.concatenate(
        [[-180], lon[cut + 1:-1] - 360, lon[:cut + 1], [180, 180, -180, -180]])
    ring_lat = np.concatenate(
        [[at_cut], lat[cut + 1:-1], lat[:cut + 1], [at_cut, pole, pole, at_cut]])
    kept = np.append(True, (np.diff(ring_lon) != 0) | (np.diff(ring_lat) != 0))
    geometry = {"type": "Polygon", "coordinates": [_ring(ring_lon[kept], ring_lat[kept])]}
    south, north = (lat.min(), pole) if pole > 0 else (pole, lat.max())
    return geometry, _bbox(-180, south, 180, north)


def _ring(lon: np.ndarray, lat: np.ndarray) -> list[list[float]]:
    """A closed ring as GeoJSON positions, counterclockwise (RFC 7946, 3.1.6)."""
    points = np.column_stack([lon, lat]).round(DIGITS)
    clockwise = np.dot(lon[:-1], lat[1:]) < np.dot(lon[1:], lat[:-1])
    return (points[::-1] if clockwise else points).tolist()  # type: ignore[no-any-return]


def _bbox(west: float, south: float, east: float, north: float) -> list[float]:
    """Rounded outward, so that it holds the rounded geometry."""
    scale = 10**DIGITS
    return [math.floor(west * scale) / scale, math.floor(south * scale) / scale,
            math.ceil(east * scale) / scale, math.ceil(north * scale) / scale]


def wkt2(crs: CRS) -> str:
    return str(crs.to_wkt(version="WKT2_2019"))


