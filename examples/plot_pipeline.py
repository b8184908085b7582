"""
From an xarray pipeline to a mosaic, and back into xarray
=========================================================

``.tiles.to_vrt`` is one more step of a method chain: the chain stays lazy until the write
computes it, tile by tile. Reading the VRT with ``rioxarray.open_rasterio(vrt,
chunks=True)`` gives a dask-backed DataArray again, chunked on the tiles' internal blocks,
ready for the next chain.
"""

# %%
# A lazy scene: land surface temperature under clouds
# ---------------------------------------------------
import pathlib
import tempfile
import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import rioxarray
import xarray as xr

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

size = 2048
y, x = da.meshgrid(da.arange(size, chunks=512, dtype="float32"),
                   da.arange(size, chunks=512, dtype="float32"), indexing="ij")
kelvin = 295 + 12 * da.sin(x / 240) * da.cos(y / 330) + 4 * da.sin((x - y) / 45)
cloud = da.sin(x / 97 + da.cos(y / 130)) * da.cos(y / 83 - da.sin(x / 150))
scene = xr.Dataset(
    {"lst": (("y", "x"), kelvin), "cloud": (("y", "x"), cloud)},
    coords={"y": 5_300_000 - 100 * (np.arange(size) + 0.5),
            "x": 400_000 + 100 * (np.arange(size) + 0.5)},
).rio.write_crs("EPSG:32632")


def to_celsius(array):
    return (array - 273.15).assign_attrs(units="degC", long_name="land surface temperature")


# %%
# The chain: mask the clouds, convert, coarsen 4 x 4, write
# ---------------------------------------------------------
# Nothing is computed until ``to_vrt``; each tile is then computed once and written.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = (
    scene.lst
    .where(scene.cloud < 0.4)
    .pipe(to_celsius)
    .coarsen(y=4, x=4).mean()
    .astype("float32")
    .rio.write_nodata(np.nan)
    .tiles.to_vrt(pathlib.Path(workdir.name) / "lst.vrt", overviews="auto")
)
print(vrt.name, "written")

# %%
# Back into xarray, lazily
# ------------------------
# ``chunks=True`` lets dask choose chunks aligned on the file's blocks; ``masked=True`` turns
# nodata into NaN. (rioxarray 0.19 itself passes xarray chunks in a form it deprecates.)
warnings.filterwarnings("ignore", "Supplying chunks as dimension-order tuples", FutureWarning)
lst = rioxarray.open_rasterio(vrt, chunks=True, masked=True).squeeze("band", drop=True)
print(lst)
warm = lst.where(lst > 25).count() / lst.count()
zonal = lst.mean("x")
print(f"{100 * float(warm):.0f}% of the clear pixels are above 25 °C")

# %%
# Input and output
# ----------------
# Left: a corner of the input at full resolution; middle: the mosaic as read back, each
# pixel 4 x 4 of the input; right: its row means, computed lazily from the VRT.
fig, (before, after, profile) = plt.subplots(1, 3, figsize=(13, 4.4), width_ratios=[1, 1, 0.5],
                                             layout="constrained")
corner = scene.lst.where(scene.cloud < 0.4)[:512, :512] - 273.15
corner.plot.imshow(ax=before, cmap="RdYlBu_r", vmin=5, vmax=40, add_colorbar=False)
before.set_title("input: 512 x 512 px of 2048 x 2048", fontsize=10)
lst.plot.imshow(ax=after, cmap="RdYlBu_r", vmin=5, vmax=40,
                cbar_kwargs={"label": "°C", "shrink": 0.8})
after.add_patch(plt.Rectangle((corner.x[0], corner.y[-1]), float(corner.x[-1] - corner.x[0]),
                              float(corner.y[0] - corner.y[-1]), fill=False, edgecolor="black"))
after.set_title(f"lst.vrt, open_rasterio(chunks=True): {lst.sizes['x']} x {lst.sizes['y']} px",
                fontsize=10)
zonal.plot(ax=profile, y="y")
profile.set_xlabel("row mean (°C)")
profile.set_title(f"{100 * float(warm):.0f}% of clear pixels > 25 °C", fontsize=10)
for ax in (before, after, profile):
    ax.ticklabel_format(style="plain", useOffset=False)
    ax.tick_params(labelsize=7)
plt.show()
