"""The names in a mosaic's tiles folder, ``<stem>_tiles/``: which entries are xr_tiles'.

Every write has a folder of its own, ``<write id>/``, holding its tiles (and under
``overviews/`` its overview files, under ``index/`` a nested VRT's sub-VRTs, under
``staged/`` the tile index and STAC Collection it publishes beside the VRT; each tile's
STAC Item beside the tile), and while it has not published, a manifest beside it,
``<write id>.json``. A folder being deleted is first renamed ``.<write id>.deleting``.
Files are written under a hidden temporary name, ``.<name>.<pid>-<thread>.partial``, and
renamed into place once whole (object stores: one PUT). Anything else in the folder is
not xr_tiles' and is never deleted, nor is anything in a write's folder that xr_tiles
does not name so (``is_own_file``: a GIS's ``.aux.xml`` beside a tile stays) while the
VRT names that folder.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass
from enum import Enum

from ..plan import GTI_FILE, STAC_FILE

WRITE_ID_LENGTH = 12
MANIFEST_SUFFIX = ".json"
DELETING_SUFFIX = ".deleting"
PARTIAL_SUFFIX = ".partial"

_ID = f"[0-9a-f]{{{WRITE_ID_LENGTH}}}"
_ENTRY = re.compile(
    rf"(?P<write>{_ID})"
    rf"|(?P<manifest>{_ID})\{MANIFEST_SUFFIX}"
    rf"|\.(?P<deleting>{_ID})\{DELETING_SUFFIX}"
    # a manifest's temporary file, and the abort marker of xr_tiles 0.1 on object stores
    rf"|\.(?P<partial>{_ID})\{MANIFEST_SUFFIX}\.[0-9a-f-]+\{PARTIAL_SUFFIX}"
    rf"|(?P<aborted>{_ID})\.aborted"
)
_PARTIAL_FILE = re.compile(rf"\..+\.[0-9]+-[0-9]+\{PARTIAL_SUFFIX}")
_TILE = r"r[0-9]+_c[0-9]+(?:_part[0-9]+)?\.tif"
_TILE_FILE = re.compile(_TILE)
_OWN_FILE = re.compile(
    rf"(?:{_TILE}"
    r"|overviews/overview_[0-9]+(?:(?:_part[0-9]+)?\.tif|\.vrt)"
    r"|index/b[0-9]+_[0-9]+(?:_overview_[0-9]+)?\.vrt"
    r"|r[0-9]+_c[0-9]+\.json"
    r"|staged/(?:index\.gti\.gpkg|collection\.json))"
)


class Kind(Enum):
    WRITE = "write"  # a write's folder
    MANIFEST = "manifest"  # an unpublished write's manifest
    DEBRIS = "debris"  # what a killed write or cleanup left: always deleted
    FOREIGN = "foreign"  # not xr_tiles': never deleted


@dataclass(frozen=True)
class Entry:
    """One name in the tiles folder, and which write it belongs to."""

    name: str
    kind: Kind
    write_id: str | None = None


def classify(name: str) -> Entry:
    """What the tiles folder's entry ``name`` is."""
    match = _ENTRY.fullmatch(name)
    if match is None:
        return Entry(name, Kind.FOREIGN)
    group = match.lastgroup
    kind = {"write": Kind.WRITE, "manifest": Kind.MANIFEST}.get(group or "", Kind.DEBRIS)
    return Entry(name, kind, match[group or 0])


def new_write_id() -> str:
    return uuid.uuid4().hex[:WRITE_ID_LENGTH]


def is_write_id(text: str) -> bool:
    return re.fullmatch(_ID, text) is not None


def manifest_name(write_id: str) -> str:
    return f"{write_id}{MANIFEST_SUFFIX}"


def deleting_name(write_id: str) -> str:
    return f".{write_id}{DELETING_SUFFIX}"


def partial_name(name: str) -> str:
    """A temporary name for ``name`` no other process or thread uses at the same time."""
    return f".{name}.{os.getpid()}-{threading.get_ident()}{PARTIAL_SUFFIX}"


def beside(root_name: str) -> dict[str, str]:
    """What a write may publish beside the VRT after it: each staged file in its folder
    (a name there) and the path it is published at, relative to the VRT's folder."""
    stem = root_name.removesuffix("_tiles")
    return {GTI_FILE: f"{stem}.gti.gpkg", STAC_FILE: f"{stem}_stac/collection.json"}


def is_own_file(name: str) -> bool:
    """A name xr_tiles gives a file in a write's folder: a tile, a level, a partial."""
    return _OWN_FILE.fullmatch(name) is not None or is_partial(name.rsplit("/", 1)[-1])


def is_tile(name: str) -> bool:
    """A whole tile in a write's folder: what a resumed write keeps."""
    return _TILE_FILE.fullmatch(name) is not None


def is_partial(name: str) -> bool:
    """A file left half-written in a write's folder (a process died writing it)."""
    return _PARTIAL_FILE.fullmatch(name) is not None


# GDAL's own files beside a dataset: external overviews (gdaladdo, QGIS's pyramids), its
# PAM (.aux.xml: statistics, histograms) and an external mask.
SIDECAR_SUFFIXES = (".ovr", ".aux.xml", ".msk")


def sidecars(root_name: str) -> list[str]:
    """The names of GDAL's sidecars of the VRT, beside it: they describe the mosaic they
    were made of, and GDAL would serve them for any later one."""
    vrt = root_name.removesuffix("_tiles") + ".vrt"
    return [vrt + suffix for suffix in SIDECAR_SUFFIXES]
