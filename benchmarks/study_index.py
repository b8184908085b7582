"""Index study: how GDAL opens and reads a mosaic of 10k, 100k and 1M tiles listed as a flat VRT,
as nested VRTs (a VRT of sub-VRTs, each mosaicking a block of tiles) and as GTI tile indexes.

A measurement study for the next issue (nested VRT above some tile count, and GDAL's GTI
index); it does not use xr_tiles. Run from the repository root with the project's venv::

    .venv/bin/python benchmarks/study_index.py                  # 10k, 100k, 1M tiles (~20 min)
    .venv/bin/python benchmarks/study_index.py --sizes 10000    # quick
    .venv/bin/python benchmarks/study_index.py --keep           # keep the tile sets

Tiles: standalone GeoTIFFs of 16 x 16 uint8 pixels (one internal 16 x 16 tile, codec none,
EPSG:32631, 10 m pixels), each with its own georeferencing and its own pixels, named and laid
out like xr_tiles' ``r<row>_c<col>.tif`` in one folder. They are made by patching the
tiepoint and pixel bytes of one GeoTIFF written by rasterio (found by value, and the patched
files checked through rasterio), because GTI places a tile by its own geotransform (checked
below), so hard links to a few files would not do. One grid of the largest side is written
and the smaller sets use its top-left corner (so the 10k and 100k sets live in a folder of
1M files; ext4's hashed directories make that a non-issue for lookups).

Indexes per set (in ``n<N>/``): ``flat.vrt`` (one SimpleSource with SourceProperties per
tile, the same XML as xr_tiles' vrt.py), ``nested_<B>.vrt`` (a top VRT whose SimpleSources
are sub-VRTs of B x B tiles each, in ``nested_<B>/``), ``gti.gti.gpkg`` and ``gti.gti.fgb``
(GTI indexes written by pyogrio, a ``location`` field and the footprint polygons, with the
layer metadata RESX/RESY/MINX/.../BAND_COUNT/DATA_TYPE/SRS), and ``gti_shp.gti`` (a GTI XML
wrapper over a Shapefile with a .qix spatial index, the route for containers without layer
metadata). GeoParquet: neither the rasterio wheel's GDAL 3.10 nor pyogrio's GDAL 3.12 has the
Parquet driver (and pyarrow is not installed), so it is not measured. FlatGeobuf: the rasterio
wheel's GDAL has no FlatGeobuf driver, so the FlatGeobuf index is measured with pyogrio's
GDAL 3.12 (which has the GTI, VRT and GTiff drivers) called through ctypes: engine "gdal312".

Each measurement is a fresh process (``--worker``): after the imports and an untimed open
of one tile (driver registration), it times the open (``rasterio.open``, or ``GDALOpenEx``),
a 512 x 512 window read near the centre (offset by half a tile, so 33 x 33 tiles), the
next 512 x 512 window to the right on the same handle, optionally the whole raster read
decimated 4 x (nearest; every tile is opened: there are no overviews), and the close. The
window's pixels are checked against the values the tiles were written with, and the
decimated reads against the flat VRT's. Medians of ``--runs`` runs. Warm page cache: all
files were just written.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import math
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from xr_tiles.index.vrt import SOURCE_TEMPLATE

TILE = 16
RES = 10.0
X0, Y0 = 500_000.0, 6_000_000.0
EPSG = 32631
SIDES = {10_000: 100, 100_000: 316, 1_000_000: 1000}
BLOCKS = (16, 32, 64, 128)
FULL_AT_SMALLEST = ("flat", "nested_16", "nested_32", "nested_128", "gti_gpkg")
EMPTY_DIR = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
WINDOW = 512
DECIMATE = 4
VRT_BLOCK = 128  # a VRT band's default block size, as the top VRT's SourceProperties say
MAGIC_X, MAGIC_Y = 123_456.125, 7_654_321.375
PATTERNS = [bytes(((np.arange(TILE * TILE) + s) % 256).astype(np.uint8)) for s in range(256)]
HERE = Path(__file__).resolve().parent
PYOGRIO_DIR = Path(
    next(iter(glob.glob(str(Path(sys.prefix) / "lib/python*/site-packages/pyogrio"))), "")
)

# The source xr_tiles writes (one band, no open options): the study measures its output.
SOURCE = SOURCE_TEMPLATE.replace("{open_options}", "").replace("{band}", "1").replace(
    "{type}", "Byte"
)
SOURCE_NO_PROPS = """\
    <SimpleSource>
      <SourceFilename relativeToVRT="1">{path}</SourceFilename>
      <SourceBand>1</SourceBand>
      <SrcRect xOff="0" yOff="0" xSize="{width}" ySize="{height}" />
      <DstRect xOff="{x}" yOff="{y}" xSize="{width}" ySize="{height}" />
    </SimpleSource>
"""


def tile_name(row: int, col: int) -> str:
    return f"r{row:04d}_c{col:04d}.tif"


def shift(row: int, col: int) -> int:
    return (row * 31 + col * 17) % 256


def expected(row0: int, col0: int, height: int, width: int) -> np.ndarray:
    """The pixels the tiles were written with, for a window of the mosaic."""
    rows = np.arange(row0, row0 + height)[:, None]
    cols = np.arange(col0, col0 + width)[None, :]
    index = (rows % TILE) * TILE + cols % TILE
    return ((index + shift(rows // TILE, cols // TILE)) % 256).astype(np.uint8)


NOTES = """## Notes on GDAL behaviour found here

- **VRT sources are lazy.** A VRT's open parses every `<SimpleSource>` (the whole cost of a flat
  VRT's open: {per_source_us:.0f} us a source here) but opens no tile and no sub-VRT; a
  sub-VRT is opened, and parsed in full, the first time a read touches it, then it is kept in
  GDAL's dataset pool. In GDAL 3.10 that holds even without `<SourceProperties>` in the top
  VRT (`nested_32_noprops` opens as fast, since SrcRect/DstRect give the placement), but keep
  `<SourceProperties>` (size, type, block) on the top VRT's sources, as GDAL's own VRT writers
  do: it spares GDAL opening a source wherever it needs the source's size or block (not
  exercised here).
- **A flat VRT's first read walks every source** ({scan_us:.1f} us a source: the first
  pixel of the 1M-tile flat VRT takes over a second, against ~15 ms at 10k); later reads on
  the same handle do not (`next`), so that is a one-off per open, paid on top of the open.
- **Pool limits.** Sources and sub-VRTs share one LRU pool of open datasets,
  `GDAL_MAX_DATASET_POOL_SIZE` (default 100; GTI's threading is also capped by it). A 512 x 512
  window of 16 px tiles opens 1,089 tiles, so tiles are evicted and reopened; by the pool's
  design (not measured here) a sub-VRT evicted between reads is re-parsed on its next touch,
  so a reader sweeping a big nested mosaic window by window may pay a sub-VRT's parse more
  than once unless the pool holds the sub-VRTs of a sweep row plus the tiles of a window.
  `VRT_SHARED_SOURCE` (default on: sources opened as shared datasets) was not changed either.
- **Directory listing on every tile open.** Each tile open lists the tile's folder to find
  side-car files (.aux.xml, .ovr, .msk) unless `GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR` (or
  `YES`) is set: with it, a window of 1,089 tiles reads {empty_dir_gain} faster (rows
  `+EMPTY_DIR`) through flat VRT, nested VRT and GTI alike. It is a config option, not an open
  option, so a VRT cannot carry it: xr_tiles can set it around its own reads
  (`rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")`) and document it for readers. The
  rest of a tile's open (~0.5-0.8 ms here) went largely to building the tile's SRS from its
  GeoKeys (PROJ), in a `perf` profile of a flat-VRT window (not part of this script): paid
  per tile by VRT and GTI alike.
- **GTI places a tile by the tile's own geotransform**, not by its footprint in the index:
  an index entry whose footprint is tile (0, 1) but whose file is a hard link to tile (0, 0)
  reads as zeros there (`gti_alias_right_half`), whereas a VRT places that same file by its
  DstRect (`vrt_alias_right_half`). So every tile needs its own correct georeferencing (xr_tiles'
  tiles have it), and this study wrote 1M distinct files rather than hard links.
- **GTI does not fail on a missing tile**: an entry naming a file that does not exist reads as
  zeros (nodata) without an error (`gti_missing_right_half`).
- **Relative paths.** Opening the index itself (`x.gti.gpkg`), relative `location`s resolve
  against the index's folder (`../tiles/r0000_c0000.tif` from `n10000/` worked). Through a
  `.gti` XML wrapper, GDAL 3.10 resolved both a relative `<IndexDataset>` and relative
  `location`s against the process's working directory (`gti_xml_relative_index_dataset`), so the
  Shapefile index here names everything absolutely. Prefer layer metadata in the index over an
  XML wrapper.
- **Opening**: GDAL picks the GTI driver for `*.gti.gpkg` / `*.gti.fgb` (or a `GTI:` prefix on
  any vector file; or `.gti` XML). Without RESX/RESY/BAND_COUNT/DATA_TYPE in the layer
  metadata GTI opens a tile at open time to learn them; without MINX..MAXY it asks the layer
  its extent (cheap in GPKG and FGB). `SORT_FIELD` (z-order of overlapping tiles) is not needed
  for a regular non-overlapping grid; without it tiles are composited in feature order.
  `NUM_THREADS`/`GTI_NUM_THREADS` (default ALL_CPUS) only applies to requests of more than
  1M pixels over non-overlapping tiles (not the 512 x 512 windows here).
- **Containers available**: the rasterio wheel's GDAL 3.10.3 has GPKG, SQLite and
  Shapefile but neither FlatGeobuf (`rasterio_fgb`) nor Parquet; pyogrio's GDAL 3.12 has
  FlatGeobuf (and GTI, driven here through ctypes) but no Parquet; pyarrow is not installed.
  So GeoParquet could not be measured in this environment, and FlatGeobuf only outside
  rasterio.
- **Overviews** were not built (each level would need its own tiles); the decimated whole reads
  therefore open every tile, and cost the same through flat, nested and GTI (all dominated by
  ~1 ms a tile open). GTI can list overview levels in layer metadata
  (`OVERVIEW_<i>_DATASET`/`_LAYER`/`_FACTOR`, index from 0 since 3.9.2); a nested VRT lists
  per-level VRTs as `<Overview>` of the top band, as xr_tiles' flat VRT does now.
"""

XML_SAMPLES = r"""
## The XML and metadata that worked (GDAL 3.10.3 through rasterio)

Nested VRT: the top VRT (`<stem>.vrt`) has the mosaic's size, SRS and geotransform, and one
`SimpleSource` per sub-VRT; `SourceProperties` gives the sub-VRT's size and its block size
(a VRT band's default, 128 x 128, or the sub-VRT's size when smaller, as GDAL reports it):

```xml
<VRTDataset rasterXSize="16000" rasterYSize="16000">
  <SRS>PROJCS["WGS 84 / UTM zone 31N",...]</SRS>
  <GeoTransform>500000.0, 10.0, 0.0, 6000000.0, 0.0, -10.0</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="1">nested_32/b000_001.vrt</SourceFilename>
      <SourceBand>1</SourceBand>
      <SourceProperties RasterXSize="512" RasterYSize="512" DataType="Byte" BlockXSize="128" BlockYSize="128" />
      <SrcRect xOff="0" yOff="0" xSize="512" ySize="512" />
      <DstRect xOff="512" yOff="0" xSize="512" ySize="512" />
    </SimpleSource>
    ...
  </VRTRasterBand>
</VRTDataset>
```

Each sub-VRT (`nested_32/b<block row>_<block col>.vrt`) is an ordinary flat VRT of its block:
its own size, the same SRS, a geotransform whose origin is the block's top-left corner, and
the tiles' SimpleSources with DstRect relative to the block and paths relative to the sub-VRT
(`relativeToVRT="1"` resolves against the VRT that names the file, so the sub-VRT's paths are
relative to its own folder):

```xml
<VRTDataset rasterXSize="512" rasterYSize="512">
  <SRS>PROJCS["WGS 84 / UTM zone 31N",...]</SRS>
  <GeoTransform>510240.0, 10.0, 0.0, 5994880.0, 0.0, -10.0</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="1">../../tiles/r0032_c0064.tif</SourceFilename>
      <SourceBand>1</SourceBand>
      <SourceProperties RasterXSize="16" RasterYSize="16" DataType="Byte" BlockXSize="16" BlockYSize="16" />
      <SrcRect xOff="0" yOff="0" xSize="16" ySize="16" />
      <DstRect xOff="0" yOff="0" xSize="16" ySize="16" />
    </SimpleSource>
    ...
```

Edge blocks are smaller (their own rasterXSize/ySize, and SourceProperties to match). Nodata,
offset/scale, descriptions, metadata and `<Overview>`s belong on the top VRT's band (as in
xr_tiles' flat VRT today); the sub-VRTs' bands should carry the same `NoDataValue` so that
the sub-VRT does not paint nodata pixels over its neighbours' (not exercised here: no nodata).

GTI in GeoPackage (`<stem>.gti.gpkg`; GDAL picks the GTI driver by the double extension):
one layer (`tiles`), Polygon footprints in the mosaic's CRS with the R-tree GPKG builds by
default, a String field `location` (paths relative to the .gpkg's folder), and layer metadata:

```
RESX=10.0  RESY=10.0
MINX=500000.0  MINY=5840000.0  MAXX=660000.0  MAXY=6000000.0
BAND_COUNT=1  DATA_TYPE=Byte  SRS=EPSG:32631
(optional: NODATA=<v>[,<v>...]  COLOR_INTERPRETATION=...  BLOCKXSIZE/BLOCKYSIZE (default 256)
 LOCATION_FIELD=location  SORT_FIELD=<field>  SORT_FIELD_ASC=YES|NO
 BAND_<n>_OFFSET / _SCALE / _UNITTYPE  OVERVIEW_<i>_DATASET / _LAYER / _FACTOR / _OPEN_OPTIONS)
```

written with pyogrio as

```python
pyogrio.raw.write(path, wkb_polygons, [locations], ["location"], layer="tiles", driver="GPKG",
                  geometry_type="Polygon", crs="EPSG:32631", layer_metadata={...},
                  layer_options={"SPATIAL_INDEX": "YES"})
```

The same layer metadata on a FlatGeobuf file (`.gti.fgb`) works with GDAL 3.12. For a
container without layer metadata, the `.gti` XML wrapper (measured over a Shapefile with a
.qix), with absolute paths in GDAL 3.10:

```xml
<GDALTileIndexDataset>
  <IndexDataset>/abs/path/gti_shp/index.shp</IndexDataset>
  <IndexLayer>index</IndexLayer>
  <LocationField>location</LocationField>
  <SRS>EPSG:32631</SRS>
  <ResX>10.0</ResX>
  <ResY>10.0</ResY>
  <MinX>500000.0</MinX>
  <MinY>5984000.0</MinY>
  <MaxX>516000.0</MaxX>
  <MaxY>6000000.0</MaxY>
  <Band band="1" dataType="Byte"/>
</GDALTileIndexDataset>
```
"""


# ---------------------------------------------------------------------------------- tiles


def template(folder: Path) -> tuple[bytes, int, int, int]:
    """One tile written by rasterio, and the byte offsets of its tiepoint X, Y and pixels."""
    import rasterio
    import tifffile
    from rasterio.transform import from_origin

    path = folder / "template.tif"
    profile = {
        "driver": "GTiff", "width": TILE, "height": TILE, "count": 1, "dtype": "uint8",
        "crs": f"EPSG:{EPSG}", "transform": from_origin(MAGIC_X, MAGIC_Y, RES, RES),
        "tiled": True, "blockxsize": TILE, "blockysize": TILE, "compress": None,
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.frombuffer(PATTERNS[1], np.uint8).reshape(1, TILE, TILE))
    data = path.read_bytes()
    x_bytes, y_bytes = struct.pack("<d", MAGIC_X), struct.pack("<d", MAGIC_Y)
    assert data.count(x_bytes) == 1, "tiepoint X not unique"
    assert data.count(y_bytes) == 1, "tiepoint Y not unique"
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.databytecounts == (TILE * TILE,), page.databytecounts
        data_offset = page.dataoffsets[0]
    assert data[data_offset:data_offset + TILE * TILE] == PATTERNS[1]
    return data, data.find(x_bytes), data.find(y_bytes), data_offset


def _write_rows(job: tuple[str, range, int, bytes, int, int, int]) -> None:
    folder, rows, side, data, x_at, y_at, data_at = job
    buffer = bytearray(data)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for row in rows:
        buffer[y_at:y_at + 8] = struct.pack("<d", Y0 - row * TILE * RES)
        for col in range(side):
            buffer[x_at:x_at + 8] = struct.pack("<d", X0 + col * TILE * RES)
            buffer[data_at:data_at + TILE * TILE] = PATTERNS[shift(row, col)]
            fd = os.open(f"{folder}/{tile_name(row, col)}", flags, 0o644)
            os.write(fd, buffer)
            os.close(fd)


def make_tiles(work: Path, side: int) -> float:
    """Write the side x side grid of distinct tiles (skipped if a big enough one exists)."""
    folder = work / "tiles"
    marker = work / "tiles.side"
    if marker.exists() and int(marker.read_text()) >= side:
        return 0.0
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    data, x_at, y_at, data_at = template(work)
    start = time.perf_counter()
    step = 8
    jobs = [
        (str(folder), range(r, min(r + step, side)), side, data, x_at, y_at, data_at)
        for r in range(0, side, step)
    ]
    with Pool(2) as pool:
        for _ in pool.imap_unordered(_write_rows, jobs):
            pass
    seconds = time.perf_counter() - start
    for row, col in [(0, 0), (side - 1, side - 1), (side // 2, 3)]:
        with rasterio.open(folder / tile_name(row, col)) as dataset:
            assert dataset.transform.c == X0 + col * TILE * RES
            assert dataset.transform.f == Y0 - row * TILE * RES
            assert (dataset.read(1) == expected(row * TILE, col * TILE, TILE, TILE)).all()
    marker.write_text(str(side))
    return seconds


# ------------------------------------------------------------------------------- indexes


def srs_wkt() -> str:
    from rasterio.crs import CRS

    return CRS.from_epsg(EPSG).to_wkt()


def vrt_head(width: int, height: int, x: float, y: float) -> str:
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
        f"  <SRS>{escape(srs_wkt())}</SRS>\n"
        f"  <GeoTransform>{x!r}, {RES!r}, 0.0, {y!r}, 0.0, {-RES!r}</GeoTransform>\n"
        '  <VRTRasterBand dataType="Byte" band="1">\n'
    )


VRT_TAIL = "  </VRTRasterBand>\n</VRTDataset>\n"


def tile_sources(rows: range, cols: range, prefix: str, template: str = SOURCE) -> str:
    return "".join(
        template.format(
            path=f"{prefix}{tile_name(r, c)}", width=TILE, height=TILE, block_x=TILE,
            block_y=TILE, x=(c - cols.start) * TILE, y=(r - rows.start) * TILE,
        )
        for r in rows for c in cols
    )


def write_flat(folder: Path, side: int) -> Path:
    path = folder / "flat.vrt"
    size = side * TILE
    path.write_text(
        vrt_head(size, size, X0, Y0) + tile_sources(range(side), range(side), "../tiles/")
        + VRT_TAIL
    )
    return path


def write_nested(folder: Path, side: int, block: int, props: bool = True) -> Path:
    name = f"nested_{block}" + ("" if props else "_noprops")
    sub = folder / name
    sub.mkdir(exist_ok=True)
    size = side * TILE
    parts = [vrt_head(size, size, X0, Y0)]
    for br in range(0, side, block):
        for bc in range(0, side, block):
            rows, cols = range(br, min(br + block, side)), range(bc, min(bc + block, side))
            height, width = len(rows) * TILE, len(cols) * TILE
            file = f"b{br // block:03d}_{bc // block:03d}.vrt"
            (sub / file).write_text(
                vrt_head(width, height, X0 + bc * TILE * RES, Y0 - br * TILE * RES)
                + tile_sources(rows, cols, "../../tiles/") + VRT_TAIL
            )
            template = SOURCE if props else SOURCE_NO_PROPS
            parts.append(template.format(
                path=f"{name}/{file}", width=width, height=height,
                block_x=min(VRT_BLOCK, width), block_y=min(VRT_BLOCK, height),
                x=bc * TILE, y=br * TILE,
            ))
    parts.append(VRT_TAIL)
    path = folder / f"{name}.vrt"
    path.write_text("".join(parts))
    return path


def gti_metadata(side: int) -> dict[str, str]:
    size = side * TILE * RES
    return {
        "RESX": repr(RES), "RESY": repr(RES),
        "MINX": repr(X0), "MINY": repr(Y0 - size), "MAXX": repr(X0 + size), "MAXY": repr(Y0),
        "BAND_COUNT": "1", "DATA_TYPE": "Byte", "SRS": f"EPSG:{EPSG}",
    }


def footprints(side: int, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """WKB polygons of the tiles' footprints (closed rings, counter-clockwise) and their
    locations, row by row."""
    rows, cols = np.divmod(np.arange(side * side), side)
    x0 = X0 + cols * TILE * RES
    y1 = Y0 - rows * TILE * RES
    x1, y0 = x0 + TILE * RES, y1 - TILE * RES
    ring = np.stack([x0, y0, x1, y0, x1, y1, x0, y1, x0, y0], axis=1)  # (n, 10) float64
    head = struct.pack("<BIII", 1, 3, 1, 5)
    record = np.empty((side * side, len(head) + 80), np.uint8)
    record[:, :len(head)] = np.frombuffer(head, np.uint8)
    record[:, len(head):] = ring.astype("<f8").view(np.uint8)
    geometry = np.array([bytes(r) for r in record], dtype=object)
    location = np.array([f"{prefix}{tile_name(r, c)}" for r, c in zip(rows, cols, strict=True)], dtype=object)
    return geometry, location


def write_gti(folder: Path, side: int, driver: str) -> Path:
    import pyogrio.raw

    if driver == "ESRI Shapefile":
        # Through a .gti XML file, GDAL 3.10 resolves relative locations against the working
        # directory (see the behaviour checks): absolute ones here.
        (folder / "gti_shp").mkdir(exist_ok=True)
        path, prefix = folder / "gti_shp" / "index.shp", f"{folder.parent.resolve()}/tiles/"
    else:
        path = folder / ("gti.gti.gpkg" if driver == "GPKG" else "gti.gti.fgb")
        prefix = "../tiles/"
    geometry, location = footprints(side, prefix)
    layer_metadata = gti_metadata(side) if driver != "ESRI Shapefile" else None
    layer_options = {"SPATIAL_INDEX": "YES"}
    pyogrio.raw.write(
        path, geometry, [location], ["location"], layer="tiles", driver=driver,
        geometry_type="Polygon", crs=f"EPSG:{EPSG}", layer_metadata=layer_metadata,
        layer_options=layer_options,
    )
    if driver != "ESRI Shapefile":
        return path
    md = gti_metadata(side)
    body = (
        "  <IndexLayer>index</IndexLayer>\n"
        "  <LocationField>location</LocationField>\n"
        f"  <SRS>{md['SRS']}</SRS>\n"
        f"  <ResX>{md['RESX']}</ResX>\n  <ResY>{md['RESY']}</ResY>\n"
        f"  <MinX>{md['MINX']}</MinX>\n  <MinY>{md['MINY']}</MinY>\n"
        f"  <MaxX>{md['MAXX']}</MaxX>\n  <MaxY>{md['MAXY']}</MaxY>\n"
        '  <Band band="1" dataType="Byte"/>\n'
        "</GDALTileIndexDataset>\n"
    )
    # GDAL 3.10 resolves a relative IndexDataset against the working directory, not the
    # .gti file (the behaviour checks try this one): the measured one names it absolutely.
    (folder / "gti_shp_relative.gti").write_text(
        "<GDALTileIndexDataset>\n  <IndexDataset>gti_shp/index.shp</IndexDataset>\n" + body
    )
    xml = folder / "gti_shp.gti"
    xml.write_text(
        f"<GDALTileIndexDataset>\n  <IndexDataset>{escape(str(path))}</IndexDataset>\n" + body
    )
    return xml


def size_of(path: Path) -> int:
    if path.suffix == ".vrt":
        sub = path.with_suffix("")
        extra = sum(f.stat().st_size for f in sub.iterdir()) if sub.is_dir() else 0
        return path.stat().st_size + extra
    if path.suffix == ".gti":
        return sum(f.stat().st_size for f in (path.parent / "gti_shp").iterdir())
    return path.stat().st_size


# -------------------------------------------------------------------------------- worker


def gdal312() -> ctypes.CDLL:
    library = ctypes.CDLL(next(iter(glob.glob(str(PYOGRIO_DIR.parent / "pyogrio.libs/libgdal*")))))
    library.GDALAllRegister()
    library.GDALOpenEx.restype = ctypes.c_void_p
    library.GDALOpenEx.argtypes = [ctypes.c_char_p, ctypes.c_uint] + [ctypes.c_void_p] * 3
    library.GDALGetRasterBand.restype = ctypes.c_void_p
    library.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    library.GDALGetRasterXSize.argtypes = [ctypes.c_void_p]
    library.GDALRasterIO.argtypes = (
        [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_int] * 4 + [ctypes.c_void_p]
        + [ctypes.c_int] * 5
    )
    library.GDALClose.argtypes = [ctypes.c_void_p]
    library.CPLGetLastErrorMsg.restype = ctypes.c_char_p
    return library


def worker(spec: dict) -> dict:
    """Time open, two windows, an optional decimated whole read and the close of one index."""
    path, (row, col) = spec["path"], spec["window"]
    out: dict = {}
    clock = time.perf_counter
    if spec["engine"] == "rasterio":
        import rasterio
        from rasterio.windows import Window

        with rasterio.open(spec["warm"]):
            pass
        start = clock()
        dataset = rasterio.open(path)
        out["open"] = clock() - start

        def read(r: int, c: int, h: int, w: int, oh: int, ow: int) -> np.ndarray:
            return dataset.read(1, window=Window(c, r, w, h), out_shape=(oh, ow))

        close = dataset.close
    else:
        gdal = gdal312()
        gdal.GDALClose(gdal.GDALOpenEx(spec["warm"].encode(), 0x42, None, None, None))
        start = clock()
        handle = gdal.GDALOpenEx(path.encode(), 0x02 | 0x40, None, None, None)
        out["open"] = clock() - start
        if not handle:
            raise RuntimeError(gdal.CPLGetLastErrorMsg().decode())
        band = gdal.GDALGetRasterBand(handle, 1)

        def read(r: int, c: int, h: int, w: int, oh: int, ow: int) -> np.ndarray:
            array = np.zeros((oh, ow), np.uint8)
            err = gdal.GDALRasterIO(band, 0, c, r, w, h, array.ctypes.data, ow, oh, 1, 0, 0)
            if err:
                raise RuntimeError(gdal.CPLGetLastErrorMsg().decode())
            return array

        def close() -> None:
            gdal.GDALClose(handle)

    if spec.get("pixel"):
        start = clock()
        read(row + WINDOW // 2, col + WINDOW // 2, 1, 1, 1, 1)
        out["pixel"] = clock() - start
    elif spec.get("full"):
        size = spec["size"]
        start = clock()
        whole = read(0, 0, size, size, size // DECIMATE, size // DECIMATE)
        out["full"] = clock() - start
        np.save(spec["npy"], whole)
    else:
        start = clock()
        first = read(row, col, WINDOW, WINDOW, WINDOW, WINDOW)
        out["window"] = clock() - start
        start = clock()
        second = read(row, col + WINDOW, WINDOW, WINDOW, WINDOW, WINDOW)
        out["window2"] = clock() - start
        out["window_ok"] = bool(
            (first == expected(row, col, WINDOW, WINDOW)).all()
            and (second == expected(row, col + WINDOW, WINDOW, WINDOW)).all()
        )
    start = clock()
    close()
    out["close"] = clock() - start
    return out


def measure(spec: dict, runs: int) -> dict:
    env = dict(os.environ, **spec.get("env", {}))
    if spec["engine"] == "gdal312":
        env["PROJ_DATA"] = str(PYOGRIO_DIR / "proj_data")
        env["GDAL_DATA"] = str(PYOGRIO_DIR / "gdal_data")
    results = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
            text=True, env=env, timeout=600, check=False,
        )
        if done.returncode:
            return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:300]}
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    summary = {
        key: statistics.median(r[key] for r in results)
        for key in results[0] if isinstance(results[0][key], float)
    }
    if "window_ok" in results[0]:
        summary["window_ok"] = all(r["window_ok"] for r in results)
    return summary


# ------------------------------------------------------------------------------ behaviour


def behaviour_checks(work: Path, fgb: Path) -> dict[str, str]:
    """Does GTI place a tile by its own geotransform or by its footprint in the index? And
    VRT by DstRect? Two tiles side by side, the second's entry naming a hard link to the
    first (whose geotransform is the first tile's place)."""
    import pyogrio.raw
    import rasterio

    folder = work / "behaviour"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    first = work / "tiles" / tile_name(0, 0)
    os.link(first, folder / "alias.tif")
    shutil.copy(work / "tiles" / tile_name(0, 1), folder / "second.tif")
    geometry, _ = footprints(2, "")
    geometry = geometry[:2]  # (0, 0) and (0, 1) of a 2 x 2 grid
    md = gti_metadata(2)
    md.update(MINY=repr(Y0 - TILE * RES), MAXX=repr(X0 + 2 * TILE * RES))
    found = {}
    for name, second in [("real", "second.tif"), ("alias", "alias.tif"),
                         ("missing", "missing.tif")]:
        path = folder / f"{name}.gti.gpkg"
        pyogrio.raw.write(
            path, geometry, [np.array([f"../tiles/{tile_name(0, 0)}", second], object)],
            ["location"], layer="tiles", driver="GPKG", geometry_type="Polygon",
            crs=f"EPSG:{EPSG}", layer_metadata=md,
        )
        try:
            with rasterio.open(path) as dataset:
                pixels = dataset.read(1)
        except Exception as error:  # noqa: BLE001 - recorded in the report
            found[f"gti_{name}"] = f"{type(error).__name__}: {error}"
            continue
        found[f"gti_{name}_shape"] = str(pixels.shape)
        found[f"gti_{name}_right_half"] = (
            "tile (0, 1)" if (pixels[:, TILE:] == expected(0, TILE, TILE, TILE)).all()
            else "tile (0, 0)" if (pixels[:, TILE:] == expected(0, 0, TILE, TILE)).all()
            else "zeros" if not pixels[:, TILE:].any() else "other"
        )
    vrt = folder / "alias.vrt"
    vrt.write_text(
        vrt_head(2 * TILE, TILE, X0, Y0)
        + SOURCE.format(path=f"../tiles/{tile_name(0, 0)}", width=TILE, height=TILE,
                        block_x=TILE, block_y=TILE, x=0, y=0)
        + SOURCE.format(path="alias.tif", width=TILE, height=TILE, block_x=TILE,
                        block_y=TILE, x=TILE, y=0)
        + VRT_TAIL
    )
    with rasterio.open(vrt) as dataset:
        pixels = dataset.read(1)
        found["vrt_alias_right_half"] = (
            "tile (0, 0)" if (pixels[:, TILE:] == expected(0, 0, TILE, TILE)).all() else "other"
        )
    try:
        with rasterio.open(fgb.parent / "gti_shp_relative.gti") as dataset:
            found["gti_xml_relative_index_dataset"] = f"opens, {dataset.shape}"
    except Exception as error:  # noqa: BLE001 - recorded in the report
        found["gti_xml_relative_index_dataset"] = f"{type(error).__name__}: {error}"
    try:
        with rasterio.open(fgb):
            found["rasterio_fgb"] = "opens"
    except Exception as error:  # noqa: BLE001 - recorded in the report
        found["rasterio_fgb"] = f"{type(error).__name__}: {error}"
    return found


# -------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if value < 10 else f"{value:.1f}"


def touched(n: int, block: int) -> int:
    """Sub-VRTs of ``block`` x ``block`` tiles the first window of the ``n``-tile set needs."""
    side = SIDES.get(n, math.isqrt(n))
    size = side * TILE
    row, col = (size - WINDOW) // 2 + TILE // 2, (size - 2 * WINDOW) // 2 + TILE // 2
    span = TILE * block
    rows = (row + WINDOW - 1) // span - row // span + 1
    cols = (col + WINDOW - 1) // span - col // span + 1
    return rows * cols


def pick(rows: list[dict], tiles: int, index: str, engine: str = "rasterio") -> dict | None:
    match = [r for r in rows if r["tiles"] == tiles and r["index"] == index
             and r["engine"] == engine and "open" in r]
    return match[0] if match else None


def model(rows: list[dict]) -> dict:
    """Costs per source of a flat VRT (its open, and the extra of its first read, which
    walks every source once), and per block size the first touch of a sub-VRT: the first
    pixel through the nested VRT minus the first pixel through GTI in GPKG (one tile open and
    an R-tree query), medians over the sizes."""
    sizes = sorted({r["tiles"] for r in rows})
    base = statistics.median(
        [pick(rows, n, "gti_gpkg")["pixel"] for n in sizes if pick(rows, n, "gti_gpkg")] or [0]
    )
    flats = [pick(rows, n, "flat") for n in sizes if pick(rows, n, "flat")]
    result = {
        "base": base,
        "open": statistics.median(f["open"] / f["tiles"] for f in flats),
        "scan": statistics.median(max(f["pixel"] - base, 0) / f["tiles"] for f in flats),
        "touch": {}, "nested_open": {},
    }
    for block in BLOCKS:
        nested = [pick(rows, n, f"nested_{block}") for n in sizes if pick(rows, n, f"nested_{block}")]
        if nested:
            result["touch"][block] = statistics.median(r["pixel"] - base for r in nested)
            result["nested_open"][block] = nested[-1]["open"]
    return result


def break_even(costs: dict, block: int, k: int) -> float:
    """Tiles above which a nested VRT's open plus a first read touching k sub-VRTs costs
    less than a flat VRT's open plus first read."""
    per_tile = costs["open"] + costs["scan"] - costs["open"] / block ** 2
    return k * max(costs["touch"][block], 0) / per_tile


def recommendations(rows: list[dict]) -> list[str]:
    costs = model(rows)
    largest = max(r["tiles"] for r in rows)
    score = {b: costs["nested_open"][b] + 4 * costs["touch"][b] for b in costs["touch"]}
    # Of the blocks within 10% of the least open + 4 first touches, the largest: fewer
    # sub-VRT files, a smaller top VRT.
    best = max(b for b, v in score.items() if v <= 1.1 * min(score.values()))
    lines = [
        f"- **Nesting block: {best} x {best} tiles a sub-VRT** ({best * best:,} sources). At "
        f"{largest:,} tiles its top VRT opens in {fmt(costs['nested_open'][best])} s and a "
        f"sub-VRT's first touch costs {fmt(costs['touch'][best])} s. Open + 4 first touches "
        "(a window across a block corner) at that size: "
        + ", ".join(f"B={b}: {fmt(v)} s" for b, v in score.items()) + "; the largest block "
        "within 10% of the best is chosen (fewer sub-VRT files, a smaller top VRT; with real "
        "tiles of 256-1024 px a window touches fewer sub-VRTs, which favours the open term). "
        "Larger blocks make every first touch dear (a sub-VRT parses all its sources). The "
        "top VRT has tiles / B^2 sources: ~1,000 at 1M tiles for B=32; past ~10M tiles use "
        "B=64 or a third level.",
        (
            f"- **Threshold: nest above ~{break_even(costs, best, 4):,.0f} tiles.** A flat VRT "
            f"costs {costs['open'] * 1e6:.0f} us a source at open and "
            f"{costs['scan'] * 1e6:.1f} us a source more on its first read (it walks every "
            f"source once); nested at B={best} breaks even at "
            f"{break_even(costs, best, 1):,.0f} tiles for a read touching one sub-VRT and "
            f"{break_even(costs, best, 4):,.0f} for four. Measured: at 10,000 tiles nested "
            "already opens in ~1 ms against the flat VRT's "
            f"{fmt((pick(rows, min(r['tiles'] for r in rows), 'flat') or {}).get('open'))} s, "
            "and the windows cost the same (tile opens dominate). A round threshold of 4,096 "
            "tiles (64 x 64; above it, at least four sub-VRTs) is safe; whole-raster reads cost "
            "the same flat or nested (same sources parsed, once)."
        ),
    ]
    gti = {}
    for name in ("gti_gpkg", "gti_fgb"):
        picked = [pick(rows, r, name, "gdal312") for r in sorted({x["tiles"] for x in rows})]
        picked = [p for p in picked if p]
        if picked:
            gti[name] = (statistics.median(p["open"] for p in picked),
                         statistics.median(p["window"] for p in picked))
    if gti:
        lines.append(
            "- **GTI container: GeoPackage.** Through the same GDAL 3.12 the two open and read "
            "alike (open, window medians over sizes: "
            + "; ".join(f"{k}: {fmt(o)} s, {fmt(w)} s" for k, (o, w) in gti.items())
            + "), flat in the tile count (an R-tree/packed Hilbert index each), FlatGeobuf "
            "files ~20% smaller; but only GeoPackage opens through rasterio's GDAL 3.10 "
            "(no FlatGeobuf or Parquet driver there), and GeoParquet was not available at "
            "all. GTI in GPKG opens in ~2 ms at any size, gives the first pixel in ~3 ms, and "
            "reads a window as fast as a nested VRT once the directory listing is off "
            "(`+EMPTY_DIR` rows), 10-40% slower with it on."
        )
    lines.append(
        "- **Readers should set `GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR`**: it halves a "
        "many-tile window through every index here (see the notes)."
    )
    return lines


def detail_table(rows: list[dict]) -> list[str]:
    lines = [
        "## Open, first pixel and 512 x 512 windows",
        "",
        (
            "`open`: rasterio.open (engine gdal312: GDALOpenEx); `pixel`: a 1 x 1 read right "
            "after the open, in its own process (one tile, plus the sub-VRT or index query it "
            "needs); `window`: the first 512 x 512 read after the open (33 x 33 tiles; `subs`: "
            "the sub-VRTs it needs); `next`: the adjacent window on the same handle; `ok`: both "
            "windows' pixels equal what the tiles hold. `+EMPTY_DIR`: with "
            "GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR."
        ),
        "",
        (
            "| tiles | index | engine | runs | index bytes | open | pixel | window | subs "
            "| next | close | open + window | ok |"
        ),
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['tiles']:,} | {r['index']} | {r['engine']} | | | "
                         f"error: {r['error']} | | | | | | | |")
            continue
        subs = (str(touched(r["tiles"], int(r["index"].split()[0].split("_")[1])))
                if r["index"].startswith("nested_") else "")
        lines.append(
            f"| {r['tiles']:,} | {r['index']} | {r['engine']} | {r['runs']} | {r['bytes']:,} | "
            f"{fmt(r['open'])} | {fmt(r.get('pixel'))} | {fmt(r['window'])} | {subs} | "
            f"{fmt(r['window2'])} | {fmt(r['close'])} | {fmt(r['open'] + r['window'])} | "
            f"{'yes' if r['window_ok'] else 'NO'} |"
        )
    return lines


def pivots(rows: list[dict]) -> list[str]:
    names: list[tuple[str, str]] = []
    for r in rows:
        if "open" in r and (r["engine"], r["index"]) not in names:
            names.append((r["engine"], r["index"]))
    sizes = sorted({r["tiles"] for r in rows})
    lines = []
    for key, title in [("open", "Open s"), ("pixel", "First pixel s"),
                       ("window", "First window s")]:
        lines += ["", f"### {title} (tiles x index)", "",
                  "| index (engine) | " + " | ".join(f"{n:,}" for n in sizes) + " |",
                  "|---|" + "---:|" * len(sizes)]
        for engine, name in names:
            cells = [fmt((pick(rows, n, name, engine) or {}).get(key)) for n in sizes]
            if set(cells) != {"-"}:
                lines.append(f"| {name} ({engine}) | " + " | ".join(cells) + " |")
    return lines


def other_tables(rows: list[dict], builds: list[dict], costs: dict) -> list[str]:
    lines = []
    full = [r for r in rows if r.get("full") is not None]
    if full:
        lines += ["", "## Whole raster read decimated 4 x (no overviews: every tile opened, 1 run)",
                  "", "| tiles | index | s | same pixels as flat VRT |", "|---:|---|---:|---|"]
        lines += [f"| {r['tiles']:,} | {r['index']} | {fmt(r['full'])} "
                  f"| {r.get('full_same', '-')} |" for r in full]
    lines += ["", "## Building the indexes (this script: Python strings, pyogrio)", "",
              "| tiles | index | write s |", "|---:|---|---:|"]
    lines += [f"| {b['tiles']:,} | {b['index']} | {fmt(b['seconds'])} |" for b in builds]
    lines += [
        "", "## Where nesting pays", "",
        (
            f"A flat VRT's open costs {costs['open'] * 1e6:.0f} us a source here (median of "
            f"open / tiles), and its first read {costs['scan'] * 1e6:.1f} us a source more "
            "(first pixel minus GTI's). A nested VRT opens in about tiles / B^2 of that, and "
            "pays instead on the first touch of each sub-VRT (first pixel through it minus "
            f"through GTI in GPKG, {fmt(costs['base'])} s: one tile and an index query). "
            "Nested beats flat for a first read touching k sub-VRTs above the break-even:"
        ),
        "",
        (
            "| block B (tiles) | sources a sub-VRT | first touch s | top VRT open s at the "
            "largest size | break-even tiles, k=1 | k=4 |"
        ),
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {block} | {block * block:,} | {fmt(cost)} | "
              f"{fmt(costs['nested_open'][block])} | "
              f"{break_even(costs, block, 1):,.0f} | {break_even(costs, block, 4):,.0f} |"
              for block, cost in costs["touch"].items()]
    return lines


def report(rows: list[dict], builds: list[dict], behaviour: dict, meta: dict) -> str:
    head = [
        "# Index study: flat VRT, nested VRT and GTI at 10k-1M tiles",
        "",
        (
            f"`benchmarks/study_index.py`, {meta['date']}; the script's docstring says what is "
            f"measured. rasterio {meta['rasterio']} (GDAL {meta['gdal']}), pyogrio "
            f"{meta['pyogrio']} (GDAL {meta['pyogrio_gdal']}, engine gdal312), {meta['cpus']} "
            "CPUs shared with other jobs, warm page cache. Tiles: 16 x 16 uint8, codec none, "
            "distinct files, all in one folder (1M files in the full run). Times in seconds, "
            "medians of `runs` fresh processes."
        ),
        "",
        "## Recommendations",
        "",
        *recommendations(rows),
        "",
    ]
    costs = model(rows)
    sizes = sorted({r["tiles"] for r in rows})
    empty = [(pick(rows, n, f"{i} +EMPTY_DIR"), pick(rows, n, i))
             for n in sizes for i in ("flat", "nested_32", "gti_gpkg")]
    gains = [b["window"] / a["window"] for a, b in empty if a and b]
    gain = f"{statistics.median(gains):.1f} x" if gains else "(not measured)"
    notes = NOTES.format(per_source_us=costs["open"] * 1e6, scan_us=costs["scan"] * 1e6,
                         empty_dir_gain=gain)
    behaviours = ["", "## Behaviour checks", "", *(f"- `{k}`: {v}" for k, v in behaviour.items())]
    return "\n".join([*head, *detail_table(rows), *pivots(rows),
                      *other_tables(rows, builds, costs), *behaviours, "", notes, XML_SAMPLES])


# ---------------------------------------------------------------------------------- main


def build_indexes(folder: Path, n: int, builds: list[dict]) -> dict[str, Path]:
    side = SIDES.get(n, math.isqrt(n))
    jobs = [("flat", write_flat, (folder, side))]
    jobs += [(f"nested_{b}", write_nested, (folder, side, b)) for b in BLOCKS]
    if n <= 100_000:
        jobs.append(("nested_32_noprops", write_nested, (folder, side, 32, False)))
    jobs += [(f"gti_{short}", write_gti, (folder, side, driver))
             for short, driver in [("gpkg", "GPKG"), ("fgb", "FlatGeobuf"),
                                   ("shp_xml", "ESRI Shapefile")]]
    indexes = {}
    for name, fn, fargs in jobs:
        start = time.perf_counter()
        indexes[name] = fn(*fargs)
        builds.append({"tiles": side * side, "index": name,
                       "seconds": time.perf_counter() - start})
        print(f"  built {name}: {builds[-1]['seconds']:.1f} s", flush=True)
    return indexes


def measure_size(n: int, smallest: bool, work: Path, runs: int, rows: list[dict],
                 builds: list[dict]) -> None:
    side = SIDES.get(n, math.isqrt(n))
    folder = work / f"n{n}"
    folder.mkdir(exist_ok=True)
    indexes = build_indexes(folder, n, builds)
    size = side * TILE
    window = ((size - WINDOW) // 2 + TILE // 2, (size - 2 * WINDOW) // 2 + TILE // 2)
    big = n >= 1_000_000
    plan = [("rasterio", name, {}) for name in indexes if name != "gti_fgb"]
    plan += [("rasterio", f"{name} +EMPTY_DIR", EMPTY_DIR)
             for name in ("flat", "nested_32", "gti_gpkg") if not (big and name == "flat")]
    plan += [("gdal312", name, {}) for name in ("flat", "gti_gpkg", "gti_fgb")]
    flat_full = None
    for engine, label, env in plan:
        name = label.split()[0]
        count = 1 if big and name == "flat" and (env or engine != "rasterio") else runs
        npy = str(work / f"full_{n}_{engine}_{name}.npy")
        spec = {"engine": engine, "path": str(indexes[name]), "window": window,
                "warm": str(work / "tiles" / tile_name(0, 0)), "size": size, "npy": npy,
                "env": env}
        result = measure(spec, count)
        if engine == "rasterio" and not env and "error" not in result:
            # Time to the first pixel: one tile, plus the sub-VRT or index query it needs.
            result["pixel"] = measure({**spec, "pixel": True}, runs).get("pixel")
            if smallest and name in FULL_AT_SMALLEST:
                result["full"] = measure({**spec, "full": True}, 1).get("full")
        result.update(tiles=side * side, index=label, engine=engine, runs=count,
                      bytes=size_of(indexes[name]))
        if result.get("full") is not None:
            if name == "flat":
                flat_full = np.load(npy)
            elif flat_full is not None:
                result["full_same"] = "yes" if (np.load(npy) == flat_full).all() else "NO"
        rows.append(result)
        (work / "results.partial.json").write_text(json.dumps({"rows": rows, "builds": builds}))
        print(f"  {side * side} {engine} {label}: "
              + json.dumps({k: v for k, v in result.items() if k != "tiles"}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/work/xr_tiles_index_study")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", default=str(HERE / "index_study.md"))
    parser.add_argument("--report-from", help="rewrite the report from a results JSON")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.report_from:
        results = json.loads(Path(args.report_from).read_text())
        Path(args.out).write_text(report(
            results["rows"], results["builds"], results["behaviour"], results["meta"]))
        return
    import pyogrio
    import rasterio

    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    side_max = max(SIDES.get(n, math.isqrt(n)) for n in sizes)
    seconds = make_tiles(work, side_max)
    print(f"tiles {side_max}^2: {seconds:.1f} s", flush=True)
    rows: list[dict] = []
    builds: list[dict] = [{"tiles": side_max ** 2, "index": "tiles (distinct GeoTIFFs)",
                           "seconds": seconds}] if seconds else []
    for n in sizes:
        measure_size(n, n == min(sizes), work, args.runs, rows, builds)
        for old in (work / f"n{n}").glob("nested_*"):
            if not args.keep and old.is_dir():
                shutil.rmtree(old)
    behaviour = behaviour_checks(work, work / f"n{sizes[0]}" / "gti.gti.fgb")
    meta = {
        "date": time.strftime("%Y-%m-%d"), "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__, "pyogrio": pyogrio.__version__,
        "pyogrio_gdal": pyogrio.__gdal_version_string__, "cpus": os.cpu_count(),
        "runs": args.runs,
    }
    results = {"rows": rows, "builds": builds, "behaviour": behaviour, "meta": meta}
    (work / "results.json").write_text(json.dumps(results, indent=1))
    text = report(rows, builds, behaviour, meta)
    Path(args.out).write_text(text)
    print(text)
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
