"""
Writing to an object store (S3)
===============================

Any fsspec URL is a path: ``to_vrt("s3://bucket/dem/dem.vrt", storage_options=...)`` puts
the tiles and the VRT as objects, and GDAL reads the mosaic in place through ``/vsis3/``
(``xr_tiles.gdal_path`` gives the name). Here the store is moto's S3 server, started by
the example on the loopback interface, with dummy credentials.
"""

# %%
# An S3 server on 127.0.0.1
# -------------------------
# moto's server, in a process of its own: ``rasterio.open`` keeps the GIL while GDAL
# fetches the VRT, so a server thread in this process (``ThreadedMotoServer``) could not
# answer it.
import socket
import subprocess
import sys
import time

import matplotlib.pyplot as plt
import numpy as np
import rasterio
import rasterio.plot
import s3fs
import xarray as xr
from matplotlib import cbook
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from rasterio.session import AWSSession

import xr_tiles

with socket.socket() as probe:  # a free port
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
server = subprocess.Popen(
    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
for _ in range(300):  # up to 30 s for it to listen
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
endpoint = f"http://127.0.0.1:{port}"
storage_options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
fs = s3fs.S3FileSystem(**storage_options)
fs.mkdir("rasters")

# %%
# matplotlib's topography and bathymetry sample, tiled to S3
# ----------------------------------------------------------
# 91 x 120 float32 around Vancouver Island. Its rows are evenly spaced in Web Mercator
# metres (EPSG:3857), not in degrees, and run south to north.
sample = cbook.get_sample_data("topobathy.npz")
radius = 6_378_137.0
north = radius * np.log(np.tan(np.pi / 4 + np.radians(sample["latitude"].astype(float)) / 2))
east = radius * np.radians(sample["longitude"].astype(float) - 360)
topo = xr.DataArray(
    sample["topo"],
    dims=("y", "x"),
    # float32 degrees in the file: respaced evenly between the first and last
    coords={"y": np.linspace(north[0], north[-1], north.size),
            "x": np.linspace(east[0], east[-1], east.size)},
    name="elevation",
    attrs={"units": "m"},
).rio.write_crs("EPSG:3857")
url = topo.tiles.to_vrt("s3://rasters/coast/topo.vrt", chunks=32, overviews=[2],
                        storage_options=storage_options)
objects = {key: fs.size(key) for key in fs.find("rasters/coast")}
print(url, "->", xr_tiles.gdal_path(url))
for key, nbytes in objects.items():
    print(f"{nbytes:>7} B  {key}")

# %%
# GDAL reads it through /vsis3/
# -----------------------------
# GDAL takes the endpoint and credentials from its own configuration options; rasterio
# sets the credentials from an ``AWSSession`` (``endpoint_url`` gives ``AWS_S3_ENDPOINT``).
session = AWSSession(aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1", endpoint_url=f"127.0.0.1:{port}")
with rasterio.Env(session, AWS_HTTPS="NO", AWS_VIRTUAL_HOSTING="FALSE"):
    start = time.perf_counter()
    with rasterio.open(xr_tiles.gdal_path(url)) as dataset:
        full = dataset.read(1)
        half = dataset.read(1, out_shape=(dataset.height // 2, dataset.width // 2))
        extent = rasterio.plot.plotting_extent(dataset)
        north_first = dataset.transform.e < 0
    seconds = time.perf_counter() - start
assert np.array_equal(full, topo.values[::-1] if north_first else topo.values)
server.terminate()
server.wait()
print(f"read in {seconds * 1000:.0f} ms, its overview {half.shape[1]} x {half.shape[0]} px too")

# %%
# The mosaic and its objects
# --------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6), width_ratios=[1.25, 1],
                                  layout="constrained")
# Sea in blues, land in greens and browns, split at 0 m (as in matplotlib's own example).
colours = np.vstack([plt.cm.terrain(np.linspace(0, 0.17, 128)),
                     plt.cm.terrain(np.linspace(0.25, 1, 128))])
terrain_map = LinearSegmentedColormap.from_list("terrain_map", colours)
image = left.imshow(full, extent=extent, cmap=terrain_map, interpolation="nearest",
                    norm=TwoSlopeNorm(vmin=-1500, vcenter=0, vmax=2500))
fig.colorbar(image, ax=left, label="elevation (m)", shrink=0.8)
left.set(xticks=[], yticks=[],
         title=f"read by GDAL in {seconds * 1000:.0f} ms: {full.shape[1]} x {full.shape[0]} px")
names = [key.removeprefix("rasters/coast/").split("/", 2)[-1] for key in objects]
right.barh(range(len(objects)), list(objects.values()), color="tab:blue")
right.set_yticks(range(len(objects)), labels=names, fontsize=8)
right.invert_yaxis()
right.set(xlabel="bytes", title=f"{len(objects)} objects under s3://rasters/coast/")
fig.suptitle(f"{xr_tiles.gdal_path(url)}: a mosaic on moto's S3 server")
plt.show()
