"""
From an xarray pipeline to a mosaic, and back into xarray
=========================================================

``.tiles.to_vrt`` is one more step of a method chain: the chain stays lazy until the write
computes it, tile by tile. Reading the VRT with ``rioxarray.open_rasterio(vrt,
chunks=True)`` gives a dask-backed DataArray again, chunked on the tiles' internal blocks,
ready for the next chain.
"""

# %%
# A Landsat 7 scene, opened lazily
# --------------------------------
# ``L7_ETMs.tif``, which R's stars package ships: six bands of Landsat 7 over Olinda,
# Brazil, 28.5 m pixels, read block by block as dask needs them.
import pathlib
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
import rioxarray

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

from _data import corpus_file

scene = rioxarray.open_rasterio(corpus_file("r-cran-stars", "tif/L7_ETMs.tif"),
                                chunks={"band": -1, "y": 128, "x": 128})


def ndvi(bands):
    """The normalized difference vegetation index, from ETM+ bands 3 (red) and 4 (NIR)."""
    red, nir = bands.sel(band=3).astype("float32"), bands.sel(band=4).astype("float32")
    return ((nir - red) / (nir + red)).assign_attrs(long_name="NDVI")


# %%
# The chain: NDVI, water masked out, write
# ----------------------------------------
# Nothing is computed until ``to_vrt``; each tile is then computed once and written.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = (
    scene
    .pipe(ndvi)
    .where(lambda index: index > -0.4)  # water: about -0.65 in these digital numbers
    .rio.write_nodata(np.nan)
    .tiles.to_vrt(pathlib.Path(workdir.name) / "ndvi.vrt", chunks=128)
)
print(vrt.name, "written")

# %%
# Back into xarray, lazily
# ------------------------
# ``chunks=True`` lets dask choose chunks aligned on the file's blocks; ``masked=True`` turns
# nodata into NaN. (rioxarray 0.19 itself passes xarray chunks in a form it deprecates.)
warnings.filterwarnings("ignore", "Supplying chunks as dimension-order tuples", FutureWarning)
index = rioxarray.open_rasterio(vrt, chunks=True, masked=True).squeeze("band", drop=True)
print(index)
green = float((index > 0.2).sum() / index.count())
print(f"{green:.0%} of the land pixels have an NDVI above 0.2")

# %%
# Input and output
# ----------------
# Left: the input in false colours (near infrared, red, green: vegetation is red); right:
# the NDVI as read back from the mosaic, water left out.
false_colour = scene.sel(band=[4, 3, 2]).values.transpose(1, 2, 0).astype("float32")
low, high = np.percentile(false_colour, [2, 98], axis=(0, 1))
fig, (before, after) = plt.subplots(1, 2, figsize=(10, 4.6), layout="constrained")
before.imshow(np.clip((false_colour - low) / (high - low), 0, 1))
before.set_title("input: L7_ETMs.tif, bands 4, 3, 2", fontsize=11)
index.plot.imshow(ax=after, cmap="RdYlGn", vmin=-0.4, vmax=0.5, add_labels=False,
                  cbar_kwargs={"label": "NDVI", "shrink": 0.85})
after.set_aspect("equal")
after.set_title(f"ndvi.vrt via open_rasterio(chunks=True): {green:.0%} above 0.2",
                fontsize=11)
for ax in (before, after):
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
