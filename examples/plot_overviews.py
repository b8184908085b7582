"""
Overviews: the pyramid GDAL reads
=================================

``overviews="auto"`` gives the mosaic a pyramid: every tile is a Cloud Optimized GeoTIFF
with its own reduced-resolution levels, and the VRT lists one ``<Overview>`` per level.
Here a Landsat 7 scene is written with ``overviews="auto"``; each level is then opened as
GDAL sees it (the ``OVERVIEW_LEVEL`` open option) and read whole, timed.
"""

# %%
# A Landsat 7 scene
# -----------------
# ``L7_ETMs.tif``, which R's stars package ships: 349 x 352 pixels of 28.5 m around
# Olinda, Brazil, six uint8 bands (ETM+ 1-5 and 7). ``corpus_file`` fetches the Debian
# package once, checks the file's sha256 and caches it (``examples/_data``).
import pathlib
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import rioxarray

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

from _data import corpus_file

scene = rioxarray.open_rasterio(corpus_file("r-cran-stars", "tif/L7_ETMs.tif"))
print(scene)

# %%
# Write it with a pyramid
# -----------------------
# Tiles of 128 x 128 in internal blocks of 64: "auto" halves until the whole scene fits in
# one block, factors 2, 4 and 8; 128 is a multiple of each, so the levels are exact.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = scene.tiles.to_vrt(pathlib.Path(workdir.name) / "olinda.vrt", chunks=128, blocksize=64,
                         overviews="auto", resampling="average")
with rasterio.open(vrt) as dataset:
    factors = dataset.overviews(1)
print("overview factors:", factors)

# %%
# Read every level as GDAL sees it
# --------------------------------
# ``OVERVIEW_LEVEL=i`` opens the i-th overview as a dataset of its own; without it, the
# full resolution. Each read opens the VRT afresh: near infrared, red and green, the
# false colours in which vegetation is red.
levels = []
for level, factor in [(None, 1), *enumerate(factors)]:
    options = {} if level is None else {"OVERVIEW_LEVEL": level}
    start = time.perf_counter()
    with rasterio.open(vrt, **options) as dataset:
        pixels = dataset.read([4, 3, 2])
    levels.append((factor, pixels, time.perf_counter() - start))
    print(f"1/{factor}: {pixels.shape[2]} x {pixels.shape[1]} in {levels[-1][2] * 1000:.1f} ms")

# %%
# The pyramid, level by level
# ---------------------------
# Each level has a quarter of the pixels of the one before; colours stretched between
# each band's 2nd and 98th percentile at full resolution.
low, high = np.percentile(levels[0][1], [2, 98], axis=(1, 2))[:, :, None, None]
fig, axes = plt.subplots(2, 2, figsize=(8, 8.2), layout="constrained")
for ax, (factor, pixels, seconds) in zip(axes.flat, levels, strict=True):
    rgb = np.clip((pixels - low) / (high - low), 0, 1).transpose(1, 2, 0)
    ax.imshow(rgb, interpolation="nearest")
    name = "full resolution" if factor == 1 else f"overview 1/{factor}"
    ax.set_title(f"{name}: {pixels.shape[2]} x {pixels.shape[1]} px, "
                 f"{seconds * 1000:.1f} ms", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("olinda.vrt, overviews='auto': each level read whole through GDAL")
plt.show()
