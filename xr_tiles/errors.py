"""Exceptions users may catch; each is also the builtin it refines."""


class XrTilesError(Exception):
    """Base class of every error raised by xr_tiles."""


class InvalidOptionError(XrTilesError, ValueError):
    """A write option has a value xr_tiles cannot use."""


class UnsupportedInputError(XrTilesError, ValueError):
    """The xarray object cannot be written as a GDAL raster."""


class UnsupportedDTypeError(XrTilesError, TypeError):
    """The data type has no GeoTIFF equivalent."""


class OutputExistsError(XrTilesError, FileExistsError):
    """The VRT (or its tiles folder) exists and ``mode="w-"`` forbids replacing it."""


class WriteAbortedError(XrTilesError, RuntimeError):
    """The write was aborted while it published; the previous output is back."""
