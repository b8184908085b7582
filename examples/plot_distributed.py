"""
Writing with a dask.distributed cluster
=======================================

With a ``distributed.Client`` active, ``to_vrt`` runs on the cluster: each worker reads
its blocks, encodes them and writes the tile files itself; only small tile records come
back to the client, which writes the VRT. Here a local cluster of two workers writes a
satellite image read lazily from NetCDF; each worker keeps a list of the tiles it wrote,
and distributed's task stream shows when.
"""

# %%
# A cluster that records who wrote what
# -------------------------------------
# Two single-threaded workers in this process (``processes=False``: quick to start). A
# worker plugin sees each task finish on its worker: a write task (its key ends in
# ``-tile``) returns a record of each tile it wrote, which the plugin notes.
import pathlib
import tempfile
import time

import matplotlib.pyplot as plt
import rasterio
import rasterio.plot
import xarray as xr
from dask.utils import key_split
from distributed import Client, LocalCluster, WorkerPlugin, get_task_stream
from matplotlib.patches import Patch, Rectangle

import xr_tiles  # noqa: F401  (registers the .tiles accessor)

from _data import corpus_file


class TilesWritten(WorkerPlugin):
    """The (row, col) of every tile that a write task on this worker wrote."""

    name = "tiles-written"

    def setup(self, worker):
        self.worker, self.tiles = worker, []

    def transition(self, key, start, finish, **kwargs):
        if finish == "memory" and isinstance(key, tuple) and key[0].endswith("-tile"):
            records = self.worker.data[key]  # (band group, row, col, bytes written, ...)
            self.tiles += [(row, col) for _, row, col, size, _ in records if size]


cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=":0")  # any free port
client = Client(cluster)
client.register_plugin(TilesWritten())
print(client)

# %%
# A satellite image, read on the workers
# --------------------------------------
# ``toa_brightness_stereographic.nc`` from iris's sample data (PyPI): Meteosat's 10.8 µm
# brightness temperature over the North Atlantic and Europe, 256 x 160 pixels of 35 km
# on a polar stereographic grid. Opened lazily in bands of 32 rows (the file stores whole
# rows; its 2-D latitude and longitude are left out, the grid mapping gives the CRS), then
# cut into 32 x 32 tiles: 40 of them.
observation = xr.open_dataset(corpus_file("iris-sample-data", "toa_brightness_stereographic.nc"),
                              decode_coords="all", drop_variables=["lat", "lon"],
                              chunks={"y": 32, "x": -1})
brightness = observation.data.chunk(x=32)

# %%
# Write on the cluster, and record its task stream
# ------------------------------------------------
# The active Client is dask's scheduler, so no ``scheduler=`` is needed; ``progress=True``
# shows distributed's progress bar. Then ``client.run`` asks each worker for its list.
workdir = tempfile.TemporaryDirectory(prefix="xr_tiles_")
start = time.perf_counter()
with get_task_stream(client) as stream:
    vrt = brightness.tiles.to_vrt(pathlib.Path(workdir.name) / "toa.vrt", progress=True)
seconds = time.perf_counter() - start
written = client.run(lambda dask_worker: dask_worker.plugins["tiles-written"].tiles)
workers = sorted(written)
for number, worker in enumerate(workers):
    print(f"worker {number} wrote {len(written[worker])} tiles: {sorted(written[worker])}")
rows, cols = (len(chunks) for chunks in brightness.chunks)
every_tile = sorted(tile for tiles in written.values() for tile in tiles)
assert every_tile == [(r, c) for r in range(rows) for c in range(cols)]  # each once
with rasterio.open(vrt) as dataset:
    pixels = dataset.read(1, masked=True)
    extent = rasterio.plot.plotting_extent(dataset)
    transform = dataset.transform

# %%
# What the workers did
# --------------------
# Above, the image read back through the VRT, each tile outlined in the colour of the
# worker that wrote it; below, the task stream: one bar per task, on one row per worker.
# Each band of 32 rows is read once, by one worker, and the scheduler prefers to run the
# write tasks that need it there: a row of tiles mostly goes to one worker, a few a task.
tasks = [
    (task["worker"], key_split(task["key"]), span["start"], span["stop"])
    for task in stream.data for span in task["startstops"] if span["action"] == "compute"
]
origin = min(task[2] for task in tasks)
colours = ["tab:purple", "tab:orange"]
fig, (image, bars) = plt.subplots(2, 1, figsize=(8, 7.4), height_ratios=[3.2, 1],
                                  layout="constrained")
image.set_facecolor("lightsteelblue")  # nodata: off Meteosat's disc
shown = image.imshow(pixels, extent=extent, cmap="Greys", vmin=210, vmax=300)
fig.colorbar(shown, ax=image, label="brightness temperature (K)", shrink=0.8)
for worker, colour in zip(workers, colours, strict=True):
    for row, col in written[worker]:
        west, north = transform * (col * 32 + 1.5, row * 32 + 1.5)  # inside the tile
        east, south = transform * (col * 32 + 30.5, row * 32 + 30.5)
        image.add_patch(Rectangle((west, south), east - west, north - south, fill=False,
                                  edgecolor=colour, lw=2))
image.legend(handles=[Patch(edgecolor=c, facecolor="none", lw=2, label=f"written by worker {i}")
                      for i, c in enumerate(colours)], loc="lower right", framealpha=0.9)
image.set(xticks=[], yticks=[], title=f"toa.vrt: {sum(map(len, written.values()))} tiles "
          f"written in {seconds:.2f} s on a LocalCluster of 2 workers")
for worker, name, begin, end in tasks:
    number = workers.index(worker)
    bars.barh(number, (end - begin) * 1000, left=(begin - origin) * 1000, height=0.7,
              color=colours[number] if name == "xr-tiles" else "0.6", edgecolor="white",
              linewidth=0.5)
bars.set_yticks(range(len(workers)), labels=[f"worker {i}" for i in range(len(workers))])
bars.invert_yaxis()
writes = sum(name == "xr-tiles" for _, name, _, _ in tasks)
bars.set(xlabel="time since the first task (ms)",
         title=f"task stream: {writes} write tasks, in colour; reads of the file in grey")
plt.show()

# %%
# Closed last: the progress bar's feed on the scheduler stops at its next tick (100 ms),
# and distributed logs an error for a feed it has to cancel.
client.close()
cluster.close()
