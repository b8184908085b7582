"""What a write is, and what a published VRT says of itself; pure.

A write's *identity* (the input's dask token, the grid, the bands, the tile options, the
mode and region) is recorded twice: in its manifest while it runs, so that
``resume=True`` continues only the same write, and in the VRT it publishes (metadata
domain ``xr_tiles``), so that ``mode="r+"`` checks new data against the mosaic. The VRT's
sources say which write's folder holds each tile.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .plan import GTI_FILE, STAC_FILE

STATE_DOMAIN = "xr_tiles"
STATE_KEY = "state"
FORMAT = 1
# The identity's parts that a region update must share with the mosaic.
GRID, TILES, BANDS = "grid", "tiles", "bands"
TILE_DEFAULTS = {"index": None, "stac": False}  # tile options added since FORMAT 1 began
STAC_TIME = "stac_time"

_STATE = re.compile(
    rf'<Metadata domain="{STATE_DOMAIN}">\s*<MDI key="{STATE_KEY}">([^<]*)</MDI>'
)
_SOURCE = re.compile(r"<SourceFilename([^>]*)>([^<]*)</SourceFilename>")
_WRITE = r"(?P<write>[0-9a-f]{12})"
_TILE = r"(?P<tile>r(?P<row>\d+)_c(?P<col>\d+)(?:_part(?P<part>\d+))?\.tif)"
_OVERVIEW = r"(?P<overview>overviews/overview_(?P<factor>\d+)(?:_part(?P<opart>\d+))?\.(?:tif|vrt))"
_BLOCK = r"(?P<block>index/b(?P<brow>\d+)_(?P<bcol>\d+)\.vrt)"
# What a block's sub-VRT names: tiles, from its write's index/, and its levels beside it.
_BLOCK_SOURCE = re.compile(
    rf"\.\./\.\./{_WRITE}/{_TILE}|(?P<level>b\d+_\d+_overview_\d+\.vrt)")
_ITEM = re.compile(r"(?:_part\d+)?\.tif$")
Reader = Callable[[str, str], bytes]  # (write id, file name) -> bytes


@dataclass(frozen=True)
class PublishedBlock:
    """One block of a nested VRT: the write whose folder holds its sub-VRTs, their
    names, and the tiles it lists."""

    write_id: str
    files: frozenset[str]
    tiles: Mapping[tuple[int, int, int], str]  # (group, row, col) -> write id


@dataclass(frozen=True)
class Published:
    """What an xr_tiles VRT records: the identity of its last write, and its files."""

    write_id: str
    identity: Mapping[str, Any]
    tiles: Mapping[tuple[int, int, int], str]  # (group, row, col) -> write id
    names: Mapping[tuple[int, int, int], str]  # (group, row, col) -> file name
    overviews: Mapping[tuple[int, int], tuple[str, str]]  # (factor, group) -> (write id, file)
    blocks: Mapping[tuple[int, int], PublishedBlock]  # a nested VRT's, by block row, col
    stac_time: tuple[str, str] | None = None  # the STAC Collection's interval, ISO times

    def files(self) -> dict[str, set[str]]:
        """Each write's files that the VRT names, by write id."""
        files = referenced(self.tiles, self.overviews, self.names)
        for block in self.blocks.values():
            files.setdefault(block.write_id, set()).update(block.files)
        options = self.identity.get(TILES, {})
        if options.get("stac"):
            # Each tile's STAC Item is beside its files, which one write wrote.
            for key, write_id in self.tiles.items():
                files[write_id].add(_ITEM.sub(".json", self.names[key]))
        # What the last write published beside the VRT, staged in its folder.
        staged = {GTI_FILE} if options.get("index") == "gti" else set()
        files.setdefault(self.write_id, set()).update(
            staged | ({STAC_FILE} if options.get("stac") else set()))
        return files


def identity(
    *, token: str, mode: str, region: list[list[int]] | None, skip_empty: bool,
    grid: Mapping[str, Any], tiles: Mapping[str, Any], bands: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A write's identity, as it reads back from JSON (lists, plain numbers): ``grid``
    (the mosaic's chunks, transform and CRS), ``tiles`` (how tiles are encoded) and
    ``bands`` (dtype, nodata, description...), besides the input's dask ``token``."""
    items = {
        "token": token, "mode": mode, "region": region, "skip_empty": skip_empty,
        GRID: grid, TILES: tiles, BANDS: bands,
    }
    return dict(json.loads(json.dumps(items)))


def state_text(
    write_id: str, identity: Mapping[str, Any], stac_time: tuple[str, str] | None = None
) -> str:
    """The VRT's record of itself: its last write and that write's identity; with a STAC
    Collection, its interval (which region updates keep, and widen)."""
    items = {"format": FORMAT, "write": write_id, **identity}
    if stac_time is not None:
        items[STAC_TIME] = list(stac_time)
    return json.dumps(items, sort_keys=True)


def with_defaults(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``identity`` with the parts a write of an earlier xr_tiles did not record, as
    they were then: so that its mosaics still take region updates and resumes."""
    found = dict(identity)
    if isinstance(found.get(TILES), Mapping):
        found[TILES] = {**TILE_DEFAULTS, **found[TILES]}
    return found


class ForeignVrtError(ValueError):
    """The VRT is not an xr_tiles mosaic of this name, or was edited (the reason)."""


def published(vrt_text: str, root: str, read: Reader) -> Published:
    """What ``vrt_text``, a VRT whose tiles are under ``root`` (``<stem>_tiles``), says;
    of a nested VRT, what its sub-VRTs say too, read through ``read``.

    Raises ``ForeignVrtError`` naming why it is not a mosaic xr_tiles wrote there.
    """
    write_id, state = _state(vrt_text)
    tiles: dict[tuple[int, int, int], str] = {}
    names: dict[tuple[int, int, int], str] = {}
    overviews: dict[tuple[int, int], tuple[str, str]] = {}
    blocks: dict[tuple[int, int], PublishedBlock] = {}
    source = re.compile(rf"{re.escape(root)}/{_WRITE}/(?:{_TILE}|{_OVERVIEW}|{_BLOCK})")
    for attributes, text in _SOURCE.findall(vrt_text):
        path = html.unescape(text)
        parts = source.fullmatch(path) if 'relativeToVRT="1"' in attributes else None
        if parts is None:
            raise _edited(path, root)
        if parts["tile"]:
            tile = (_group(parts["part"]), int(parts["row"]), int(parts["col"]))
            tiles[tile], names[tile] = parts["write"], parts["tile"]
        elif parts["overview"]:
            level = (int(parts["factor"]), _group(parts["opart"]))
            overviews[level] = (parts["write"], parts["overview"])
        elif (key := (int(parts["brow"]), int(parts["bcol"]))) not in blocks:
            blocks[key] = _block(parts["write"], parts["block"], root, read, tiles, names)
    stac_time = state.pop(STAC_TIME, None)
    return Published(write_id, with_defaults(state), tiles, names, overviews, blocks,
                     None if stac_time is None else (str(stac_time[0]), str(stac_time[1])))


def _state(vrt_text: str) -> tuple[str, dict[str, Any]]:
    match = _STATE.search(vrt_text)
    if match is None:
        raise ForeignVrtError("it has no xr_tiles metadata: xr_tiles did not write it")
    try:
        state = json.loads(html.unescape(match[1]))
        if state.pop("format") != FORMAT:
            raise ForeignVrtError("it was written by another version of xr_tiles")
        return str(state.pop("write")), state
    except (ValueError, KeyError, AttributeError) as error:
        raise ForeignVrtError(f"its xr_tiles metadata cannot be read ({error})") from None


def _block(
    write_id: str, name: str, root: str, read: Reader,
    tiles: dict[tuple[int, int, int], str], names: dict[tuple[int, int, int], str],
) -> PublishedBlock:
    """A sub-VRT's block; its tiles are added to ``tiles`` and ``names``."""
    try:
        text = read(write_id, name).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ForeignVrtError(f"its sub-VRT {root}/{write_id}/{name} cannot be read "
                              f"({error})") from None
    files, listed = {name}, {}
    folder = name.rsplit("/", 1)[0]
    for attributes, source in _SOURCE.findall(text):
        path = html.unescape(source)
        parts = _BLOCK_SOURCE.fullmatch(path) if 'relativeToVRT="1"' in attributes else None
        if parts is None:
            raise _edited(path, f"{root}/{write_id}/{folder}")
        if parts["level"]:
            files.add(f"{folder}/{parts['level']}")
            continue
        tile = (_group(parts["part"]), int(parts["row"]), int(parts["col"]))
        tiles[tile] = listed[tile] = parts["write"]
        names[tile] = parts["tile"]
    return PublishedBlock(write_id, frozenset(files), listed)


def _edited(path: str, folder: str) -> ForeignVrtError:
    return ForeignVrtError(
        f"it names {path!r}, which is not a file of this mosaic (in {folder}/): it was "
        "edited by hand"
    )


def referenced(
    tiles: Mapping[tuple[int, int, int], str],
    overviews: Mapping[tuple[int, int], tuple[str, str]],
    names: Mapping[tuple[int, int, int], str],
) -> dict[str, set[str]]:
    """Each write's files named by ``tiles`` and ``overviews``, by write id."""
    files: dict[str, set[str]] = {}
    for key, write_id in tiles.items():
        files.setdefault(write_id, set()).add(names[key])
    for write_id, name in overviews.values():
        files.setdefault(write_id, set()).add(name)
    return files


def differences(
    expected: Mapping[str, Any], actual: Mapping[str, Any], parts: Sequence[str]
) -> list[str]:
    """``name: expected vs actual`` for every item of ``parts`` that differs, down to
    the key (``tiles.codec``) or the band (``bands[2].dtype``, bands counted from 1)."""
    found: list[str] = []
    for part in parts:
        _differ(part, expected.get(part), actual.get(part), found)
    return found


def _differ(name: str, left: Any, right: Any, found: list[str]) -> None:
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        for key in sorted(set(left) | set(right)):
            _differ(f"{name}.{key}", left.get(key), right.get(key), found)
    elif _records(left) and _records(right) and len(left) == len(right):
        for number, (one, other) in enumerate(zip(left, right, strict=True), 1):
            _differ(f"{name}[{number}]", one, other, found)
    elif _records(left) and _records(right):
        found.append(f"{name}: {len(left)} vs {len(right)}")
    elif left != right:
        found.append(f"{name}: {_short(left)} vs {_short(right)}")


def _records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, Mapping) for item in value)


def _group(part: str | None) -> int:
    return 0 if part is None else int(part) - 1


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
