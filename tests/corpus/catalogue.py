"""The corpus: one ``Case`` per real file (or variable of one), what it exercises, and what
xr_tiles must do with it: write it exactly, or refuse it in one line.

"Exact" means the mosaic, read by GDAL, is the original as GDAL reads it (``oracle="gdal"``)
or, where GDAL's own driver misreads the file, the input's values at its coordinates
(``oracle="xarray"``, with the reason): see ``oracle.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fetch import PACKAGES, ZARR_SOURCE

REFUSED_ROTATED = ("rotat", "reproject")
REFUSED_CURVILINEAR = ("curvilinear", "reproject")


@dataclass(frozen=True)
class Case:
    """One input of the corpus and the result xr_tiles must give."""

    id: str
    file: str  # relative to the fetched folder
    package: str  # a key of fetch.PACKAGES, or "made" (by fetch, from ZARR_SOURCE)
    exercises: str
    variables: tuple[str, ...] = ()  # NetCDF / Zarr variables (each gives a band)
    isel: tuple[tuple[str, int], ...] = ()  # the dims GDAL makes bands of, one index each
    refused: tuple[str, ...] = ()  # substrings (any case) of the one-line refusal
    oracle: str = "gdal"  # or "xarray"
    why_xarray: str = ""
    # A difference no VRT can avoid (the start of its line in oracle.differences), and why.
    unavoidable: str = ""
    why_unavoidable: str = ""

    @property
    def expected(self) -> str:
        return "exact" if not self.refused else f"refused={'+'.join(self.refused)}"

    @property
    def kind(self) -> str:
        """How GDAL and users open it: "gdal" (a raster file), "netcdf" or "zarr"."""
        if self.file.endswith(".zarr"):
            return "zarr"
        return "netcdf" if self.file.endswith(".nc") else "gdal"

    @property
    def source(self) -> str:
        if self.package == "made":
            return f"made by fetch.py from {ZARR_SOURCE} (xarray + rioxarray, to_zarr)"
        return PACKAGES[self.package].label

    @property
    def licence(self) -> str:
        package = "r-cran-stars" if self.package == "made" else self.package
        return PACKAGES[package].licence


STARS = "r-cran-stars-0.6-0-4"
TERRA = "r-cran-terra-1.7-3-1"
IRIS = "iris-sample-data-2.5.2"
XRS = "xarray-spatial-0.10.20"

CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ GDAL rasters
    Case("L7_ETMs.tif", f"{STARS}/tif/L7_ETMs.tif", "r-cran-stars",
         "GeoTIFF, 6 bands uint8 pixel-interleaved (photometric minisblack + 5 extra "
         "samples: gray, then undefined), no nodata; EPSG:31985; a pixel of "
         "28.49999999927454 m: the geotransform must be GDAL's, bit for bit"),
    Case("lc.tif", f"{STARS}/tif/lc.tif", "r-cran-stars",
         "GeoTIFF uint8 with a colour table (palette, 256 entries) and a band description "
         "(Layer_1), no nodata; EPSG:5070"),
    Case("geomatrix.tif", f"{STARS}/tif/geomatrix.tif", "r-cran-stars",
         "GeoTIFF with a ModelTransformationTag: rotated and sheared geotransform "
         "(1.5, -5, ., -5, -1.5, .), pixel-is-point", refused=REFUSED_ROTATED),
    Case("elev.tif", f"{TERRA}/ex/elev.tif", "r-cran-terra",
         "GeoTIFF int16, integer nodata -32768, band description 'elevation', EPSG:4326 "
         "with a pixel of 0.008333333333333337 x 0.008333333333333333 deg"),
    Case("logo.tif", f"{TERRA}/ex/logo.tif", "r-cran-terra",
         "GeoTIFF RGB (photometric RGB, colour interpretation red/green/blue), band "
         "descriptions red/green/blue, a GDAL_NODATA of -1 that a uint8 cannot hold (GDAL: "
         "no nodata), engineering CRS LOCAL_CS 'Cartesian (Meter)'"),
    Case("meuse.tif", f"{TERRA}/ex/meuse.tif", "r-cran-terra",
         "GeoTIFF int16, nodata -32768, description 'test', a custom oblique stereographic "
         "CRS without EPSG code (Dutch RD on WGS 84)"),
    Case("test.grd", "r-cran-raster-3.6-14-1/external/test.grd", "r-cran-raster",
         "R raster format (.grd + .gri; GDAL's RRASTER driver, no xarray engine): float32, "
         "declared nodata -3.4e38 (a float value) while the missing cells hold NaN"),
    Case("spData-elev.tif", "r-cran-spdata-2.2.1-1/raster/elev.tif", "r-cran-spdata",
         "GeoTIFF float32 with NaN nodata, description 'elev', 6 x 6 pixels, EPSG:4326"),
    Case("scaleoffset.vrt", "r-cran-rgdal-1.6-4+dfsg-1/pictures/scaleoffset.vrt",
         "r-cran-rgdal",
         "a VRT input (raw .dat): 2 bands uint8 with their own scale and offset (5/10, "
         "4/2), nodata 255, a CRS from a PROJ string with +towgs84"),
    Case("slope.tif", "rasterstats-0.21.0/slope.tif", "rasterstats",
         "GeoTIFF float32 with a float nodata value -9999.0, projected CRS in metres with "
         "a pixel of 25.52514657450613 m"),
    Case("jpeg_ycbcr.tif", f"{XRS}/compression_jpeg_uint8_ycbcr.tif", "xarray-spatial",
         "GeoTIFF JPEG-compressed with photometric YCbCr (subsampled chroma), 3 bands uint8 "
         "tiled 32 x 32: GDAL decodes it to RGB (colour interpretation red/green/blue), and "
         "the mosaic, with the default lossless codec, must hold those RGB values"),
    Case("miniswhite.tif", f"{XRS}/nodata_miniswhite_uint8.tif", "xarray-spatial",
         "GeoTIFF uint8 with photometric MINISWHITE (0 is white; GDAL: colour interpretation "
         "undefined, IMAGE_STRUCTURE MINISWHITE=YES), no nodata",
         unavoidable="colorinterp:",
         why_unavoidable="GDAL gives the band an inverted grey colour table besides its "
         "'undefined' interpretation; a VRT band with a colour table reads as 'palette' in "
         "GDAL whatever its ColorInterp says, so the mosaic keeps the table (what a viewer "
         "draws) and reads 'palette'"),
    Case("planar_separate_rgb.tif", f"{XRS}/planar_separate_uint8_rgb.tif", "xarray-spatial",
         "GeoTIFF RGB uint8 stored band-interleaved (PlanarConfiguration 2: each band its "
         "own 16 x 16 tiles), deflate with horizontal predictor"),
    Case("int8.tif", f"{XRS}/dtype_int8.tif", "xarray-spatial",
         "GeoTIFF int8 (SampleFormat signed, 8 bits: GDAL's Int8 since 3.7), 20 x 20 strips"),
    Case("tiled_be_uint16.tif", f"{XRS}/tiled_be_uint16.tif", "xarray-spatial",
         "big-endian GeoTIFF (MM byte order), uint16 in 16 x 16 tiles, nodata 0"),
    Case("crs_citation_only.tif", f"{XRS}/crs_citation_only.tif", "xarray-spatial",
         "GeoTIFF whose CRS is a user-defined geographic CRS known only by its citation "
         "('User-provided projection, no formal EPSG/WKT'; GDAL: datum and ellipsoid "
         "'unknown', a sphere of 6378137 m), no EPSG code anywhere"),
    Case("sparse_tiled_uint16.tif", f"{XRS}/sparse_tiled_uint16.tif", "xarray-spatial",
         "sparse GeoTIFF (SPARSE_OK): tiles with TileByteCounts 0, which GDAL reads as "
         "zeros, uint16 without nodata, deflate"),
    Case("overview_external_ovr.tif", f"{XRS}/overview_external_ovr_uint16.tif",
         "xarray-spatial",
         "GeoTIFF uint16 with its overviews (2, 4) in a .ovr sidecar that GDAL opens with "
         "it: the full-resolution pixels must come from the .tif, not from an overview"),
    Case("lerc_float32.tif", f"{XRS}/compression_lerc_float32.tif", "xarray-spatial",
         "GeoTIFF float32 compressed with LERC (lossless: max z error 0)"),
    Case("copernicus_dem_point.tif", "dem-stitcher-3.2.0/fairbanks_tiles/fairbanks_tile_0.tif",
         "dem-stitcher",
         "GeoTIFF float32 cut from a Copernicus GLO-30 DEM tile: pixel-is-point "
         "(AREA_OR_POINT=Point; GDAL's geotransform already gives the pixel's corner), "
         "north-up, pixels of 2 x 1 arc-seconds (0.000555... x 0.000277... deg, as GLO-30 "
         "north of 50 N), a 1024 x 1024 block larger than the 201 x 381 raster"),
    # ------------------------------------------------------------------ NetCDF
    Case("lcc_km.nc", f"{STARS}/nc/lcc_km.nc", "r-cran-stars",
         "NetCDF-4 (HDF5) Daymet: Lambert conformal conic grid mapping, x/y in km (GDAL "
         "reads metres), float32 _FillValue = missing_value = -9999, a time axis",
         variables=("prcp",), isel=(("time", 0),)),
    Case("reduced.nc-sst", f"{STARS}/nc/reduced.nc", "r-cran-stars",
         "NetCDF-3 classic OISST: int16 packed (scale_factor 0.01, add_offset 0, "
         "_FillValue = missing_value = -999), latitude ascending (-89..89), longitude "
         "0..358, no grid mapping (GDAL: no CRS), time and zlev axes",
         variables=("sst",), isel=(("time", 0), ("zlev", 0))),
    Case("reduced.nc-all", f"{STARS}/nc/reduced.nc", "r-cran-stars",
         "the same file's four packed variables (sst, anom, err, ice) as four bands",
         variables=("sst", "anom", "err", "ice"), isel=(("time", 0), ("zlev", 0))),
    Case("sub.nc", f"{STARS}/nc/sub.nc", "r-cran-stars",
         "NetCDF-3 64-bit offset winds (ECMWF): int16 packed with float64 scale_factor and "
         "add_offset, _FillValue = missing_value = -32767, latitude descending, 4-D "
         "(time, level, latitude, longitude)",
         variables=("u",), isel=(("time", 3), ("level", 1))),
    Case("bcsd_obs_1999.nc", f"{STARS}/nc/bcsd_obs_1999.nc", "r-cran-stars",
         "NetCDF-3 classic, float32 _FillValue = missing_value = 1e20, latitude ascending, "
         "monthly time axis, two variables (pr, tas)",
         variables=("tas",), isel=(("time", 6),)),
    Case("cams_regional_fc.nc", f"{STARS}/nc/test_adaptor.cams_regional_fc.nc",
         "r-cran-stars",
         "NetCDF-3: longitudes 359.55..359.95 then 0.05..0.55 (a 0-360 grid crossing the "
         "prime meridian; GDAL unwraps it to -0.5..0.6), latitude descending, float32 "
         "_FillValue -999, time and level axes",
         variables=("pm10_conc",), isel=(("time", 0), ("level", 0))),
    Case("rotated_pole.nc", f"{IRIS}/rotated_pole.nc", "iris-sample-data",
         "NetCDF-4 Met Office UM: rotated_latitude_longitude grid mapping (pole 37.5 N "
         "177.5 E), grid_longitude 313..390, float32 coordinates on a 2.2 deg step "
         "(rounded: GDAL's step is 2.20000003633045), no _FillValue",
         variables=("air_pressure_at_sea_level",)),
    Case("toa_brightness_stereographic.nc", f"{IRIS}/toa_brightness_stereographic.nc",
         "iris-sample-data",
         "NetCDF-4: stereographic grid mapping at the north pole, x/y in metres (float32, "
         "rounded steps of ~35 km), 2-D lat/lon auxiliary coordinates besides the 1-D "
         "x/y (so not curvilinear), float32 _FillValue -1.0737418e9",
         variables=("data",)),
    Case("A1B_north_america.nc", f"{IRIS}/A1B_north_america.nc", "iris-sample-data",
         "NetCDF-4: latitude_longitude grid mapping on a sphere (R 6371229 m), longitudes "
         "225..315 (GDAL moves them to -135..-45), latitude ascending, 240 steps of a "
         "360_day calendar (xarray needs cftime)",
         variables=("air_temperature",), isel=(("time", 0),)),
    Case("3B42_Daily.nc", f"{STARS}/nc/3B42_Daily.19991231.7.test.nc", "r-cran-stars",
         "NetCDF-3 TRMM precipitation stored (lon, lat), float32 _FillValue -9999.9",
         variables=("precipitation",), oracle="xarray",
         why_xarray="the variable is stored (lon, lat): GDAL's netCDF driver takes the last "
                    "dim as x, so it reads latitude as x and finds no geotransform at all"),
    Case("test_stageiv_xyt.nc", f"{STARS}/nc/test_stageiv_xyt.nc", "r-cran-stars",
         "NetCDF-3 Stage IV precipitation on a polar stereographic grid given only as 2-D "
         "lat/lon (no x/y coordinates, no grid mapping): curvilinear, NaN _FillValue",
         variables=("Total_precipitation_surface_1_Hour_Accumulation",),
         isel=(("time", 0),), refused=REFUSED_CURVILINEAR),
    Case("glcfs_wvh.nc", f"{STARS}/nc/c201923412.out1_4.nc", "r-cran-stars",
         "NetCDF-3 GLCFS wave height on dims (ny, nx) with 2-D lat/lon only: curvilinear, "
         "missing_value -99999 without _FillValue",
         variables=("wvh",), isel=(("time", 0),), refused=REFUSED_CURVILINEAR),
    # ------------------------------------------------------------------ Zarr
    Case("bcsd_obs_1999_v2.zarr", "made/bcsd_obs_1999_v2.zarr", "made",
         "Zarr v2 (consolidated) as xarray writes it after rioxarray's write_crs: "
         "spatial_ref with crs_wkt, latitude ascending (GDAL's Zarr driver reads it "
         "south-up), float32 _FillValue 1e20, chunks of the whole variable",
         variables=("tas",), isel=(("time", 6),)),
    Case("bcsd_obs_1999_v3.zarr", "made/bcsd_obs_1999_v3.zarr", "made",
         "Zarr v3 (xarray's default format) of the same dataset",
         variables=("tas",), isel=(("time", 6),), oracle="xarray",
         why_xarray="GDAL 3.10's Zarr driver does not read Zarr v3 as zarr-python 3 writes "
                    "it ('Unsupported codec: bytes')"),
)
