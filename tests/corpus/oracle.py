"""What a mosaic must equal, and how it differs: GDAL's reading of the original file, or,
where GDAL's driver misreads the file, the input's values at its coordinates (xarray).

Both oracles give a ``Raster``, north-up, and ``differences`` compares it with GDAL's
reading of the mosaic's VRT: footprint (corners, to 1e-9 of a pixel), CRS (pyproj
equality, units included), shape, band count, dtypes, every pixel (bitwise; NaN equals
NaN whatever its payload), nodata (NaN-aware), scales and offsets (none is 1 and 0),
descriptions, colour interpretation and colour tables.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyproj
import rasterio
import xarray as xr
from affine import Affine

PIXEL_TOLERANCE = 1e-9  # of a pixel, at every corner of the footprint


@dataclass(frozen=True)
class Raster:
    """What GDAL reports of a raster (or what it must report), rows from north to south."""

    values: np.ndarray  # (band, y, x)
    transform: Affine
    crs: pyproj.CRS | None
    dtypes: tuple[str, ...]
    nodata: tuple[float | None, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    descriptions: tuple[str | None, ...]
    colorinterp: tuple[str, ...]
    colormaps: tuple[dict[int, tuple[int, ...]] | None, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape[1], self.values.shape[2]


# --------------------------------------------------------------------------- GDAL


def read_gdal(name: str, bands: Sequence[int] | None = None) -> Raster:
    """GDAL's reading of ``name`` (a path, or ``netcdf:path:variable``, ``ZARR:...``):
    its ``bands`` (from 1; all by default), turned north-up where it is stored south-up."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(name) as dataset:
            indexes = list(bands or dataset.indexes)
            return north_up(Raster(
                values=dataset.read(indexes),
                transform=dataset.transform,
                crs=_crs(dataset.crs),
                dtypes=tuple(dataset.dtypes[i - 1] for i in indexes),
                nodata=tuple(dataset.nodatavals[i - 1] for i in indexes),
                scales=tuple(dataset.scales[i - 1] for i in indexes),
                offsets=tuple(dataset.offsets[i - 1] for i in indexes),
                descriptions=tuple(dataset.descriptions[i - 1] or None for i in indexes),
                colorinterp=tuple(dataset.colorinterp[i - 1].name for i in indexes),
                colormaps=tuple(_colormap(dataset, i) for i in indexes),
            ))


def stack(rasters: Sequence[Raster]) -> Raster:
    """Rasters of one grid as the bands of one (GDAL reads each NetCDF variable alone)."""

    def joined(field: str) -> tuple[Any, ...]:
        return tuple(item for raster in rasters for item in getattr(raster, field))

    return replace(
        rasters[0], values=np.concatenate([raster.values for raster in rasters]),
        dtypes=joined("dtypes"), nodata=joined("nodata"), scales=joined("scales"),
        offsets=joined("offsets"), descriptions=joined("descriptions"),
        colorinterp=joined("colorinterp"), colormaps=joined("colormaps"),
    )


def gdal_band(dims: Mapping[str, int], isel: Mapping[str, int]) -> int:
    """The band (from 1) in which GDAL's netCDF and Zarr drivers put the slice ``isel`` of
    a variable whose dims, in order and without the last two (y, x), are ``dims``: one
    band per combination, the last dim varying fastest."""
    if set(dims) != set(isel):
        raise ValueError(f"select every dim GDAL makes bands of: {list(dims)}, not {dict(isel)}")
    index = np.ravel_multi_index([isel[dim] for dim in dims], list(dims.values()))
    return int(index) + 1


def north_up(raster: Raster) -> Raster:
    """``raster`` with rows from north to south and columns from west to east, as a mosaic
    is written (GDAL's Zarr driver reads a store with latitude ascending south-up)."""
    transform, values = raster.transform, raster.values
    if transform.b or transform.d:
        return raster  # rotated: refused, never compared
    height, width = raster.shape
    if transform.e > 0:
        values = values[:, ::-1]
        transform = Affine(transform.a, 0.0, transform.c, 0.0, -transform.e,
                           transform.f + transform.e * height)
    if transform.a < 0:
        values = values[:, :, ::-1]
        transform = Affine(-transform.a, 0.0, transform.c + transform.a * width, 0.0,
                           transform.e, transform.f)
    return replace(raster, values=values, transform=transform)


def _crs(crs: Any) -> pyproj.CRS | None:
    return None if crs is None else pyproj.CRS.from_user_input(crs.to_wkt())


def _colormap(dataset: Any, band: int) -> dict[int, tuple[int, ...]] | None:
    try:
        return {key: tuple(value) for key, value in dataset.colormap(band).items()}
    except ValueError:  # rasterio's "NULL color table"
        return None


# --------------------------------------------------------------------------- xarray


def from_xarray(array: xr.DataArray) -> Raster:
    """What GDAL must read of a mosaic of ``array`` (opened raw: ``mask_and_scale=False``,
    ``decode_coords="all"``), from its values at its coordinates: for files GDAL's own
    driver misreads. Its dims are (y, x) in any order, on 1-D coordinates."""
    y, x = _spatial_dims(array)
    array = array.transpose(y, x)
    ys, xs = array[y].values.astype("float64"), array[x].values.astype("float64")
    values = array.values
    if ys.size > 1 and ys[1] > ys[0]:
        ys, values = ys[::-1], values[::-1]
    if xs.size > 1 and xs[1] < xs[0]:
        xs, values = xs[::-1], values[:, ::-1]
    dx, dy = (xs[-1] - xs[0]) / (xs.size - 1), (ys[-1] - ys[0]) / (ys.size - 1)
    attrs = array.attrs
    fill = attrs.get("_FillValue", attrs.get("missing_value"))
    return Raster(
        values=values[np.newaxis],
        transform=Affine(dx, 0.0, xs[0] - dx / 2, 0.0, dy, ys[0] - dy / 2),
        crs=_crs(array.rio.crs),
        dtypes=(str(array.dtype),),
        nodata=(None if fill is None else float(fill),),
        scales=(float(attrs.get("scale_factor", 1.0)),),
        offsets=(float(attrs.get("add_offset", 0.0)),),
        descriptions=(str(array.name),),
        colorinterp=("undefined",),  # as GDAL gives a NetCDF or Zarr variable's band
        colormaps=(None,),
    )


def coordinate_differences(array: xr.DataArray, mosaic_vrt: str) -> list[str]:
    """Where the mosaic's pixel centres are not ``array``'s coordinates: within 1e-9 of a
    pixel, or the coordinates' own float precision (float32 coordinates are rounded)."""
    found = []
    with rasterio.open(mosaic_vrt) as mosaic:
        transform, (height, width) = mosaic.transform, mosaic.shape
    y, x = _spatial_dims(array)
    centres = {
        x: transform.c + transform.a * (np.arange(width) + 0.5),
        y: transform.f + transform.e * (np.arange(height) + 0.5),
    }
    for dim, step in ((x, transform.a), (y, transform.e)):
        expected = np.sort(array[dim].values.astype("float64"))
        got = np.sort(centres[dim])
        if expected.shape != got.shape:
            found.append(f"{dim}: {got.size} pixel centres, the input has {expected.size}")
            continue
        precision = np.spacing(np.abs(expected).astype(array[dim].dtype)).astype("float64")
        tolerance = np.maximum(PIXEL_TOLERANCE * abs(step), precision)
        worst = int(np.argmax(np.abs(got - expected) - tolerance))
        if abs(got[worst] - expected[worst]) > tolerance[worst]:
            found.append(
                f"{dim}: pixel centre {float(got[worst])!r} where the input's coordinate is "
                f"{float(expected[worst])!r} ({(got[worst] - expected[worst]) / abs(step):.3g} px)"
            )
    return found


def _spatial_dims(array: xr.DataArray) -> tuple[str, str]:
    """(y, x): by the coordinates' CF attributes, else the names rioxarray knows."""
    by_axis: dict[str, str] = {}
    for dim in array.dims:
        attrs = array[dim].attrs if dim in array.coords else {}
        name = str(dim).lower()
        units = str(attrs.get("units", ""))
        if attrs.get("axis") == "Y" or units.startswith("degree_n") or name in ("y", "lat", "latitude"):
            by_axis["y"] = str(dim)
        elif attrs.get("axis") == "X" or units.startswith("degree_e") or name in ("x", "lon", "longitude"):
            by_axis["x"] = str(dim)
    return by_axis["y"], by_axis["x"]


# --------------------------------------------------------------------------- compare


def differences(
    original: str | Raster, mosaic_vrt: str, *, bands: Sequence[int] | None = None,
    descriptions: Sequence[str | None] | None = None,
) -> list[str]:
    """How GDAL's reading of ``mosaic_vrt`` differs from ``original``: GDAL's reading of
    that name (its ``bands``) or a ``Raster`` (``from_xarray``, ``stack``); empty when they
    are the same raster. ``descriptions`` replaces the original's: xr_tiles names a NetCDF
    or Zarr variable's band by the variable, where GDAL gives it none."""
    expected = read_gdal(original, bands) if isinstance(original, str) else original
    if descriptions is not None:
        expected = replace(expected, descriptions=tuple(descriptions))
    got = read_gdal(mosaic_vrt)
    found = _grid_differences(expected, got)
    if expected.values.shape == got.values.shape:
        found += _pixel_differences(expected, got)
    for name, equal in (
        ("dtypes", _same), ("nodata", _same_nodata), ("scales", _same),
        ("offsets", _same), ("descriptions", _same), ("colorinterp", _same),
    ):
        want, have = getattr(expected, name), getattr(got, name)
        if len(want) == len(have) and not all(map(equal, want, have)):
            found.append(f"{name}: {have} in the mosaic, {want} in the original")
    found += _colormap_differences(expected, got)
    return found


def _grid_differences(expected: Raster, got: Raster) -> list[str]:
    found = []
    if expected.values.shape[0] != got.values.shape[0]:
        found.append(f"bands: {got.values.shape[0]} in the mosaic, {expected.values.shape[0]} "
                     "in the original")
    if expected.shape != got.shape:
        found.append(f"shape: {got.shape} in the mosaic, {expected.shape} in the original")
    if not _same_crs(expected.crs, got.crs):
        found.append(f"crs: {_crs_name(got.crs)} in the mosaic, {_crs_name(expected.crs)} "
                     f"in the original{_crs_hint(expected.crs, got.crs)}")
    found += _footprint_differences(expected, got)
    return found


def _footprint_differences(expected: Raster, got: Raster) -> list[str]:
    """Each corner, in pixels of the original; in the original's CRS where the mosaic's is
    the same place in other units (km for m), and on a geographic CRS a whole turn of
    longitude is the same place (GDAL's netCDF driver moves 180-360 E to -180-0)."""
    height, width = expected.shape
    corners = [(0, 0), (width, 0), (0, height), (width, height)]
    want = [expected.transform * corner for corner in corners]
    have = [got.transform * corner for corner in corners]
    if expected.crs is not None and got.crs is not None and not _same_crs(expected.crs, got.crs):
        try:
            to_original = pyproj.Transformer.from_crs(got.crs, expected.crs, always_xy=True)
            have = [to_original.transform(*xy) for xy in have]
        except pyproj.exceptions.ProjError:
            pass  # not comparable: the CRS difference is reported
    turn = 360.0 if expected.crs is not None and expected.crs.is_geographic else None
    for corner, (wx, wy), (hx, hy) in zip(corners, want, have, strict=True):
        dx, dy = hx - wx, hy - wy
        if turn is not None:
            dx = math.remainder(dx, turn)
        px, py = dx / abs(expected.transform.a), dy / abs(expected.transform.e)
        if not (abs(px) <= PIXEL_TOLERANCE and abs(py) <= PIXEL_TOLERANCE):
            found = (f"footprint: corner {corner} at ({hx!r}, {hy!r}) in the mosaic, "
                     f"({wx!r}, {wy!r}) in the original: off by ({px:.6g}, {py:.6g}) px "
                     f"(mosaic transform {tuple(got.transform)[:6]}, original "
                     f"{tuple(expected.transform)[:6]})")
            return [found]
    return []


def _pixel_differences(expected: Raster, got: Raster) -> list[str]:
    want, have = expected.values, got.values
    if want.dtype == have.dtype:
        unequal = want.view(f"u{want.dtype.itemsize}") != have.view(f"u{have.dtype.itemsize}")
    else:
        unequal = want.astype("float64") != have.astype("float64")
    if want.dtype.kind == "f" and have.dtype.kind == "f":
        unequal &= ~(np.isnan(want) & np.isnan(have))
    count = int(np.count_nonzero(unequal))
    if not count:
        return []
    band, row, col = (int(i) for i in np.argwhere(unequal)[0])
    first = f"{have[band, row, col]!r} in the mosaic, {want[band, row, col]!r} in the original"
    where = f"band {band + 1} row {row} col {col}"
    return [f"pixels: {count} of {want.size} differ, first at {where}: {first}"]


def _colormap_differences(expected: Raster, got: Raster) -> list[str]:
    found = []
    for band, (want, have) in enumerate(zip(expected.colormaps, got.colormaps, strict=True), start=1):
        if want != have:
            found.append(f"colormap of band {band}: {_entries(have)} in the mosaic, "
                         f"{_entries(want)} in the original")
    return found


def _entries(table: dict[int, tuple[int, ...]] | None) -> str:
    return "none" if table is None else f"{len(table)} entries"


def _same(want: Any, have: Any) -> bool:
    return bool(want == have)


def _same_nodata(want: float | None, have: float | None) -> bool:
    if want is None or have is None:
        return want is have
    return want == have or (math.isnan(want) and math.isnan(have))


def _same_crs(want: pyproj.CRS | None, have: pyproj.CRS | None) -> bool:
    if want is None or have is None:
        return want is have
    return bool(want == have)


def _crs_hint(want: pyproj.CRS | None, have: pyproj.CRS | None) -> str:
    """Where the CRSs have the same PROJ string: they differ only in names, the order of
    the parameters or that of the axes."""
    if want is None or have is None:
        return ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyproj's: a PROJ string loses information
        same = want.to_proj4() == have.to_proj4()
    return " (the same PROJ string: names, parameter or axis order differ)" if same else ""


def _crs_name(crs: pyproj.CRS | None) -> str:
    if crs is None:
        return "none"
    units = ", ".join(sorted({axis.unit_name for axis in crs.axis_info})) or "no units"
    return f"{crs.name!r} ({units})"
