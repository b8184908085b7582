"""Write xarray rasters as a GDAL VRT mosaic of tiled GeoTIFFs, one per chunk.

Importing the package registers the ``.tiles`` accessor on DataArray and Dataset.
"""

from . import accessor as _accessor  # noqa: F401  (registers .tiles)
from .errors import (
    InvalidOptionError,
    OutputExistsError,
    UnsupportedDTypeError,
    UnsupportedInputError,
    WriteAbortedError,
    XrTilesError,
)
from .gdal_paths import gdal_path
from .write import to_vrt

__all__ = [
    "InvalidOptionError",
    "OutputExistsError",
    "UnsupportedDTypeError",
    "UnsupportedInputError",
    "WriteAbortedError",
    "XrTilesError",
    "gdal_path",
    "to_vrt",
]
__version__ = "0.1.0"
