"""
A climate time series on a latitude/longitude grid
==================================================

Model output usually comes on a ``(time, lat, lon)`` grid with latitude ascending, south
row first. xr_tiles writes it as a VRT with one band per time step, described by its
date; GDAL reads it back north-up, so maps and point reads come out the right way round.
"""

# %%
# 240 years of a climate projection
# ---------------------------------
# ``A1B_north_america.nc`` from iris's sample data (PyPI): the yearly mean near-surface air
# temperature of a Met Office Unified Model run under the IPCC's A1B emissions scenario,
# 1860 to 2099, on a 1.875° x 1.25° grid, latitude ascending, in a 360-day calendar.
import pathlib
import tempfile

import matplotlib.pyplot as plt
import rasterio
import rasterio.plot
import xarray as xr

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

from _data import corpus_file

model = xr.open_dataset(corpus_file("iris-sample-data", "A1B_north_america.nc"),
                        decode_coords="all", chunks={})
tas = (
    (model.air_temperature - 273.15)
    .assign_attrs(units="degC", long_name="near-surface air temperature")
    .assign_coords(longitude=model.longitude - 360)  # 225° to 315° east: -135° to -45°
    .rio.write_crs(model.air_temperature.rio.crs)  # the model's sphere
)
print(tas)

# %%
# One band per year
# -----------------
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
vrt = tas.tiles.to_vrt(pathlib.Path(workdir.name) / "tas.vrt", chunks=32)
with rasterio.open(vrt) as dataset:
    print(dataset.count, "bands:", dataset.descriptions[:2], "...", dataset.descriptions[-1])
    print("transform:", tuple(dataset.transform)[:6])
    stack = dataset.read()
    extent = rasterio.plot.plotting_extent(dataset)
    pixel_height = dataset.transform.e
    # Every band at two points, found by coordinates: a time series out of the VRT.
    points = {(lon, lat): dataset.index(lon, lat) for lon, lat in [(-105, 55), (-75, 20)]}
years = [int(description[:4]) for description in dataset.descriptions]
series = {point: stack[:, row, col] for point, (row, col) in points.items()}
warming = stack[-30:].mean(axis=0) - stack[:30].mean(axis=0)

# %%
# A map and two series, read back from tas.vrt
# --------------------------------------------
# ``extent`` comes from the VRT's transform: with a negative pixel height the first row
# is the north, and the land warms most in the north, as it should.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5), width_ratios=[1.2, 1],
                                  layout="constrained")
image = left.imshow(warming, extent=extent, cmap="YlOrRd", vmin=0, vmax=8)
fig.colorbar(image, ax=left, label="°C", shrink=0.85)
for ((lon, lat), values), colour in zip(series.items(), ["tab:blue", "tab:green"], strict=True):
    left.plot(lon, lat, marker="o", markersize=9, color=colour, markeredgecolor="white")
    right.plot(years, values, color=colour, label=f"{lat}° N, {-lon}° W")
left.set(title=f"bands {years[-30]}-{years[-1]} minus {years[0]}-{years[29]}",
         xlabel="longitude (°)", ylabel="latitude (°)")
right.set(title="every band at two points", ylabel="°C")
right.legend(loc="upper left")
fig.suptitle(f"tas.vrt: {len(years)} yearly bands, pixel height {pixel_height:+.2f}° "
             "(north-up), from ascending latitude")
plt.show()
