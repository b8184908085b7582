"""The GTI index: GDAL's raster tile index (GTI driver, 3.9+) of the mosaic, as GeoPackage
bytes; pure, written with pyogrio. An index of any size opens in milliseconds, where a VRT
parses every source on open.

The driver's keys are its layer metadata items, https://gdal.org/drivers/raster/gti.html
("Tile index requirements"); band metadata follows its source (``gdaltileindexdataset.cpp``:
a ``BAND_<n>_<key>`` item that is not OFFSET, SCALE or UNITTYPE is band ``n``'s ``<key>``).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyogrio.raw
from affine import Affine
from rasterio.crs import CRS

from ..encode import TileSpec
from ..plan import Tile, TilePlan
from ..source import Band
from .vrt import gdal_typename

LAYER = "tiles"
LOCATION = "location"  # GTI's default name for the field of a tile's path
RESERVED_BAND_KEYS = frozenset({"OFFSET", "SCALE", "UNITTYPE"})  # BAND_<n>_<key> GTI reads
# One WKB Polygon of one closed ring of five points, little-endian (ISO 19125 / OGC SFA).
WKB_POLYGON = np.dtype([
    ("order", "u1"), ("type", "<u4"), ("rings", "<u4"), ("points", "<u4"), ("xy", "<f8", (5, 2)),
])


def gti_index(
    plan: TilePlan,
    bands: Sequence[Band],
    specs: Sequence[TileSpec],
    crs: CRS | None,
    sources: Sequence[tuple[Tile, str]],
    overviews: Sequence[tuple[int, str]] = (),
) -> bytes:
    """GeoPackage bytes of GDAL's tile index (GTI) of the mosaic: one feature per tile that
    is there, on the VRT's grid exactly, with its bands' type, nodata and scaling.

    Parameters
    ----------
    plan
        The tile plan; the index is meant to sit beside the VRT as ``<stem>.gti.gpkg``
        (GDAL picks the GTI driver by that double extension), where the tiles' paths
        relative to the VRT are relative to it too: GTI resolves a relative ``location``
        against the index's own folder.
    bands
        The VRT's bands, all in the one band group (several groups have no GTI: every
        file of a GTI holds all its bands).
    specs
        The band group's encoding (one): its stored type, band count and nodata.
    crs
        The mosaic's CRS, as in the VRT.
    sources
        The tiles there are (those a skipped tile leaves out read as nodata), each with
        the write id whose folder holds it.
    overviews
        ``(factor, path)`` of each overview level: a VRT mosaic or a GeoTIFF of the whole
        level, its path relative to the index. Each level is a one-feature layer
        ``overview_<factor>`` of the same file, listed as ``OVERVIEW_<i>_LAYER``: GDAL
        3.10 resolves an ``OVERVIEW_<i>_DATASET`` path against the working directory, a
        layer's ``location`` against the index (OSGeo/gdal#14344).

    Returns
    -------
    bytes
        The GeoPackage: layer ``tiles`` (Polygon footprints, ``location``, R-tree), the
        dataset metadata item ``TILE_INDEX_LAYER=tiles``, and one layer per level.

    Notes
    -----
    The grid is given as ``XSIZE``, ``YSIZE`` and ``GEOTRANSFORM``, so GDAL takes the VRT's
    numbers as they are rather than deriving a size from an extent and a resolution. GTI
    places each tile by the tile's own geotransform (the footprint only finds it), so
    it needs a north-up, unrotated grid of georeferenced tiles; the caller refuses other
    mosaics, and several band groups. Band descriptions have no layer metadata item
    (only GTI's XML, which pyogrio cannot write), so GTI bands have none. GTI reads
    nodata as a double: a 64-bit integer nodata beyond 2**53 is not exact.

    Examples
    --------
    >>> data = gti_index(plan, raster.bands, specs, raster.crs, sources[0])  # doctest: +SKIP
    >>> Path("mosaic.gti.gpkg").write_bytes(data)  # doctest: +SKIP
    """
    spec = specs[0]
    wkt = None if crs is None else crs.to_wkt()
    raster = _raster_items(spec, wkt)
    levels = sorted(overviews)  # GTI wants its levels largest first
    items = {
        **_grid_items(plan.width, plan.height, plan.transform),
        **raster,
        **_band_items(bands),
        **{f"OVERVIEW_{i}_LAYER": _level_layer(factor) for i, (factor, _) in enumerate(levels)},
    }
    windows = np.array(
        [(t.col_off, t.row_off, t.width, t.height) for t, _ in sources], np.float64
    ).reshape(-1, 4)
    locations = [plan.source_path(tile, 0, write_id) for tile, write_id in sources]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.gti.gpkg"
        _write_layer(path, LAYER, _footprints(plan.transform, windows), locations, items, wkt)
        for factor, location in levels:
            height, width = plan.level_shape(factor)
            transform = plan.level_transform(factor)
            level = {**_grid_items(width, height, transform), **raster}
            whole = _footprints(transform, np.array([(0.0, 0.0, width, height)]))
            _write_layer(path, _level_layer(factor), whole, [location], level, wkt)
        return path.read_bytes()


def _write_layer(
    path: Path, layer: str, footprints: np.ndarray, locations: Sequence[str],
    items: Mapping[str, str], wkt: str | None,
) -> None:
    """One layer of the index: the first creates the file, the next are added to it."""
    first = not path.exists()
    with warnings.catch_warnings():
        # pyogrio warns of a layer without a CRS; a mosaic without one has none to give.
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.raw.write(
            path, footprints, [np.array(locations, dtype=object)], [LOCATION], layer=layer,
            driver="GPKG", geometry_type="Polygon", crs=wkt, append=not first,
            layer_metadata=dict(items), layer_options={"SPATIAL_INDEX": "YES"},
            dataset_metadata={"TILE_INDEX_LAYER": LAYER} if first else None,
        )


def _level_layer(factor: int) -> str:
    return f"overview_{factor}"


def _grid_items(width: int, height: int, transform: Affine) -> dict[str, str]:
    return {
        "XSIZE": str(width),
        "YSIZE": str(height),
        "GEOTRANSFORM": ",".join(repr(float(v)) for v in transform.to_gdal()),
    }


def _raster_items(spec: TileSpec, wkt: str | None) -> dict[str, str]:
    """What GTI would otherwise learn by opening a tile at every open."""
    items = {"BAND_COUNT": str(spec.band_count), "DATA_TYPE": gdal_typename(spec.dtype)}
    if spec.nodata is not None:
        # Also what GTI fills the pixels of no tile with (else zero).
        items["NODATA"] = _number(spec.nodata)
    if wkt is not None:
        # The VRT's WKT as it is: the layer's CRS goes through the GeoPackage's SRS table.
        items["SRS"] = wkt
    return items


def _band_items(bands: Sequence[Band]) -> dict[str, str]:
    items = {}
    for number, band in enumerate(bands, 1):
        for key, value in band.metadata.items():
            # A reserved key would set the band's scaling; "=" would split the item.
            if key.upper() not in RESERVED_BAND_KEYS and "=" not in key:
                items[f"BAND_{number}_{key}"] = value
        if band.offset is not None:
            items[f"BAND_{number}_OFFSET"] = _number(band.offset)
        if band.scale is not None:
            items[f"BAND_{number}_SCALE"] = _number(band.scale)
        if band.unit is not None:
            items[f"BAND_{number}_UNITTYPE"] = band.unit
    return items


def _footprints(transform: Affine, windows: np.ndarray) -> np.ndarray:
    """WKB polygons (an object array of bytes) of pixel windows ``(col_off, row_off, width,
    height)``: each corner where ``plan.tile_transform(tile) * (x, y)`` puts it, the ring
    counter-clockwise for a north-up grid. One numpy pass: a mosaic may have a million."""
    a, b, c, d, e, f = transform[:6]
    col, row, width, height = windows.T
    x0, y0 = a * col + b * row + c, d * col + e * row + f
    zero = np.zeros_like(width)
    px = np.stack([zero, zero, width, width, zero], axis=1)
    py = np.stack([zero, height, height, zero, zero], axis=1)
    wkb = np.empty(len(windows), WKB_POLYGON)
    wkb["order"], wkb["type"], wkb["rings"], wkb["points"] = 1, 3, 1, 5
    wkb["xy"][..., 0] = px * a + py * b + x0[:, np.newaxis]
    wkb["xy"][..., 1] = px * d + py * e + y0[:, np.newaxis]
    # A void scalar becomes bytes of its full size (a bytes dtype would drop trailing NULs).
    return wkb.view(f"V{WKB_POLYGON.itemsize}").astype(object)


def _number(value: float) -> str:
    """As GTI parses it: ``nan``, ``inf``, ``-inf``, or digits that round-trip."""
    return repr(value) if isinstance(value, float) else str(value)
