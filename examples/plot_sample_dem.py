"""
A real DEM: matplotlib's Jacksboro fault
========================================

matplotlib ships a 3 arc-second elevation model of the Jacksboro fault, Tennessee, as
sample data. Here it is written as a mosaic of 128 x 128 tiles, read back through GDAL,
and drawn as a hillshade with the tiles the VRT names drawn over it.
"""

# %%
# The sample DEM as a georeferenced DataArray
# -------------------------------------------
# The file holds an int16 elevation grid, north row first, and its bounds in degrees.
import pathlib
import tempfile
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import rasterio.plot
import xarray as xr
from matplotlib import cbook
from matplotlib.colors import LightSource
from matplotlib.patches import Rectangle

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

sample = cbook.get_sample_data("jacksboro_fault_dem.npz")
elevation = sample["elevation"]
step, west = float(sample["dx"]), float(sample["xmin"])
north = max(float(sample["ymin"]), float(sample["ymax"]))  # the file swaps the two
rows, cols = elevation.shape
dem = xr.DataArray(
    elevation,
    dims=("y", "x"),
    coords={"y": north - step * (np.arange(rows) + 0.5),
            "x": west + step * (np.arange(cols) + 0.5)},
    name="elevation",
    attrs={"units": "m"},
).rio.write_crs("EPSG:4326")
print(f"{cols} x {rows} {dem.dtype}, {dem.min().item()} to {dem.max().item()} m")

# %%
# Write it as 128 x 128 tiles
# ---------------------------
# numpy-backed data is cut into tiles by ``chunks=``; the last row and column are ragged.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = dem.tiles.to_vrt(pathlib.Path(workdir.name) / "jacksboro.vrt", chunks=128, codec="deflate")
tiles = sorted(pathlib.Path(workdir.name).glob("jacksboro_tiles/*/*.tif"))
print(f"{len(tiles)} tiles:", ", ".join(tile.name for tile in tiles))

# %%
# Read it back, and where each tile sits
# --------------------------------------
# The VRT places every tile with a ``DstRect`` in pixels of the mosaic.
with rasterio.open(vrt) as dataset:
    back, transform, units = dataset.read(1), dataset.transform, dataset.units[0]
    extent = rasterio.plot.plotting_extent(dataset)
assert np.array_equal(back, elevation)
rects = [
    {key: int(float(value)) for key, value in rect.attrib.items()}
    for rect in ET.parse(vrt).getroot().iter("DstRect")
]

# %%
# A hillshade with the tile grid
# ------------------------------
# Pixels are about 75 m east-west and 93 m north-south here; ``vert_exag`` and the
# ``dx``/``dy`` in metres give the relief its true slope.
shade = LightSource(azdeg=315, altdeg=40).shade(
    back.astype(float), cmap=plt.colormaps["gist_earth"], blend_mode="overlay",
    vert_exag=2, dx=step * 111_320 * np.cos(np.radians(36.6)), dy=step * 111_320,
)
fig, ax = plt.subplots(figsize=(8, 6.4), layout="constrained")
ax.imshow(shade, extent=extent)
for rect in rects:
    x0, y0 = transform * (rect["xOff"], rect["yOff"])
    x1, y1 = transform * (rect["xOff"] + rect["xSize"], rect["yOff"] + rect["ySize"])
    ax.add_patch(Rectangle((x0, y1), x1 - x0, y0 - y1, fill=False, edgecolor="white", lw=1.2))
    if rect["xSize"] > 64:
        ax.text(x0 + step * 6, y0 - step * 6, f"r{rect['yOff'] // 128}_c{rect['xOff'] // 128}",
                color="white", va="top", fontsize=9)
ax.set_aspect(1 / np.cos(np.radians(36.6)))  # a degree of longitude is shorter here
fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(back.min(), back.max()), "gist_earth"),
             ax=ax, label=f"elevation ({units})", shrink=0.8)
ax.set_xlabel("longitude (°)")
ax.set_ylabel("latitude (°)")
ax.set_title(f"jacksboro.vrt: {cols} x {rows} px in {len(rects)} tiles of 128 x 128, "
             "read back bit for bit")
plt.show()
