"""The STAC documents: an Item per cell of the tile grid, beside its tiles, and the
Collection that links them and holds the VRT; pure, built with pystac's extensions.

Tasks write them at different times (an item by the task that writes its cell's tiles
and knows their sizes; the collection last), so these return JSON for the caller to
write, rather than ``Catalog.save``. Every href is relative, and no link is ``self``:
the catalog is self-contained. Bands are described as pystac's extensions write them
and odc-stac 0.5 reads them: names in ``eo:bands`` (odc-stac names a multi-band asset's
bands from them alone), storage in ``raster:bands`` (v1.1), not in STAC 1.1's ``bands``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pystac
from pystac.extensions.eo import Band as EOBand
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, NoDataStrings, RasterBand, RasterExtension
from rasterio.crs import CRS

from ..errors import UnsupportedInputError
from ..plan import Tile, TilePlan
from ..source import Band
from .footprint import crs_bounds, footprint, wkt2

COLLECTION_FILE = "collection.json"  # the collection's name in its folder, ``<stem>_stac/``
ASSET_KEY = "data"  # the key of a cell's multi-band asset, suffixed like its file
RASTER_SEGMENTS = 64  # the same for the whole raster's extent
# A datetime, or the (start, end) of the interval the data stands for; naive means UTC.
Time = dt.datetime | tuple[dt.datetime, dt.datetime]
# A file of a cell: (band group, file name, size in bytes).
File = tuple[int, str, int]
Described = TypeVar("Described", pystac.Asset, pystac.ItemAssetDefinition)


def check_georeferenced(crs: CRS | None) -> CRS:
    """``crs``, or an error: a STAC item must say where on the Earth it is."""
    if crs is None:
        raise UnsupportedInputError(
            "the data has no CRS, so its tiles have no footprint for STAC items; set one "
            "with .rio.write_crs(...) or the crs= option"
        )
    return crs


def item_json(
    plan: TilePlan, tile: Tile, files: Sequence[File], bands: Sequence[Band],
    band_order: Sequence[tuple[int, int]], crs: CRS | None, *, collection_id: str,
    collection_href: str, datetime: Time,
) -> bytes:
    """Return the STAC Item of ``tile``'s cell, an asset for each of its ``files``.

    VRT band ``i`` is ``bands[i]``, stored as band ``band_order[i][1]`` of its group's
    file; ``collection_href``: the collection, relative to the item. A task that writes
    many items builds their ``item_template`` once.

    Examples
    --------
    >>> item_json(plan, tile, [(0, "r0_c0.tif", 1234)], bands, [(0, 0)], crs,
    ...           collection_id="m", collection_href="../../m_stac/collection.json",
    ...           datetime=dt.datetime(2024, 1, 1))  # doctest: +SKIP
    b'{"type":"Feature","stac_version":"1.1.0",...'
    """
    template = item_template(
        plan, bands, band_order, crs, collection_id=collection_id,
        collection_href=collection_href, datetime=datetime,
    )
    return template.json(tile, files)


@dataclass(frozen=True, eq=False)
class ItemTemplate:
    """What the items of a mosaic share, built once: an item's JSON without the fields
    of its cell, which ``json`` fills in. A plain value, to pickle into tasks."""

    plan: TilePlan
    wkt: str  # the CRS, as WKT 2
    collection_id: str
    document: Mapping[str, Any]
    assets: Mapping[int, tuple[str, Mapping[str, Any]]]  # group -> key, fields but href

    def json(self, tile: Tile, files: Sequence[File]) -> bytes:
        """The item of ``tile``'s cell, whose files are ``files``."""
        transform = self.plan.tile_transform(tile)
        geometry, bbox = footprint(transform, tile.height, tile.width, self.wkt)
        document = {**self.document, "id": item_id(self.collection_id, self.plan, tile),
                    "geometry": geometry, "bbox": bbox}
        document["properties"] = {
            **self.document["properties"],
            "proj:shape": [tile.height, tile.width],
            "proj:transform": list(transform)[:6],
            "proj:bbox": crs_bounds(transform, tile.height, tile.width),
        }
        assets = {}
        for group, name, size in files:
            key, fields = self.assets[group]
            assets[key] = {"href": f"./{name}", **fields, "file:size": size}
        document["assets"] = assets
        return _dumps(document)


def item_template(
    plan: TilePlan, bands: Sequence[Band], band_order: Sequence[tuple[int, int]],
    crs: CRS | None, *, collection_id: str, collection_href: str, datetime: Time,
) -> ItemTemplate:
    """The template of the items of ``plan``'s cells; arguments as ``item_json``'s."""
    crs = check_georeferenced(crs)
    start, end = _interval(datetime)
    item = pystac.Item(
        "template", None, None, start if end is None else None, {},
        start_datetime=None if end is None else start, end_datetime=end,
        collection=collection_id,
    )
    ProjectionExtension.ext(item, add_if_missing=True).apply(**_crs_fields(crs))
    groups = _groups(plan, bands, band_order)
    for key, members in groups.values():
        asset = pystac.Asset("", media_type=pystac.MediaType.COG, roles=["data"])
        item.add_asset(key, asset)
        _describe(asset, members)
        FileExtension.ext(asset, add_if_missing=True)  # lists the extension; sizes are per cell
    fields = list(item.to_dict(include_self_link=False, transform_hrefs=False).items())
    after = [key for key, _ in fields].index("geometry") + 1  # pystac leaves out a None bbox
    document = dict([*fields[:after], ("bbox", None), *fields[after:]])
    document["links"] = [
        _link(rel, collection_href, pystac.MediaType.JSON)
        for rel in ("root", "parent", "collection")
    ]
    assets = {
        group: (key, {k: v for k, v in document["assets"][key].items() if k != "href"})
        for group, (key, _) in groups.items()
    }
    return ItemTemplate(plan, wkt2(crs), collection_id, document, assets)


def collection_json(
    plan: TilePlan, bands: Sequence[Band], band_order: Sequence[tuple[int, int]],
    crs: CRS | None, items: Iterable[str], *, collection_id: str, vrt_href: str,
    datetime: Time, title: str | None = None, description: str | None = None,
    license: str = "other",
) -> bytes:
    """Return the STAC Collection of a mosaic: its extent, the VRT as its asset
    ``mosaic`` (``vrt_href`` relative to the collection, with the whole grid), what its
    items' assets hold (``item_assets``), and a link to each of ``items`` (hrefs
    relative to the collection).

    Examples
    --------
    >>> collection_json(plan, bands, [(0, 0)], crs, ["../m_tiles/0a1b2c3d4e5f/r0_c0.json"],
    ...                 collection_id="m", vrt_href="../m.vrt",
    ...                 datetime=dt.datetime(2024, 1, 1))  # doctest: +SKIP
    b'{"type":"Collection","id":"m","stac_version":"1.1.0",...'
    """
    crs = check_georeferenced(crs)
    start, end = _interval(datetime)
    _, bbox = footprint(plan.transform, plan.height, plan.width, crs, RASTER_SEGMENTS)
    collection = pystac.Collection(
        collection_id,
        description or "GeoTIFF tiles of a raster, an item each, and the GDAL VRT of them.",
        pystac.Extent(
            pystac.SpatialExtent([bbox]),
            pystac.TemporalExtent([[start, start if end is None else end]]),
        ),
        title=title,
        license=license,
    )
    # No media type names GDAL's VRT; it is XML, and GDAL reads it as the whole raster.
    vrt = pystac.Asset(vrt_href, "GDAL VRT", media_type=pystac.MediaType.XML, roles=["data"])
    collection.add_asset("mosaic", vrt)
    _describe(vrt, list(enumerate(bands, 1)))
    ProjectionExtension.ext(vrt, add_if_missing=True).apply(
        **_crs_fields(crs), shape=[plan.height, plan.width],
        transform=list(plan.transform)[:6],
        bbox=crs_bounds(plan.transform, plan.height, plan.width),
    )
    for key, members in _groups(plan, bands, band_order).values():
        definition = pystac.ItemAssetDefinition.create(
            None, None, pystac.MediaType.COG, ["data"])
        definition.owner = collection
        _describe(definition, members)
        collection.item_assets[key] = definition
    document = collection.to_dict(include_self_link=False, transform_hrefs=False)
    item_link = _link("item", "", pystac.MediaType.GEOJSON)
    document["links"] = [
        _link("root", f"./{COLLECTION_FILE}", pystac.MediaType.JSON),
        *({**item_link, "href": href} for href in items),
    ]
    return _dumps(document)


def item_filename(plan: TilePlan, tile: Tile) -> str:
    """The item's name beside its cell's tiles: ``r0_c0.json``."""
    return f"{_cell(plan, tile)}.json"


def item_id(collection_id: str, plan: TilePlan, tile: Tile) -> str:
    """Unique in the collection, and the same for the cell in every write."""
    return f"{collection_id}-{_cell(plan, tile)}"


def _crs_fields(crs: CRS) -> dict[str, Any]:
    """``proj:code`` where an authority's code is exactly ``crs``, else ``proj:wkt2``."""
    authority = crs.to_authority(confidence_threshold=100)
    if authority is not None and CRS.from_user_input(":".join(authority)) == crs:
        return {"code": ":".join(authority)}
    return {"code": None, "wkt2": wkt2(crs)}


def _groups(
    plan: TilePlan, bands: Sequence[Band], band_order: Sequence[tuple[int, int]],
) -> dict[int, tuple[str, list[tuple[int, Band]]]]:
    """Each band group's asset key, and its bands in their order in its file with their
    VRT band numbers. A file of one band is keyed by the band's name, as odc-stac names
    a single-band asset's data by its key; else (or where names repeat) ``data`` and the
    file's suffix."""
    members: dict[int, list[tuple[int, int, Band]]] = {}
    for number, (band, (group, index)) in enumerate(zip(bands, band_order, strict=True), 1):
        members.setdefault(group, []).append((index, number, band))
    groups = {g: [(n, b) for _, n, b in sorted(members[g], key=lambda m: m[0])]
              for g in sorted(members)}
    keys = [_band_name(*numbered[0]) if len(numbered) == 1 else "" for numbered in groups.values()]
    if "" in keys or len(set(keys)) < len(keys):
        keys = [f"{ASSET_KEY}{plan.group_suffixes[group]}" for group in groups]
    return {group: (key, groups[group]) for group, key in zip(groups, keys, strict=True)}


def _band_name(number: int, band: Band) -> str:
    return band.description or f"band_{number}"


def _describe(asset: Described, bands: Sequence[tuple[int, Band]]) -> None:
    """Give ``asset`` (which has its owner) the names and storage of its ``bands``, of
    those VRT band numbers: a band's name is its description, else ``band_<number>``."""
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(
            data_type=DataType(band.dtype.name), nodata=_nodata(band.nodata),
            unit=band.unit, scale=band.scale, offset=band.offset,
        )
        for _, band in bands
    ]
    EOExtension.ext(asset, add_if_missing=True).bands = [
        EOBand.create(name=_band_name(number, band)) for number, band in bands
    ]


def _nodata(value: float | None) -> float | NoDataStrings | None:
    """JSON has no NaN nor infinity: the raster extension spells them as Python does."""
    return value if value is None or math.isfinite(value) else NoDataStrings(repr(value))


def _interval(datetime: Time) -> tuple[dt.datetime, dt.datetime | None]:
    return datetime if isinstance(datetime, tuple) else (datetime, None)


def _cell(plan: TilePlan, tile: Tile) -> str:
    return plan.filename(tile).removesuffix(f"{plan.group_suffixes[0]}.tif")


def _link(rel: str, href: str, media_type: str) -> dict[str, str]:
    return {"rel": rel, "href": href, "type": media_type}


def _dumps(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN is refused, as JSON has none."""
    return json.dumps(document, allow_nan=False, separators=(",", ":")).encode()
