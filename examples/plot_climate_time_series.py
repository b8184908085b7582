"""
A climate time series on a latitude/longitude grid
==================================================

Model output usually comes on a ``(time, lat, lon)`` grid with latitude ascending, south
row first. xr_tiles writes it as a VRT with one band per time step, described by its
date; GDAL reads it back north-up, so maps and point reads come out the right way round.
"""

# %%
# Twelve months of surface temperature
# ------------------------------------
# A 2-degree global grid, latitude from -89 to 89, with a seasonal cycle that is opposite
# in the two hemispheres and a few warm and cold patches.
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
import rasterio.plot
import xarray as xr

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

lat = np.arange(-89.0, 90.0, 2.0)
lon = np.arange(-179.0, 180.0, 2.0)
time = pd.date_range("2020-01-01", periods=12, freq="MS")
phi, lam = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
month = np.arange(12)[:, None, None]


def patch(lat0, lon0, width):
    return np.exp(-((np.degrees(phi) - lat0) ** 2 + (np.degrees(lam) - lon0) ** 2) / width**2)


climate = 45 * np.cos(phi) - 20 + 12 * patch(23, 15, 12) - 25 * patch(72, -40, 10)
season = -18 * np.sin(phi) * np.cos(2 * np.pi * month / 12)
tas = xr.DataArray(
    (climate + season).astype("float32"),
    dims=("time", "lat", "lon"),
    coords={"time": time, "lat": lat, "lon": lon},
    name="tas",
    attrs={"units": "degC", "long_name": "near-surface air temperature"},
).rio.write_crs("EPSG:4326").chunk({"time": -1, "lat": 45, "lon": 90})
print(tas)

# %%
# One band per month
# ------------------
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = tas.tiles.to_vrt(pathlib.Path(workdir.name) / "tas.vrt")
with rasterio.open(vrt) as dataset:
    print(dataset.count, "bands:", dataset.descriptions[:3], "...")
    print("transform:", tuple(dataset.transform)[:6])
    months = {dataset.descriptions[i - 1]: dataset.read(i) for i in (1, 4, 7, 10)}
    extent = rasterio.plot.plotting_extent(dataset)
    pixel_height = dataset.transform.e
    # Every band at two points, found by coordinates: a time series out of the VRT.
    points = {name: dataset.index(lon0, lat0) for name, lat0, lon0 in
              [("60° N, 90° E", 60, 90), ("40° S, 60° W", -40, -60)]}
    series = {name: dataset.read()[:, row, col] for name, (row, col) in points.items()}

# %%
# Maps and series, read back from tas.vrt
# ---------------------------------------
# ``extent`` comes from the VRT's transform: with a negative pixel height the first row is
# the north. Siberia peaks in July and Patagonia in January, as they should.
fig = plt.figure(figsize=(12, 5.6), layout="constrained")
grid = fig.add_gridspec(2, 3, width_ratios=[1, 1, 0.8])
for (description, pixels), cell in zip(months.items(), [(0, 0), (0, 1), (1, 0), (1, 1)],
                                       strict=True):
    ax = fig.add_subplot(grid[cell])
    image = ax.imshow(pixels, extent=extent, cmap="RdYlBu_r", vmin=-45, vmax=40)
    ax.set_title(f"band '{description}'")
    ax.set_xticks(range(-180, 181, 90))
    ax.set_yticks(range(-90, 91, 45))
fig.colorbar(image, ax=fig.axes, location="left", label="°C", shrink=0.7)
line = fig.add_subplot(grid[:, 2])
for name, values in series.items():
    line.plot(range(1, 13), values, marker="o", label=name)
line.set_xticks(range(1, 13), labels=list("JFMAMJJASOND"))
line.set_ylabel("°C")
line.legend()
line.set_title("every band at two points")
fig.suptitle(f"tas.vrt: 12 monthly bands, EPSG:4326, pixel height {pixel_height:+.0f}° "
             "(north-up), from ascending latitude")
plt.show()
