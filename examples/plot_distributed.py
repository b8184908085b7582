"""
Writing with a dask.distributed cluster
=======================================

With a ``distributed.Client`` active, ``to_vrt`` runs on the cluster: each worker computes
its blocks, encodes them and writes the tile files itself; only small tile records come
back to the client, which writes the VRT. Here a local cluster of two workers writes a
lazily generated raster, with distributed's progress bar, and its task stream shows what
each worker did.
"""

# %%
# A cluster and a lazy raster
# ---------------------------
# Two single-threaded workers in this process (``processes=False``: quick to start). The
# raster is generated block by block, on the workers, as the tiles are written.
import pathlib
import tempfile
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from dask.utils import key_split
from distributed import Client, LocalCluster, get_task_stream
from matplotlib.colors import ListedColormap

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None)
client = Client(cluster)

size, chunk = 2048, 256
y, x = da.meshgrid(da.arange(size, chunks=chunk, dtype="float32"),
                   da.arange(size, chunks=chunk, dtype="float32"), indexing="ij")
field = 500 + 300 * da.sin(x / 150) * da.cos(y / 210) + 20 * da.sin((x + 2 * y) / 17)
raster = xr.DataArray(
    field.astype("float32"),
    dims=("y", "x"),
    coords={"y": 4_100_000 - 30 * (np.arange(size) + 0.5),
            "x": 600_000 + 30 * (np.arange(size) + 0.5)},
    name="elevation",
).rio.write_crs("EPSG:32633")

# %%
# Write on the cluster, and record its task stream
# ------------------------------------------------
# The active Client is dask's scheduler, so no ``scheduler=`` is needed; ``progress=True``
# shows distributed's progress bar.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
start = time.perf_counter()
with get_task_stream(client) as stream:
    vrt = raster.tiles.to_vrt(pathlib.Path(workdir.name) / "field.vrt", progress=True)
seconds = time.perf_counter() - start
tiles = list(pathlib.Path(workdir.name).glob("field_tiles/*/*.tif"))
print(f"\n{len(tiles)} tiles in {seconds:.2f} s")

# %%
# What the workers did
# --------------------
# Left, one bar per task, on one row per worker, coloured by the task's name; right, the
# worker that wrote each tile (a tile task's key ends in the tile's row and column).
tasks = [
    (task["worker"], task["key"], span["start"], span["stop"])
    for task in stream.data for span in task["startstops"] if span["action"] == "compute"
]
origin = min(task[2] for task in tasks)
workers = sorted({task[0] for task in tasks})
names = sorted({key_split(task[1]) for task in tasks})
colours = dict(zip(names, plt.colormaps["tab10"].colors, strict=False))
writer = np.zeros((size // chunk, size // chunk))
for worker, key, _, _ in tasks:
    if key_split(key) == "xr-tiles" and isinstance(key, tuple):
        writer[key[-2:]] = workers.index(worker)

fig, (bars, grid) = plt.subplots(1, 2, figsize=(12, 3.6), width_ratios=[3.2, 1],
                                 layout="constrained")
for worker, key, begin, end in tasks:
    bars.barh(workers.index(worker), (end - begin) * 1000, left=(begin - origin) * 1000,
              height=0.7, color=colours[key_split(key)], edgecolor="white", linewidth=0.3)
bars.set_yticks(range(len(workers)), labels=[f"worker {i}" for i in range(len(workers))])
bars.set_xlabel("time since the first task (ms)")
bars.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[name]) for name in names],
            labels=names, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=len(names),
            frameon=False)
bars.set_title(f"task stream: {len(tasks)} tasks in {seconds:.2f} s")
palette = ["tab:purple", "tab:olive"]
grid.imshow(writer, cmap=ListedColormap(palette))
grid.set_xticks([])
grid.set_yticks([])
grid.set_title("the worker of each tile")
grid.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in palette],
            labels=["worker 0", "worker 1"], loc="upper center", bbox_to_anchor=(0.5, -0.02),
            ncols=2, frameon=False)
fig.suptitle(f"field.vrt on a LocalCluster of 2 workers: {len(tiles)} tiles")
plt.show()

# %%
# Closed last: the progress bar's feed on the scheduler stops at its next tick (100 ms),
# and distributed logs an error for a feed it has to cancel.
client.close()
cluster.close()
