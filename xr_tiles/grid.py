"""Where the input's pixels are: its geotransform, in its CRS's units, north-up; checked.

The truth is what GDAL reads: rioxarray's ``spatial_ref`` keeps GDAL's own GeoTransform,
which is taken bit for bit where the coordinates agree with it; otherwise the transform
comes from the coordinates, converted from their CF ``units`` to the CRS's (GDAL's netCDF
driver reads ``x``/``y`` in km as metres, and so does this). What cannot become a
north-up grid (a rotated or sheared transform, a curvilinear grid given by 2-D lat/lon,
irregular coordinates) is refused in one line naming what to do.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable

import numpy as np
import pyproj.database
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from .errors import UnsupportedInputError

Xarray = xr.DataArray | xr.Dataset
# Coordinates that a stored GeoTransform must match, in pixels: float32 coordinates of
# large projected values (1e6 m at 30 m pixels) are this far off their grid.
AGREEMENT_PIXELS = 1e-2
# CF (UDUNITS) spellings of the lengths projection coordinates come in, as PROJ's
# database names them.
CF_LENGTHS = {
    "m": "metre", "metre": "metre", "meter": "metre", "metres": "metre", "meters": "metre",
    "km": "kilometre", "kilometre": "kilometre", "kilometer": "kilometre",
    "kilometres": "kilometre", "kilometers": "kilometre",
    "ft": "foot", "foot": "foot", "feet": "foot", "international_foot": "foot",
    "us_survey_foot": "US survey foot", "us_survey_feet": "US survey foot",
}
PROJECTION_COORDINATES = ("projection_x_coordinate", "projection_y_coordinate")


def transform_of(obj: Xarray, y_dim: Hashable, x_dim: Hashable, crs: CRS | None) -> Affine:
    """The transform of ``obj``'s grid as GDAL would place it, in ``crs``'s units; raises
    ``UnsupportedInputError`` for data that forms no north-up (or south-up) grid."""
    stored = stored_transform(obj)
    if stored is not None and (stored.b or stored.d):
        raise UnsupportedInputError(
            f"the data's geotransform {tuple(stored)[:6]} is rotated or sheared, and a mosaic "
            "is a north-up grid: warp it onto one first, e.g. obj.rio.reproject(obj.rio.crs)"
        )
    _check_curvilinear(obj, y_dim, x_dim)
    wraps = _wraps(obj, x_dim, crs)
    for dim in (y_dim, x_dim):
        if dim in obj.coords and obj.sizes[dim] > 1:
            _check_regular(np.asarray(obj[dim].values), dim, wraps and dim == x_dim)
    obj = _unwrapped(obj, y_dim, x_dim) if wraps else obj
    computed: Affine = obj.rio.transform(recalc=True)
    scale = (_unit_factor(obj, x_dim, crs), _unit_factor(obj, y_dim, crs))
    computed = Affine.scale(*scale) * computed
    single = [dim for dim in (y_dim, x_dim) if obj.sizes[dim] == 1 and dim in obj.coords]
    if single:
        _check_single_pixel(obj, computed, scale, y_dim, x_dim, single)
    located = {y_dim, x_dim} <= set(obj.coords)
    if stored is None or not located:
        return computed
    return _exact(stored, computed) or computed


def stored_transform(obj: Xarray) -> Affine | None:
    """GDAL's GeoTransform as rioxarray keeps it (the grid mapping's ``GeoTransform``),
    or a ``transform`` attribute; None where there is neither."""
    mapping = obj.rio.grid_mapping
    if mapping in obj.coords and "GeoTransform" in obj.coords[mapping].attrs:
        values = np.fromstring(obj.coords[mapping].attrs["GeoTransform"], sep=" ")
        return Affine.from_gdal(*values.tolist()) if values.size == 6 else None
    if "transform" in obj.attrs and len(obj.attrs["transform"]) >= 6:
        return Affine(*(float(v) for v in obj.attrs["transform"][:6]))
    return None


def is_south_up(obj: Xarray, transform: Affine, y_dim: Hashable) -> bool:
    """Rows that go up in y (NetCDF climate and model grids): GDAL reads such files, but
    much of the GIS world (AAIGrid, web tilers, odc-stac) flips or misplaces them. Only
    where y is georeferenced (coordinates, or a stored transform): without, rioxarray
    gives the identity, whose positive pixel height says nothing of the data."""
    if not (transform.e > 0 and transform.b == transform.d == 0):
        return False
    return y_dim in obj.coords or stored_transform(obj) is not None


def _exact(stored: Affine, computed: Affine) -> Affine | None:
    """``stored``, moved by the whole pixels the data starts into it (a selection keeps
    its source's GeoTransform), where the coordinates agree with it; else None."""
    if not (
        math.isclose(stored.a, computed.a, rel_tol=1e-6)
        and math.isclose(stored.e, computed.e, rel_tol=1e-6)
    ):
        return None
    col, row = ~stored * (computed.c, computed.f)
    if abs(col - round(col)) > AGREEMENT_PIXELS or abs(row - round(row)) > AGREEMENT_PIXELS:
        return None
    if round(col) == round(row) == 0:
        return stored
    return stored * Affine.translation(round(col), round(row))


def _wraps(obj: Xarray, x_dim: Hashable, crs: CRS | None) -> bool:
    """Longitudes that wrap from 360 to 0 once (a 0-360 grid cut at Greenwich)."""
    if x_dim not in obj.coords or obj.sizes[x_dim] < 3 or (crs is not None and crs.is_projected):
        return False
    values = np.asarray(obj[x_dim].values, dtype="float64")
    inside = bool(np.all(values >= 0) and np.all(values <= 360))
    return inside and np.count_nonzero(np.diff(values) < -180) == 1


def _unwrapped(obj: Xarray, y_dim: Hashable, x_dim: Hashable) -> Xarray:
    """Wrapping longitudes as GDAL's netCDF driver reads them: those past 180 less 360."""
    values = np.asarray(obj[x_dim].values, dtype="float64")
    coord = obj[x_dim].copy(data=np.where(values >= 180, values - 360, values))
    unwrapped: Xarray = obj.assign_coords({x_dim: coord})
    return unwrapped.rio.set_spatial_dims(x_dim=x_dim, y_dim=y_dim)  # type: ignore[no-any-return]


def _check_curvilinear(obj: Xarray, y_dim: Hashable, x_dim: Hashable) -> None:
    """y/x without coordinates of their own, placed by 2-D coordinates on them."""
    if {y_dim, x_dim} <= set(obj.coords) or stored_transform(obj) is not None:
        return
    check_not_curvilinear(obj, (y_dim, x_dim))


def check_not_curvilinear(obj: Xarray, dims: tuple[Hashable, Hashable] | None = None) -> None:
    """Refuse data placed by 2-D coordinates (on ``dims``, or on any two dims) in one line."""
    planes = [
        (str(name), coord.dims) for name, coord in obj.coords.items()
        if coord.ndim == 2 and (dims is None or set(coord.dims) == set(dims))
    ]
    if planes:
        on = planes[0][1]
        raise UnsupportedInputError(
            f"the data is on a curvilinear grid: {', '.join(repr(n) for n, _ in planes)} "
            f"place each pixel of ({on[0]!r}, {on[1]!r}) by 2-D coordinates, which no "
            "geotransform can; regrid it onto a regular grid first (e.g. xESMF, or "
            "rioxarray's .rio.reproject with its GCPs), or give the grid 1-D coordinates "
            "and a CRS where it is regular in a projection"
        )


def _check_regular(coord: np.ndarray, dim: Hashable, wraps: bool = False) -> None:
    """Evenly spaced, as far as the coordinates' precision tells: float32 degrees near 90
    are 4e-6 apart, a tenth of a percent of a 0.083-degree pixel (GDAL reads such grids).
    ``wraps``: longitudes past 180 are less 360."""
    values = coord.astype("float64")
    steps = np.diff(np.where(values >= 180, values - 360, values) if wraps else values)
    precision = np.finfo(coord.dtype).eps if coord.dtype.kind == "f" else 0.0
    tolerance = max(1e-5 * abs(steps[0]), 4 * precision * float(np.abs(values).max()))
    monotonic = bool(np.all(steps > 0) or np.all(steps < 0))
    if not monotonic or not np.allclose(steps, steps[0], rtol=0, atol=tolerance):
        raise UnsupportedInputError(
            f"coordinate {dim!r} must be evenly spaced and monotonic to form a GDAL "
            "geotransform; interpolate to a regular grid first (e.g. .interp or .rio.reproject)"
        )


def _check_single_pixel(
    obj: Xarray, transform: Affine, scale: tuple[float, float], y_dim: Hashable,
    x_dim: Hashable, single: list[Hashable],
) -> None:
    """A lone coordinate gives no pixel size: the stored transform must agree with it."""
    x_center, y_center = transform * (0.5, 0.5)
    centers = {x_dim: (x_center, scale[0]), y_dim: (y_center, scale[1])}
    for dim in single:
        center, factor = centers[dim]
        if not np.isclose(float(obj[dim].values[0]) * factor, center):
            raise UnsupportedInputError(
                f"dimension {dim!r} has a single coordinate, so its pixel size is unknown; "
                "set the transform with .rio.write_transform(Affine(...))"
            )


def _unit_factor(obj: Xarray, dim: Hashable, crs: CRS | None) -> float:
    """What a coordinate of ``dim`` is in the CRS's linear unit: 1000 for km and a CRS
    in metres. Only projection coordinates of a projected CRS have a length unit."""
    if crs is None or not crs.is_projected or dim not in obj.coords:
        return 1.0
    attrs = obj[dim].attrs
    units = attrs.get("units")
    if units is None:
        return 1.0
    metres = _metres(str(units))
    if metres is None:
        if attrs.get("standard_name") not in PROJECTION_COORDINATES:
            return 1.0
        raise UnsupportedInputError(
            f"coordinate {dim!r} is in units {units!r}, which is no length xr_tiles knows "
            f"(one of {', '.join(sorted(set(CF_LENGTHS)))}): convert it to metres and set "
            "its units attribute to 'm'"
        )
    return metres / float(crs.linear_units_factor[1])


def _metres(units: str) -> float | None:
    name = CF_LENGTHS.get(units.strip().lower())
    return None if name is None else _length_units()[name]


@functools.cache
def _length_units() -> dict[str, float]:
    units = pyproj.database.get_units_map(category="linear")
    return {name: float(unit.conv_factor) for name, unit in units.items()}
