"""What GDAL's netCDF driver reads of the NetCDF variable the data came from.

xarray and GDAL read the same CF attributes a little differently: rioxarray builds the CRS
of CF grid-mapping parameters with other names and, for geographic CRSs, another axis
order than GDAL's; and GDAL takes netCDF's default fill as the nodata of a variable that
declares none. The file's own reading by GDAL is the truth, so it is asked for both.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import pyproj
import rasterio
import xarray as xr
from rasterio.crs import CRS
from rasterio.errors import RasterioError

NETCDF_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


@dataclass(frozen=True)
class NetcdfReading:
    """GDAL's CRS and first band's nodata of one variable of a NetCDF file."""

    crs: CRS | None
    nodata: float | None


def netcdf_reading(var: xr.DataArray) -> NetcdfReading | None:
    """GDAL's reading of the NetCDF variable ``var`` was read from by an xarray engine
    (not through GDAL), or None for data from anywhere else."""
    source, name = var.encoding.get("source"), var.name
    if not isinstance(source, str) or name is None or "rasterio_dtype" in var.encoding:
        return None
    return _reading(source, str(name))


def same_crs(ours: CRS | None, gdal: CRS | None) -> bool:
    """One CRS, whatever its names and axis order: the same PROJ definition."""
    if ours is None or gdal is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PROJ strings lose datum names
        return bool(pyproj.CRS(ours.to_wkt()).to_proj4() == pyproj.CRS(gdal.to_wkt()).to_proj4())


@functools.lru_cache(maxsize=64)
def _reading(source: str, name: str) -> NetcdfReading | None:
    try:
        with open(source, "rb") as file:
            if not file.read(8).startswith(NETCDF_SIGNATURES):
                return None
        with warnings.catch_warnings(), rasterio.Env():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(f'netcdf:"{source}":{name}') as dataset:
                return NetcdfReading(dataset.crs, dataset.nodata)
    except (OSError, RasterioError):
        return None
