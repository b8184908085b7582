"""What a tiles folder holds, as both stores report it: the writes, their manifests, and
the names that are debris or not xr_tiles' at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from .layout import Kind, classify
from .lock import Holder
from .manifest import Manifest


@dataclass(frozen=True)
class WriteEntry:
    """One write's entries in the tiles folder."""

    write_id: str
    folder: bool = False  # its folder of tiles exists
    manifest_file: bool = False  # its manifest exists (readable or not)
    manifest: Manifest | None = None
    activity: float = 0.0  # the latest change seen (seconds since the epoch)


@dataclass(frozen=True)
class Listing:
    """The tiles folder at one moment."""

    writes: dict[str, WriteEntry] = field(default_factory=dict)
    debris: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    holder: Holder | None = None  # the local path's lock holder


def listing(
    entries: Iterable[tuple[str, bool, float]],
    read_manifest: Callable[[str], bytes | None],
    holder: Holder | None = None,
) -> Listing:
    """A ``Listing`` of ``(name, is_folder, modified)`` entries; ``read_manifest(name)``
    gives a manifest's bytes (None if it vanished meanwhile)."""
    writes: dict[str, WriteEntry] = {}
    debris, foreign = [], []
    for name, is_folder, modified in entries:
        entry = classify(name)
        misplaced = entry.kind in (Kind.WRITE, Kind.MANIFEST) and is_folder != (
            entry.kind is Kind.WRITE
        )
        if entry.kind is Kind.FOREIGN or misplaced:
            foreign.append(name)
            continue
        if entry.kind is Kind.DEBRIS or entry.write_id is None:
            debris.append(name)
            continue
        known = writes.get(entry.write_id, WriteEntry(entry.write_id))
        activity = max(known.activity, modified)
        if entry.kind is Kind.WRITE:
            writes[entry.write_id] = replace(known, folder=True, activity=activity)
            continue
        data = read_manifest(name)
        if data is not None:
            writes[entry.write_id] = replace(
                known, manifest_file=True, manifest=Manifest.from_bytes(data), activity=activity
            )
    return Listing(writes, tuple(debris), tuple(foreign), holder)

