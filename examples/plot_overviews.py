"""
Overviews: the pyramid GDAL reads
=================================

``overviews="auto"`` gives the mosaic a pyramid: every tile is a Cloud Optimized GeoTIFF
with its own reduced-resolution levels, and the VRT lists one ``<Overview>`` per level.
Here a synthetic 2048 x 2048 DEM is written with ``overviews="auto"``; each level is then
opened as GDAL sees it (the ``OVERVIEW_LEVEL`` open option) and read whole, timed.
"""

# %%
# A synthetic DEM
# ---------------
# Fractal terrain (a random field with a power-law spectrum) on a 30 m UTM grid, in
# 512 x 512 chunks: 16 tiles, each a multiple of every factor, so the levels are exact.
import pathlib
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import xarray as xr

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

size = 2048
rng = np.random.default_rng(42)
frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.rfftfreq(size), indexing="ij"))
spectrum = rng.standard_normal(frequency.shape) + 1j * rng.standard_normal(frequency.shape)
spectrum /= np.maximum(frequency, 1 / size) ** 1.7
terrain = np.fft.irfft2(spectrum, s=(size, size)).astype("float32")
terrain = 400 + 1200 * (terrain - terrain.min()) / np.ptp(terrain)

dem = xr.DataArray(
    terrain,
    dims=("y", "x"),
    coords={"y": 4_100_000 - 30 * (np.arange(size) + 0.5),
            "x": 600_000 + 30 * (np.arange(size) + 0.5)},
    name="elevation",
    attrs={"units": "m"},
).rio.write_crs("EPSG:32633").chunk(512)

# %%
# Write it with a pyramid
# -----------------------
# "auto" halves until the whole raster fits in one 256-pixel block: factors 2, 4 and 8.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = dem.tiles.to_vrt(pathlib.Path(workdir.name) / "dem.vrt", overviews="auto",
                       resampling="average")
with rasterio.open(vrt) as dataset:
    factors = dataset.overviews(1)
print("overview factors:", factors)

# %%
# Read every level as GDAL sees it
# --------------------------------
# ``OVERVIEW_LEVEL=i`` opens the i-th overview as a dataset of its own; without it, the
# full resolution. Each read opens the VRT afresh.
levels = []
for level, factor in [(None, 1), *enumerate(factors)]:
    options = {} if level is None else {"OVERVIEW_LEVEL": level}
    start = time.perf_counter()
    with rasterio.open(vrt, **options) as dataset:
        pixels = dataset.read(1)
    levels.append((factor, pixels, time.perf_counter() - start))
    print(f"1/{factor}: {pixels.shape[1]} x {pixels.shape[0]} in {levels[-1][2] * 1000:.1f} ms")

# %%
# The pyramid side by side
# ------------------------
# Top: each level whole, the same map from a quarter of the pixels at each step, and a
# read time that falls with them. Bottom: the same 3.8 km square of every level, with its
# colours stretched, where the pixels show.
zoom_range = np.percentile(levels[0][1][896:1024, 896:1024], [1, 99])
fig, axes = plt.subplots(2, len(levels), figsize=(12, 6.6), layout="constrained")
for (top, zoom), (factor, pixels, seconds) in zip(axes.T, levels, strict=True):
    name = "full resolution" if factor == 1 else f"overview 1/{factor}"
    top.imshow(pixels, cmap="terrain", vmin=200, vmax=1700)
    top.set_title(f"{name}\n{pixels.shape[1]} x {pixels.shape[0]} px, "
                  f"read in {seconds * 1000:.1f} ms")
    window = slice(896 // factor, 1024 // factor)
    zoom.imshow(pixels[window, window], cmap="terrain", vmin=zoom_range[0], vmax=zoom_range[1],
                interpolation="nearest")
    zoom.set_title(f"centre, {128 // factor} x {128 // factor} px")
    top.add_patch(plt.Rectangle((window.start, window.start), 128 // factor, 128 // factor,
                                fill=False, edgecolor="black"))
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("dem.vrt written with overviews='auto': every level read whole through GDAL")
plt.show()
