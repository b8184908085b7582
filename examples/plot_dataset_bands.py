"""
A Dataset becomes one multi-band VRT
====================================

A Dataset is written as one VRT with a band per data variable, each band described by
its variable's name. Here the Jacksboro DEM and two terrain derivatives, slope and aspect
class, of three dtypes: bands of different dtypes go to separate files per tile.
"""

# %%
# Elevation, slope and aspect on one grid
# ---------------------------------------
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import xarray as xr
from matplotlib import cbook

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

sample = cbook.get_sample_data("jacksboro_fault_dem.npz")
elevation = sample["elevation"]
step = float(sample["dx"])
rows, cols = elevation.shape
north = max(float(sample["ymin"]), float(sample["ymax"]))
y = north - step * (np.arange(rows) + 0.5)
x = float(sample["xmin"]) + step * (np.arange(cols) + 0.5)

dz_dy, dz_dx = np.gradient(elevation.astype("float32"), 92.6, 74.4)  # pixel size in metres
slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype("float32")
aspect = ((np.degrees(np.arctan2(-dz_dx, dz_dy)) + 22.5) % 360 // 45).astype("uint8")  # N, NE, ...

terrain = xr.Dataset(
    {
        "elevation": (("y", "x"), elevation, {"units": "m"}),
        "slope": (("y", "x"), slope, {"units": "degree"}),
        "aspect": (("y", "x"), aspect, {"long_name": "aspect sector (0 = north, clockwise)"}),
    },
    coords={"y": y, "x": x},
).rio.write_crs("EPSG:4326")
print(terrain)

# %%
# One VRT for the Dataset
# -----------------------
# int16, float32 and uint8: each tile of 256 x 256 is three files, ``_part1`` to ``_part3``.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = terrain.tiles.to_vrt(pathlib.Path(workdir.name) / "terrain.vrt", chunks=256)
files = sorted(pathlib.Path(workdir.name).glob("terrain_tiles/*/*.tif"))
print([path.name for path in files])

# %%
# Read the bands back
# -------------------
# GDAL names each band after its variable and keeps its dtype and units.
with rasterio.open(vrt) as dataset:
    bands = [
        (dataset.descriptions[i - 1], dataset.dtypes[i - 1], dataset.units[i - 1],
         dataset.read(i))
        for i in dataset.indexes
    ]
for description, dtype, units, _ in bands:
    print(f"{description!r}: {dtype}, units {units!r}")

# %%
# The three bands of terrain.vrt, and the files of its tiles
# ----------------------------------------------------------
# Bottom right: the bytes of each part, over all tiles; each part holds one dtype.
parts, tiles = {}, set()
for path in files:
    tile, part = path.stem.rsplit("_", 1)
    with rasterio.open(path) as tile_file:
        kind = f"*_{part}.tif\n{tile_file.count} band, {tile_file.dtypes[0]}"
    parts[kind] = parts.get(kind, 0) + path.stat().st_size
    tiles.add(tile)
styles = [
    {"cmap": "gist_earth"},
    {"cmap": "magma", "vmax": 30},
    {"cmap": plt.colormaps["twilight"].resampled(8), "vmin": -0.5, "vmax": 7.5},
]
fig, axes = plt.subplots(2, 2, figsize=(9, 7), layout="constrained")
for ax, (description, dtype, units, pixels), style in zip(axes.flat[:3], bands, styles,
                                                          strict=True):
    image = ax.imshow(pixels, interpolation="nearest", **style)
    ax.set_title(f"band '{description}', {dtype}" + (f", {units}" if units else ""))
    ax.set_xticks([])
    ax.set_yticks([])
    colorbar = fig.colorbar(image, ax=ax, shrink=0.9)
colorbar.set_ticks(range(8), labels=["N", "NE", "E", "SE", "S", "SW", "W", "NW"])
sizes = axes[1, 1]
sizes.barh(sorted(parts), [parts[kind] / 1000 for kind in sorted(parts)], color="tab:gray")
sizes.invert_yaxis()
sizes.set(xlabel="kB, all tiles", title=f"{len(tiles)} tiles, each in {len(parts)} files")
fig.suptitle("terrain.vrt: one band per variable of the Dataset")
plt.show()
