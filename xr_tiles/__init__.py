"""Write xarray rasters as a GDAL VRT mosaic of tiled GeoTIFFs, one per chunk.

Importing the package registers the ``.tiles`` accessor on DataArray and Dataset.
"""

from . import accessor as _accessor  # noqa: F401  (registers .tiles)
from .errors import (
    InvalidMosaicError,
    InvalidOptionError,
    OutputExistsError,
    RegionMismatchError,
    SmallTilesWarning,
    UnsupportedDTypeError,
    UnsupportedInputError,
    WriteConflictError,
    XrTilesError,
)
from .store.gdal_paths import gdal_path
from .write import to_vrt

__all__ = [
    "InvalidMosaicError",
    "InvalidOptionError",
    "OutputExistsError",
    "RegionMismatchError",
    "SmallTilesWarning",
    "UnsupportedDTypeError",
    "UnsupportedInputError",
    "WriteConflictError",
    "XrTilesError",
    "gdal_path",
    "to_vrt",
]
__version__ = "0.1.0"
