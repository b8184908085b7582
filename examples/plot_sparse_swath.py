"""
Sparse data: skipping empty tiles
=================================

Sea ice, a satellite swath or a flood extent fill a small part of their grid; the rest is
nodata. With ``skip_empty=True`` a tile whose block holds nodata only is neither written
nor listed in the VRT, and GDAL reads nodata there: fewer files, less time, same raster.
"""

# %%
# Sea ice on a global grid
# ------------------------
# ``reduced.nc``, which R's stars package ships: NOAA's daily optimum interpolation SST
# analysis of 31 December 1981 on a 2° grid. Its sea-ice concentration, stored as int16
# with a scale of 0.01, is NaN over land and open water: only the polar seas hold data.
# Longitudes from -180°, in 10 x 10 chunks: 162 tiles.
import logging
import pathlib
import sys
import tempfile
import xml.etree.ElementTree as ET

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import rasterio.plot
import xarray as xr
from matplotlib.patches import Patch, Rectangle

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

from _data import corpus_file

analysis = xr.open_dataset(corpus_file("r-cran-stars", "nc/reduced.nc"))
ice = (
    analysis.ice.squeeze(drop=True)
    .assign_coords(lon=(analysis.lon + 180) % 360 - 180).sortby("lon")
    .rio.write_crs("EPSG:4326")
    .chunk(10)
)
print(f"{dict(ice.sizes)}: {float(ice.notnull().mean()):.0%} of the pixels hold data")

# %%
# Write it, skipping the empty tiles
# ----------------------------------
# The count of skipped tiles goes to the ``xr_tiles`` logger at INFO.
logger, handler = logging.getLogger("xr_tiles"), logging.StreamHandler(sys.stdout)
logger.addHandler(handler)
logger.setLevel(logging.INFO)
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = ice.tiles.to_vrt(pathlib.Path(workdir.name) / "ice.vrt", skip_empty=True)
logger.removeHandler(handler)
files = list(pathlib.Path(workdir.name).glob("ice_tiles/*/*.tif"))
print(f"{len(files)} tile files on disk")

# %%
# What the VRT lists, and what GDAL reads
# ---------------------------------------
# The VRT keeps the full extent; its sources are the written tiles only. The tiles keep the
# file's packing (int16, scale 0.01, nodata -999), which GDAL applies on request.
chunk = 10
written = {
    (int(rect.get("yOff")) // chunk, int(rect.get("xOff")) // chunk)
    for rect in ET.parse(vrt).getroot().iter("DstRect")
}
with rasterio.open(vrt) as dataset:
    print(f"{dataset.width} x {dataset.height}, {dataset.dtypes[0]}, "
          f"scale {dataset.scales[0]:g}, nodata {dataset.nodata:g}")
    packed, transform = dataset.read(1, masked=True), dataset.transform
    back = (packed * dataset.scales[0] + dataset.offsets[0]).filled(np.nan)
    extent = rasterio.plot.plotting_extent(dataset)
np.testing.assert_allclose(back, ice.values[::-1], rtol=1e-6)  # north-up; NaN where NaN

# %%
# Written and skipped tiles
# -------------------------
rows, cols = back.shape[0] // chunk, back.shape[1] // chunk
fig, ax = plt.subplots(figsize=(9, 4.7), layout="constrained")
ax.set_facecolor("0.3")  # nodata: land and open water
image = ax.imshow(back, extent=extent, cmap="Blues_r", vmin=0, vmax=1,
                  interpolation="nearest")
for r in range(rows):
    for c in range(cols):
        done = (r, c) in written
        west, north = transform * (c * chunk, r * chunk)
        ax.add_patch(Rectangle(
            (west, north - 20), 20, 20, fill=False, hatch=None if done else "//",
            edgecolor="tab:orange" if done else "0.55", lw=1.4 if done else 0.5,
        ))
fig.colorbar(image, ax=ax, shrink=0.8, label="sea-ice concentration")
ax.legend(handles=[
    Patch(edgecolor="tab:orange", facecolor="none", label="written"),
    Patch(edgecolor="0.55", facecolor="0.3", hatch="//", label="skipped (nodata only)"),
], loc="center left", framealpha=1)
ax.set(xticks=range(-180, 181, 60), yticks=range(-90, 91, 30),
       xlabel="longitude (°)", ylabel="latitude (°)")
ax.set_title(f"ice.vrt with skip_empty=True: {len(written)} of {rows * cols} tiles written, "
             f"{rows * cols - len(written)} skipped")
plt.show()
