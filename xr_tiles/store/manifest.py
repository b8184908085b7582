"""A write's manifest, ``<stem>_tiles/<write id>.json``: put before its first tile and
deleted once a VRT naming its tiles is published.

While it exists it says who runs the write and what the write is, so that a later write
tells a running write from the tiles a dead or failed one kept, and can resume those.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..state import with_defaults
from .writer import Writer

RUNNING = "running"
ABORTED = "aborted"  # failed or interrupted: its tiles are kept for resume=True
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """One unpublished write.

    ``lock``: its writer holds the path's lock from start to end (local disk, computed at
    once), so it runs exactly while the lock says so. ``heartbeat``: its writer puts the
    manifest again every few seconds (object stores, computed at once), so it runs while
    the manifest is fresh. Neither (``compute=False``): it runs while its tasks, wherever
    they run, keep the manifest (or its folder) fresh. ``run``: this attempt at the write,
    unique (a resumed write has the id of the one it resumes, not its run).
    """

    write_id: str
    state: str
    writer: Writer
    identity: Mapping[str, Any]  # what is written: input token, options, mode, region
    tiles: int  # how many tiles the write has to write
    lock: bool = False
    heartbeat: bool = False
    run: str = ""
    stac_time: list[str] | None = None  # its STAC Items' time, which a resume keeps

    def to_bytes(self) -> bytes:
        items = dataclasses.asdict(self)
        items["writer"] = self.writer.as_dict()
        return json.dumps({"format": FORMAT, **items}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest | None:
        """The manifest, or None for one that cannot be read (cut short, or of another
        version): its write cannot be resumed, and is deleted as debris."""
        try:
            items = json.loads(data)
            if items.pop("format") != FORMAT:
                return None
            items["writer"] = Writer.from_dict(items["writer"])
            items["identity"] = with_defaults(items["identity"])
            return cls(**items)
        except (ValueError, KeyError, TypeError):
            return None

    def aborted(self) -> Manifest:
        return dataclasses.replace(self, state=ABORTED)
