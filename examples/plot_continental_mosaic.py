"""
A continental mosaic: nested VRT, GDAL tile index and STAC
==========================================================

Past 4,096 tiles the VRT xr_tiles writes is nested: a mosaic of sub-VRTs of 32 x 32
tiles each, which GDAL opens in constant time. ``index="gti"`` adds GDAL's tile index
(``<stem>.gti.gpkg``, read by the GTI driver) and ``stac=True`` a STAC Collection with an
Item a tile, which odc-stac loads back into xarray.
"""

# %%
# A 6144 x 4096 grid over Europe in 64 x 64 tiles: 6,144 of them
# ----------------------------------------------------------------
# On Europe's equal-area grid (EPSG:3035), 800 m pixels, with a made-up relief: no
# package ships a raster this large. Small tiles on purpose, to pass the nesting threshold
# quickly; xr_tiles warns about them (many small files cost more than their pixels), which
# this example silences.
import pathlib
import tempfile
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import odc.stac
import pystac
import rasterio
import xarray as xr
from matplotlib.patches import Polygon, Rectangle
from odc.geo.geobox import GeoBox

import xr_tiles

height, width, chunk, pixel = 4096, 6144, 64, 800.0
y = 5_500_000 - (np.arange(height) + 0.5) * pixel
x = 2_500_000 + (np.arange(width) + 0.5) * pixel
relief = (
    900 * np.sin(y[:, None] / 4e5) ** 2 * np.cos(x[None, :] / 3e5)
    + 400 * np.cos(y[:, None] / 9e4) * np.sin(x[None, :] / 1.3e5)
)
elevation = xr.DataArray(
    relief.astype("int16"), dims=("y", "x"), coords={"y": y, "x": x}, name="elevation",
).rio.write_crs("EPSG:3035").chunk(chunk)

# %%
# Write the mosaic, its tile index and its catalogue
# --------------------------------------------------
folder = tempfile.TemporaryDirectory(prefix="xr_tiles_")  # deleted at exit
workdir = pathlib.Path(folder.name)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", xr_tiles.SmallTilesWarning)
    start = time.perf_counter()
    vrt = elevation.tiles.to_vrt(workdir / "europe.vrt", overviews=[4, 16], index="gti",
                                 stac=True)
print(f"{height // chunk * width // chunk} tiles written in {time.perf_counter() - start:.1f} s")
blocks = sorted(vrt.parent.glob("europe_tiles/*/index/b*_*[0-9].vrt"))
print(f"the VRT lists {len(blocks)} sub-VRTs: {', '.join(p.name for p in blocks)}")

# %%
# Open and read through the VRT and the GTI
# -----------------------------------------
# Both open in milliseconds; a flat VRT of these tiles parses 6,144 sources at each open.
for path in (vrt, vrt.with_name("europe.gti.gpkg")):
    start = time.perf_counter()
    with rasterio.open(path) as dataset:
        opened = time.perf_counter() - start
        window = dataset.read(1, window=((1000, 1512), (2000, 2512)))
        overview = dataset.read(1, out_shape=(height // 16, width // 16))
    print(f"{path.name}: {dataset.driver}, opened in {1000 * opened:.1f} ms")
assert np.array_equal(window, elevation.values[1000:1512, 2000:2512])

# %%
# The STAC items, loaded back with odc-stac
# -----------------------------------------
# The items whose footprint meets a 512 x 512 window, loaded on the mosaic's own grid.
items = list(pystac.Collection.from_file(str(workdir / "europe_stac" / "collection.json"))
             .get_items())
with rasterio.open(vrt) as dataset:
    grid = GeoBox(dataset.shape, dataset.transform, dataset.crs)[1000:1512, 2000:2512]
west, south, east, north = grid.boundingbox
near = []
for item in items:  # proj:bbox: the item's bounds in its CRS
    left_, bottom, right_, top = item.properties["proj:bbox"]
    if left_ < east and right_ > west and bottom < north and top > south:
        near.append(item)
loaded = odc.stac.load(near, geobox=grid)
assert np.array_equal(loaded["elevation"].isel(time=0).values, window)
print(f"{len(items)} items; the {len(near)} around the window load back exactly")

# %%
# The mosaic at 1/16, its sub-VRT blocks, and a corner of the items' footprints
# -----------------------------------------------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.8), layout="constrained")
left.imshow(overview, cmap="terrain")
side = 32 * chunk / 16  # a block of 32 x 32 tiles, at 1/16
for row in range(2):
    for col in range(3):
        left.add_patch(Rectangle((col * side - 0.5, row * side - 0.5), side, side,
                                 fill=False, edgecolor="black", linewidth=1.5))
left.set(title="the GTI read at 1/16; the VRT's 6 sub-VRTs", xticks=[], yticks=[])
for item in items:  # every 8th row and column of tiles
    row, col = (int(part[1:]) for part in item.id.rsplit("-", 1)[1].split("_"))
    if row % 8 == 0 and col % 8 == 0:
        ring = np.array(item.geometry["coordinates"][0])
        right.add_patch(Polygon(ring, facecolor="tab:blue", alpha=0.5, edgecolor="tab:blue"))
right.autoscale_view()
right.set(title="STAC items' footprints (every 8th tile a side)",
          xlabel="longitude", ylabel="latitude")
plt.show()
