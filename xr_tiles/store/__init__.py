"""Where the bytes go: the commit protocol (``commit``) over the local disk (``local``)
and fsspec's object stores (``objectstore``); the only code that touches either."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

from .commit import Commit
from .local import LocalStore
from .objectstore import ObjectStore
from .planning import CommitPlan, Existing, inspect, plan_commit
from .sink import TileSink

Store = LocalStore | ObjectStore


def store_for(
    path: pathlib.Path | str, storage_options: Mapping[str, Any], *, durable: bool
) -> Store:
    """A local path's store, or an fsspec URL's (``paths.parse_path`` tells them apart)."""
    if isinstance(path, pathlib.Path):
        return LocalStore(path, durable)
    return ObjectStore(path, storage_options, durable)


__all__ = [
    "Commit", "CommitPlan", "Existing", "LocalStore", "ObjectStore", "Store", "TileSink",
    "inspect", "plan_commit", "store_for",
]
