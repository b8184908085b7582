"""Write a synthetic DEM as a VRT mosaic of GeoTIFF tiles with overviews, then read it
back with GDAL.

Run: .venv/bin/python examples/quickstart.py
"""

from __future__ import annotations

import pathlib

import dask.array as da
import numpy as np
import rasterio
import xarray as xr

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

OUTPUT = pathlib.Path(__file__).parent / "output" / "dem.vrt"


def synthetic_dem(size: int = 2048, chunk: int = 512) -> xr.DataArray:
    """A smooth, lazily computed elevation field on a 30 m UTM grid."""
    y, x = da.meshgrid(
        da.arange(size, chunks=chunk, dtype="float32"),
        da.arange(size, chunks=chunk, dtype="float32"),
        indexing="ij",
    )
    elevation = 500 + 300 * da.sin(x / 150) * da.cos(y / 210) + 0.05 * (x + y)
    dem = xr.DataArray(
        elevation.astype("float32"),
        dims=("y", "x"),
        coords={"y": 4_100_000 - 30 * (np.arange(size) + 0.5), "x": 600_000 + 30 * (np.arange(size) + 0.5)},
        name="elevation",
        attrs={"units": "m", "source": "xr_tiles quickstart"},
    )
    return dem.rio.write_crs("EPSG:32633").rio.write_nodata(-9999.0)


def main() -> None:
    dem = synthetic_dem()
    path = dem.tiles.to_vrt(OUTPUT, codec="zstd", overviews="auto", resampling="average", mode="w")
    tiles = sorted((path.parent / "dem_tiles").glob("*/*.tif"))
    print(f"wrote {path} and {len(tiles)} tiles in dem_tiles/{tiles[0].parent.name}/")
    with rasterio.open(path) as dataset:
        print(f"GDAL reads: {dataset.width} x {dataset.height} {dataset.dtypes[0]}, "
              f"{dataset.crs}, nodata {dataset.nodata}, band '{dataset.descriptions[0]}' "
              f"in {dataset.units[0]}")
        print(f"transform: {tuple(dataset.transform)[:6]}")
        print(f"overview factors: {dataset.overviews(1)}; at 1/8 scale: "
              f"{dataset.read(1, out_shape=(dataset.height // 8, dataset.width // 8)).shape}")
        identical = np.array_equal(dataset.read(1), dem.values)
    print(f"bit-for-bit identical to the input: {identical}")
    if not identical:
        raise SystemExit("round trip failed")


if __name__ == "__main__":
    main()
