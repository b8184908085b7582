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


class WriteConflictError(XrTilesError, RuntimeError):
    """Another write to the same path runs, or published first; nothing of it is lost."""


class InvalidMosaicError(XrTilesError, ValueError):
    """The existing output is not an xr_tiles mosaic that ``mode="r+"`` can update."""


class RegionMismatchError(XrTilesError, ValueError):
    """The data does not fit the existing mosaic at the region: grid, bands or options."""


class SmallTilesWarning(UserWarning):
    """The write has many small tiles: creating their files dominates its time."""
