"""What to write: the bands, grid and georeferencing of an xarray object, checked."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rioxarray.exceptions import RioXarrayError
from xarray.conventions import encode_cf_variable

from .colors import ColorTable, band_colors
from .errors import UnsupportedDTypeError, UnsupportedInputError
from .grid import check_not_curvilinear, is_south_up, transform_of
from .netcdf_source import netcdf_reading, same_crs
from .options import DEFAULT_NUMPY_CHUNK, WriteOptions, check_nodata_fits

SPATIAL_DIM_NAMES = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"))
# bool and float16 have no GeoTIFF sample format: they are widened losslessly.
STORED_DTYPES: dict[np.dtype, np.dtype] = {np.dtype(bool): np.dtype("uint8"), np.dtype("float16"): np.dtype("float32")}
GDAL_DTYPES = frozenset(
    np.dtype(name)
    for name in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                 "float32", "float64")
)
# Attributes that become band fields of their own, or that only describe the encoding.
RESERVED_ATTRS = frozenset({
    "scale_factor", "add_offset", "scales", "offsets", "units", "long_name", "_FillValue", "missing_value",
    "fill_value", "nodata", "grid_mapping", "coordinates", "transform", "crs", "spatial_ref",
})


Xarray = xr.DataArray | xr.Dataset


@dataclass(frozen=True, kw_only=True)
class Band:
    """One VRT band: its storage type and what GDAL shows about it."""

    dtype: np.dtype
    nodata: float | None
    description: str | None = None
    scale: float | None = None
    offset: float | None = None
    unit: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    color_interp: str | None = None  # as GDAL names it: Gray, Palette, Red...
    color_table: ColorTable | None = None
    # NaN in the data marks nodata (decoded data, or nodata given), not values as stored.
    nan_is_nodata: bool = True


@dataclass(frozen=True, kw_only=True, eq=False)
class BandGroup:
    """Bands stored together in one GeoTIFF per block: one dtype, one nodata."""

    arrays: tuple[Any, ...]  # dask arrays, (band, y, x) or (y, x), chunked alike on y/x
    bands: tuple[Band, ...]

    @property
    def dtype(self) -> np.dtype:
        return self.bands[0].dtype

    @property
    def nodata(self) -> float | None:
        return self.bands[0].nodata

    @property
    def nan_is_nodata(self) -> bool:
        return self.bands[0].nan_is_nodata


@dataclass(frozen=True, kw_only=True, eq=False)
class Raster:
    """The whole input as GDAL will see it."""

    groups: tuple[BandGroup, ...]
    band_order: tuple[tuple[int, int], ...]  # VRT band -> (group, band within the group)
    y_chunks: tuple[int, ...]
    x_chunks: tuple[int, ...]
    transform: Affine
    crs: CRS | None
    metadata: Mapping[str, str]
    dims: tuple[Hashable, Hashable] = ("y", "x")  # the spatial dims, y then x
    georeferenced: bool = True  # the data has coordinates on both spatial dims

    @property
    def bands(self) -> list[Band]:
        return [self.groups[g].bands[b] for g, b in self.band_order]

    @property
    def shape(self) -> tuple[int, int]:
        return sum(self.y_chunks), sum(self.x_chunks)


def rechunked(raster: Raster, y_chunks: tuple[int, ...], x_chunks: tuple[int, ...]) -> Raster:
    """``raster`` on another tile grid: its arrays rechunked (still lazy)."""
    groups = tuple(
        replace(
            group,
            arrays=tuple(
                array.rechunk((*array.chunks[:-2], y_chunks, x_chunks)) for array in group.arrays
            ),
        )
        for group in raster.groups
    )
    return replace(raster, groups=groups, y_chunks=y_chunks, x_chunks=x_chunks)


def read_raster(obj: xr.DataArray | xr.Dataset, options: WriteOptions) -> Raster:
    """Check ``obj`` and describe it as bands on one georeferenced grid."""
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise UnsupportedInputError(f"expected an xarray DataArray or Dataset, got {type(obj)}")
    obj, y_dim, x_dim = _with_spatial_dims(obj)
    variables = _variables(obj, y_dim, x_dim)
    crs = options.crs if options.crs is not None else _crs(obj, variables[0])
    transform = transform_of(obj, y_dim, x_dim, crs)
    south_up = is_south_up(obj, transform, y_dim)
    if south_up:
        variables, transform = _north_up(variables, transform, y_dim)
    chunked = _chunk_alike(variables, y_dim, x_dim, options.chunks)
    if south_up and options.overviews and variables[0].chunks is not None:
        # numpy input was reversed before it was chunked: its tiles count from the north.
        chunked = _ragged_block_last(chunked, y_dim)
    described = [(var, _bands_of(var, options.nodata)) for var in chunked]
    if isinstance(obj, xr.Dataset):
        described = [(var, _as_dataset_bands(bands, var)) for var, bands in described]
    groups, band_order = _group_by_storage(described)
    data = chunked[0].data
    return Raster(
        groups=groups,
        band_order=band_order,
        y_chunks=data.chunks[-2],
        x_chunks=data.chunks[-1],
        transform=transform,
        crs=crs,
        metadata=_metadata(obj.attrs),
        dims=(y_dim, x_dim),
        georeferenced=y_dim in obj.coords and x_dim in obj.coords,
    )


def _crs(obj: Xarray, var: xr.DataArray) -> CRS | None:
    """rioxarray's CRS of the data; of a NetCDF variable, GDAL's reading of the same one
    (its names and axis order)."""
    crs: CRS | None = obj.rio.crs
    reading = netcdf_reading(var)
    if reading is not None and same_crs(crs, reading.crs):
        return reading.crs
    return crs


def spatial_dims(obj: Xarray) -> tuple[Hashable, Hashable] | None:
    """The spatial dims (y, x) of ``obj``: rioxarray's, else lon/lat; None without."""
    try:
        return obj.rio.y_dim, obj.rio.x_dim
    except RioXarrayError:
        pass
    # rioxarray knows x/y and longitude/latitude (and CF axis attributes); lon/lat is common too.
    for x_dim, y_dim in SPATIAL_DIM_NAMES:
        if {x_dim, y_dim} <= set(obj.dims):
            return y_dim, x_dim
    return None


def _with_spatial_dims(obj: Xarray) -> tuple[Xarray, Hashable, Hashable]:
    """``obj`` with rioxarray told its spatial dims, and those dims (y, x)."""
    dims = spatial_dims(obj)
    if dims is not None:
        y_dim, x_dim = dims
        return obj.rio.set_spatial_dims(x_dim=x_dim, y_dim=y_dim), y_dim, x_dim
    check_not_curvilinear(obj)
    raise UnsupportedInputError(
        f"no spatial dimensions found among {tuple(obj.dims)}: name them x/y, lon/lat or "
        "longitude/latitude, or call .rio.set_spatial_dims(x_dim=..., y_dim=...)"
    )


def _variables(
    obj: xr.DataArray | xr.Dataset, y_dim: Hashable, x_dim: Hashable
) -> list[xr.DataArray]:
    if isinstance(obj, xr.DataArray):
        candidates = [obj]
    else:
        candidates = [v for v in obj.data_vars.values() if {y_dim, x_dim} <= set(v.dims)]
        if not candidates:
            raise UnsupportedInputError(
                f"the Dataset has no data variable on the spatial dims ({y_dim!r}, {x_dim!r})"
            )
    return [_checked_variable(var, y_dim, x_dim) for var in candidates]


def _checked_variable(var: xr.DataArray, y_dim: Hashable, x_dim: Hashable) -> xr.DataArray:
    name = "the DataArray" if var.name is None else f"variable {var.name!r}"
    if var.ndim not in (2, 3):
        raise UnsupportedInputError(
            f"{name} has dims {var.dims}: expected (y, x) or (band, y, x); "
            "select or stack the extra dimensions first"
        )
    if var.size == 0:
        raise UnsupportedInputError(f"{name} is empty (shape {var.shape}); nothing to write")
    if np.dtype(var.dtype) not in GDAL_DTYPES | set(STORED_DTYPES):
        raise UnsupportedDTypeError(
            f"{name} has dtype {var.dtype}, which GeoTIFF cannot hold; cast it to an integer "
            "or float type (bool is written as uint8, float16 as float32)"
        )
    band_dims = [dim for dim in var.dims if dim not in (y_dim, x_dim)]
    return _packed(var.transpose(*band_dims, y_dim, x_dim))


def _packed(var: xr.DataArray) -> xr.DataArray:
    """Integers xarray decoded to floats (CF ``scale_factor``, ``add_offset``,
    ``_FillValue``) packed again as their ``encoding`` says, lazily, as ``to_netcdf``
    would: the integers GDAL reads from the file, with its scale, offset and nodata."""
    encoding = var.encoding
    stored = encoding.get("dtype")
    packing = {"scale_factor", "add_offset", "_FillValue", "missing_value"} & set(encoding)
    if var.dtype.kind != "f" or stored is None or np.dtype(stored).kind not in "iu" or not packing:
        return var
    variable = var.variable.copy(deep=False)
    # The encoding packs: an attribute that repeats one of its keys (a nodata written on
    # the decoded data) would make xarray refuse to encode.
    variable.attrs = {key: value for key, value in var.attrs.items() if key not in encoding}
    encoded = encode_cf_variable(variable, name=var.name)
    packed = xr.DataArray(encoded, coords=var.coords, name=var.name)
    packed.encoding = {key: encoding[key] for key in ("source", "rasterio_dtype") if key in encoding}
    return packed


def _north_up(
    variables: list[xr.DataArray], transform: Affine, y_dim: Hashable
) -> tuple[list[xr.DataArray], Affine]:
    """The variables with their rows reversed (a view of each block, reversed in the
    tile's own task) and the transform of the north-up grid they then form."""
    height = variables[0].sizes[y_dim]
    flipped = [var.isel({y_dim: slice(None, None, -1)}) for var in variables]
    return flipped, transform * Affine(1, 0, 0, 0, -1, height)


def _ragged_block_last(variables: list[xr.DataArray], y_dim: Hashable) -> list[xr.DataArray]:
    """Reversed dask blocks put a ragged last block of rows first, where every tile after
    it starts off the overview factors' windows: with overviews, rechunk to the input's
    own sizes counted from the north (the tiles next to it gather two blocks)."""
    y_sizes = variables[0].chunksizes[y_dim]
    wanted = tuple(reversed(y_sizes))
    if wanted == y_sizes:
        return variables
    return [var.chunk({y_dim: wanted}) for var in variables]


def _chunk_alike(
    variables: list[xr.DataArray], y_dim: Hashable, x_dim: Hashable, chunks: Any
) -> list[xr.DataArray]:
    """Chunk every variable identically on y/x, with all bands of a block in one chunk."""
    if chunks is not None:
        target = _requested_chunks(chunks, y_dim, x_dim)
    else:
        lazy = next((var for var in variables if var.chunks is not None), None)
        if lazy is None:
            target = {y_dim: DEFAULT_NUMPY_CHUNK, x_dim: DEFAULT_NUMPY_CHUNK}
        else:
            sizes = dict(zip(lazy.dims, lazy.chunks or (), strict=True))
            target = {y_dim: sizes[y_dim], x_dim: sizes[x_dim]}
    return [var.chunk({**target, **dict.fromkeys(var.dims[:-2], -1)}) for var in variables]


def _requested_chunks(chunks: Any, y_dim: Hashable, x_dim: Hashable) -> dict[Hashable, Any]:
    if isinstance(chunks, dict):
        unknown = set(chunks) - {y_dim, x_dim}
        if unknown:
            raise UnsupportedInputError(
                f"chunks names {sorted(map(str, unknown))}, but only the spatial dims "
                f"{y_dim!r} and {x_dim!r} can be chunked (every tile holds all bands)"
            )
        return {dim: chunks.get(dim, -1) for dim in (y_dim, x_dim)}
    y_size, x_size = chunks if isinstance(chunks, tuple) else (chunks, chunks)
    return {y_dim: y_size, x_dim: x_size}


def _bands_of(var: xr.DataArray, nodata: float | None) -> list[Band]:
    dtype = STORED_DTYPES.get(np.dtype(var.dtype), np.dtype(var.dtype))
    nan_is_nodata = True
    if nodata is None:
        # rioxarray reports NaN as the nodata of data it decoded; the encoded value is the real one.
        encoded = var.rio.encoded_nodata
        nodata = encoded if encoded is not None else var.rio.nodata
        # Raw data of a GDAL raster (rioxarray's, its nodata an attribute): GDAL reads its
        # NaN as NaN values. Elsewhere NaN means missing: GDAL's netCDF driver reads NaN as
        # the nodata, as does every reader of data made in memory.
        nan_is_nodata = encoded is not None or "rasterio_dtype" not in var.encoding
    if nodata is None and (reading := netcdf_reading(var)) is not None:
        nodata = reading.nodata  # netCDF's default fill, where the file declares none
    nodata = None if nodata is None else _as_number(nodata, dtype)
    check_nodata_fits(nodata, dtype)
    attrs = var.attrs
    unit = None if attrs.get("units") is None else str(attrs["units"])
    descriptions = _descriptions(var)
    count = len(descriptions)
    scalings = [
        _scaling(scale, offset) for scale, offset in zip(
            _per_band(attrs, "scales", "scale_factor", count),
            _per_band(attrs, "offsets", "add_offset", count), strict=True)
    ]
    colors = band_colors(var, count)
    return [
        Band(dtype=dtype, nodata=nodata, description=text, scale=scale, offset=offset,
             unit=unit, color_interp=color.interp, color_table=color.table,
             nan_is_nodata=nan_is_nodata)
        for text, (scale, offset), color in zip(descriptions, scalings, colors, strict=True)
    ]


def _per_band(attrs: Mapping[Hashable, Any], each: str, common: str, count: int) -> list[Any]:
    """A value for each band: rioxarray's ``scales``/``offsets`` where bands differ (a
    sequence a band), else the CF attribute every band shares."""
    values = attrs.get(each)
    if isinstance(values, list | tuple | np.ndarray) and len(values) == count:
        return list(values)
    return [attrs.get(common)] * count


def _scaling(scale: Any, offset: Any) -> tuple[float | None, float | None]:
    """Scale and offset as GDAL shows them; 1 and 0 are what GDAL shows for none (and
    rioxarray writes on every band it opens), so they are none."""
    scale, offset = _optional_float(scale), _optional_float(offset)
    if scale in (None, 1.0) and offset in (None, 0.0):
        return None, None
    return scale, offset


def _descriptions(var: xr.DataArray) -> list[str | None]:
    long_name = var.attrs.get("long_name")
    if var.ndim == 2:
        return [str(long_name) if long_name is not None else _name_or_none(var.name)]
    count = var.shape[0]
    if isinstance(long_name, list | tuple) and len(long_name) == count:
        return [str(text) for text in long_name]
    if long_name is not None and count == 1:
        return [str(long_name)]
    band_dim = var.dims[0]
    if band_dim not in var.coords:
        return [None] * count
    if not _band_numbers(var[band_dim]):
        return _labels(var[band_dim].values)
    # rioxarray gives one string where GDAL's descriptions of the bands are all the same.
    return [None if long_name is None else str(long_name)] * count


def _band_numbers(coord: xr.DataArray) -> bool:
    """A ``band`` coordinate of integers (rioxarray's, GDAL's band numbers): not names."""
    return coord.name == "band" and coord.dtype.kind in "iu"


def _labels(values: np.ndarray) -> list[str | None]:
    """Band coordinates as people write them: times as ISO 8601 without the parts that
    are zero (``2000-01-01``, ``2000-01-01T06:00``), numpy's and cftime's alike."""
    if values.dtype.kind == "M":
        return [str(text) for text in np.datetime_as_string(values, unit="auto")]
    return [_label(value) for value in values]


def _label(value: Any) -> str:
    if all(hasattr(value, part) for part in ("isoformat", "hour", "minute", "second")):
        if not (value.hour or value.minute or value.second or getattr(value, "microsecond", 0)):
            return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        seconds = value.second or getattr(value, "microsecond", 0)
        return str(value.isoformat(timespec="auto" if seconds else "minutes"))
    return str(value)


def _as_dataset_bands(bands: list[Band], var: xr.DataArray) -> list[Band]:
    """In a Dataset the variable name leads each band's description and its attrs are the
    band's metadata."""
    name, metadata = str(var.name), _metadata(var.attrs)
    if len(bands) == 1:
        return [replace(bands[0], description=name, metadata=metadata)]
    return [
        replace(
            band,
            description=name if band.description is None else f"{name}_{band.description}",
            metadata=metadata,
        )
        for band in bands
    ]


def _group_by_storage(
    described: list[tuple[xr.DataArray, list[Band]]],
) -> tuple[tuple[BandGroup, ...], tuple[tuple[int, int], ...]]:
    """Bands sharing dtype and nodata share a file; VRT band order stays the input's."""
    members: dict[tuple[str, str, bool], tuple[list[Any], list[Band]]] = {}
    band_order = []
    for var, bands in described:
        key = (bands[0].dtype.name, repr(bands[0].nodata), bands[0].nan_is_nodata)
        arrays, group_bands = members.setdefault(key, ([], []))
        group_index = list(members).index(key)
        band_order += [(group_index, len(group_bands) + i) for i in range(len(bands))]
        arrays.append(var.data)
        group_bands += bands
    groups = tuple(BandGroup(arrays=tuple(a), bands=tuple(b)) for a, b in members.values())
    return groups, tuple(band_order)


def _metadata(attrs: Mapping[Hashable, Any]) -> dict[str, str]:
    """Scalar attributes become GDAL metadata items."""
    return {
        str(key): str(value.item() if isinstance(value, np.generic) else value)
        for key, value in attrs.items()
        if key not in RESERVED_ATTRS and isinstance(value, str | int | float | np.generic)
    }


def _as_number(value: Any, dtype: np.dtype) -> float | int:
    number = value.item() if isinstance(value, np.generic) else value
    if dtype.kind in "iu" and isinstance(number, float) and number.is_integer():
        return int(number)
    return number  # type: ignore[no-any-return]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


# The name dask gives an array (``array-<token>``), which xarray takes for the name of a
# DataArray made from it without one: not a name anybody gave the data.
DASK_NAME = re.compile(r".+-[0-9a-f]{32}")


def _name_or_none(name: Hashable | None) -> str | None:
    if name is None or DASK_NAME.fullmatch(str(name)):
        return None
    return str(name)
