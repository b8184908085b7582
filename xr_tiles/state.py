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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STATE_DOMAIN = "xr_tiles"
STATE_KEY = "state"
FORMAT = 1
# The identity's parts that a region update must share with the mosaic.
GRID, TILES, BANDS = "grid", "tiles", "bands"

_STATE = re.compile(
    rf'<Metadata domain="{STATE_DOMAIN}">\s*<MDI key="{STATE_KEY}">([^<]*)</MDI>'
)
_SOURCE = re.compile(r"<SourceFilename([^>]*)>([^<]*)</SourceFilename>")


@dataclass(frozen=True)
class Published:
    """What an xr_tiles VRT records: the identity of its last write, and its files."""

    write_id: str
    identity: Mapping[str, Any]
    tiles: Mapping[tuple[int, int, int], str]  # (group, row, col) -> write id
    names: Mapping[tuple[int, int, int], str]  # (group, row, col) -> file name
    overviews: Mapping[tuple[int, int], tuple[str, str]]  # (factor, group) -> (write id, file)

    def files(self) -> dict[str, set[str]]:
        """Each write's files that the VRT names, by write id."""
        return referenced(self.tiles, self.overviews, self.names)


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


def state_text(write_id: str, identity: Mapping[str, Any]) -> str:
    """The VRT's record of itself: its last write and that write's identity."""
    return json.dumps({"format": FORMAT, "write": write_id, **identity}, sort_keys=True)


class ForeignVrtError(ValueError):
    """The VRT is not an xr_tiles mosaic of this name, or was edited (the reason)."""


def published(vrt_text: str, root: str) -> Published:
    """What ``vrt_text``, a VRT whose tiles are under ``root`` (``<stem>_tiles``), says.

    Raises ``ForeignVrtError`` naming why it is not a mosaic xr_tiles wrote there.
    """
    match = _STATE.search(vrt_text)
    if match is None:
        raise ForeignVrtError("it has no xr_tiles metadata: xr_tiles did not write it")
    try:
        state = json.loads(html.unescape(match[1]))
        if state.pop("format") != FORMAT:
            raise ForeignVrtError("it was written by another version of xr_tiles")
        write_id = str(state.pop("write"))
    except (ValueError, KeyError, AttributeError) as error:
        raise ForeignVrtError(f"its xr_tiles metadata cannot be read ({error})") from None
    tiles: dict[tuple[int, int, int], str] = {}
    names: dict[tuple[int, int, int], str] = {}
    overviews: dict[tuple[int, int], tuple[str, str]] = {}
    source = re.compile(
        rf"{re.escape(root)}/(?P<write>[0-9a-f]{{12}})/(?:"
        r"(?P<tile>r(?P<row>\d+)_c(?P<col>\d+)(?:_part(?P<part>\d+))?\.tif)"
        r"|(?P<overview>overviews/overview_(?P<factor>\d+)(?:_part(?P<opart>\d+))?\.(?:tif|vrt)))"
    )
    for attributes, text in _SOURCE.findall(vrt_text):
        path = html.unescape(text)
        parts = source.fullmatch(path) if 'relativeToVRT="1"' in attributes else None
        if parts is None:
            raise ForeignVrtError(
                f"it names {path!r}, which is not a tile of this mosaic (under {root}/): "
                "it was edited by hand"
            )
        if parts["tile"]:
            tile = (_group(parts["part"]), int(parts["row"]), int(parts["col"]))
            tiles[tile], names[tile] = parts["write"], parts["tile"]
        else:
            level = (int(parts["factor"]), _group(parts["opart"]))
            overviews[level] = (parts["write"], parts["overview"])
    return Published(write_id, state, tiles, names, overviews)


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
