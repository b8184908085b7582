"""
A sparse swath: skipping empty tiles
====================================

A satellite swath fills a narrow band of its grid; the rest is nodata. With
``skip_empty=True`` a tile whose block holds nodata only is neither written nor listed in
the VRT, and GDAL reads nodata there: fewer files, less time, same raster.
"""

# %%
# A swath across a 2048 x 2048 grid
# ---------------------------------
# A curved ground track 500 pixels wide, NaN outside it, in 256 x 256 chunks: 64 tiles.
import logging
import pathlib
import sys
import tempfile
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import xarray as xr
from matplotlib.patches import Patch, Rectangle

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

size, chunk = 2048, 256
row, col = np.mgrid[0:size, 0:size].astype("float32")
track = 250 + 0.75 * row + 120 * np.sin(row / 300)
across = col - track
signal = 280 + 15 * np.sin(row / 90) * np.cos(col / 70) + 0.02 * across
values = np.where(np.abs(across) < 250, signal, np.nan).astype("float32")
swath = xr.DataArray(
    values,
    dims=("y", "x"),
    coords={"y": 1_000_000 - 1000 * (row[:, 0] + 0.5), "x": 200_000 + 1000 * (col[0] + 0.5)},
    name="brightness_temperature",
    attrs={"units": "K"},
).rio.write_crs("EPSG:3857").rio.write_nodata(np.nan).chunk(chunk)

# %%
# Write it, skipping the empty tiles
# ----------------------------------
# The count of skipped tiles goes to the ``xr_tiles`` logger at INFO.
logger, handler = logging.getLogger("xr_tiles"), logging.StreamHandler(sys.stdout)
logger.addHandler(handler)
logger.setLevel(logging.INFO)
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = swath.tiles.to_vrt(pathlib.Path(workdir.name) / "swath.vrt", skip_empty=True)
logger.removeHandler(handler)
files = list(pathlib.Path(workdir.name).glob("swath_tiles/*/*.tif"))
print(f"{len(files)} tile files on disk")

# %%
# What the VRT lists, and what GDAL reads
# ---------------------------------------
# The VRT keeps the full extent; its sources are the written tiles only.
written = {
    (int(rect.get("yOff")) // chunk, int(rect.get("xOff")) // chunk)
    for rect in ET.parse(vrt).getroot().iter("DstRect")
}
with rasterio.open(vrt) as dataset:
    print(f"{dataset.width} x {dataset.height}, nodata {dataset.nodata}")
    back = dataset.read(1)
assert np.array_equal(back, values, equal_nan=True)

# %%
# Written and skipped tiles
# -------------------------
tiles = size // chunk
fig, ax = plt.subplots(figsize=(7.5, 7), layout="constrained")
ax.set_facecolor("0.92")
image = ax.imshow(back, cmap="inferno", interpolation="antialiased")
for r in range(tiles):
    for c in range(tiles):
        done = (r, c) in written
        ax.add_patch(Rectangle(
            (c * chunk - 0.5, r * chunk - 0.5), chunk, chunk, fill=not done, facecolor="none",
            hatch=None if done else "//", edgecolor="tab:green" if done else "0.6",
            lw=1.5 if done else 0.6,
        ))
fig.colorbar(image, ax=ax, shrink=0.7, label="brightness temperature (K)")
ax.legend(handles=[
    Patch(edgecolor="tab:green", facecolor="none", label="written"),
    Patch(edgecolor="0.6", facecolor="none", hatch="//", label="skipped (nodata only)"),
], loc="upper right")
ax.set_xticks([])
ax.set_yticks([])
ax.set_title(f"swath.vrt with skip_empty=True: {len(written)} of {tiles * tiles} tiles written, "
             f"{tiles * tiles - len(written)} skipped")
plt.show()
