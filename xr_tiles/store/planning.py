"""What a write finds at its path, and which write it is: a new one, or the one it
resumes; refused before anything is written where ``mode`` or ``resume`` cannot be met."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import state
from ..errors import InvalidOptionError, OutputExistsError
from .layout import beside, is_tile, new_write_id
from .listing import Listing, WriteEntry
from .liveness import check_conflicts, may_be_running

if TYPE_CHECKING:
    from . import Store

logger = logging.getLogger("xr_tiles")


@dataclass(frozen=True)
class Existing:
    """What was at the path when the write was planned (read only)."""

    version: Any  # the VRT's version, None where there is none
    published: state.Published | None  # what an xr_tiles VRT says of itself
    foreign: str | None  # why a VRT that is there is not an xr_tiles mosaic
    listing: Listing
    vrt_text: str | None = None  # the VRT itself


@dataclass(frozen=True)
class CommitPlan:
    """Which write this is: a new one, or a resumed one with the tiles it kept."""

    write_id: str
    expected: Any  # the VRT's version this write replaces
    published: frozenset[str] = frozenset()  # the writes that VRT names: none of them runs
    kept: frozenset[str] = frozenset()  # the names of the files a resumed write has
    resumed: bool = False
    done: bool = False  # the same write was published already: only tidy up


def inspect(store: Store) -> Existing:
    text, version = store.read_vrt()
    published, foreign = None, None
    if text is not None:
        try:
            published = state.published(text, store.root_name, store.read)
        except state.ForeignVrtError as error:
            foreign = str(error)
    return Existing(version, published, foreign, store.list_root(), text)


def plan_commit(
    store: Store, existing: Existing, identity: Mapping[str, Any], mode: str, resume: bool
) -> CommitPlan:
    """This write's plan, or an error before anything is written: another write runs,
    ``mode`` refuses what is there, or ``resume`` finds another write's tiles."""
    published = existing.published
    named = frozenset() if published is None else frozenset(published.files())
    check_conflicts(store, existing.listing, own=None, published=named)
    if resume and published is not None and dict(published.identity) == dict(identity):
        return CommitPlan(published.write_id, existing.version, named, done=True)
    if mode == "w-":
        _check_new(store, existing)
    if resume:
        kept = _resumable(store, existing, identity, named)
        if kept is not None:
            names = _intact(store, kept.write_id)
            return CommitPlan(kept.write_id, existing.version, named, kept=names, resumed=True)
        logger.info("%s: resume=True found no write to resume; writing it all", store.where())
    return CommitPlan(new_write_id(), existing.version, named)


def _intact(store: Store, write_id: str) -> frozenset[str]:
    """The files a killed write kept that are whole. A power cut may leave a file that
    was never flushed with fewer bytes than written (none, with delayed allocation):
    such tiles are written again."""
    # Level files are put again at the publish: only tiles count.
    names = {name for name in store.files(write_id) if is_tile(name)}
    damaged = {name for name in names if not store.intact(write_id, name)}
    if damaged:
        logger.warning("%s: %d kept files are cut short (%s); writing them again",
                       store.where(write_id), len(damaged), ", ".join(sorted(damaged)[:3]))
    return frozenset(names - damaged)


def _check_new(store: Store, existing: Existing) -> None:
    """``mode="w-"``: nothing there but, at most, tiles kept by writes that never
    published (the next write deletes those)."""
    if existing.version is not None:
        raise OutputExistsError(f"{store.where()} already exists; pass mode='w' to replace it")
    for target in beside(store.root_name).values():
        if store.exists_beside(target):
            raise OutputExistsError(
                f"{store.where()}: {target} is there already (it names this output's "
                "tiles); pass mode='w' to replace it, or remove it"
            )
    foreign = existing.listing.foreign
    if foreign:
        names = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputExistsError(
            f"{store.where()}: its tiles folder {store.root_name} holds files xr_tiles did "
            f"not write ({names}); pass mode='w' to write beside them, or remove them"
        )


def _resumable(
    store: Store, existing: Existing, identity: Mapping[str, Any], published: frozenset[str]
) -> WriteEntry | None:
    """The newest write that never published and no longer runs, if it is this one;
    None if there is none; an error naming what differs if it is another."""
    candidates = sorted(
        (
            write for write in existing.listing.writes.values()
            if write.manifest is not None and write.folder and write.write_id not in published
            and not may_be_running(write, existing.listing)
        ),
        key=lambda write: write.manifest.writer.started if write.manifest else "",
    )
    matching = [w for w in candidates if w.manifest and dict(w.manifest.identity) == dict(identity)]
    if matching:
        return matching[-1]
    if not candidates:
        return None
    newest = candidates[-1]
    assert newest.manifest is not None
    found = state.differences(newest.manifest.identity, identity, list(identity))
    raise InvalidOptionError(
        f"resume=True: the write kept in {store.where(newest.write_id)} (started "
        f"{newest.manifest.writer.started}) was of {_described(found)}; pass the same input "
        "and options to resume it, or drop resume=True to write anew (which deletes its tiles)"
    )


def _described(found: list[str]) -> str:
    """``differences`` as a reader wants them: the input's token is not an option."""
    options = [item for item in found if not item.startswith("token:")]
    parts = ["another input (its dask token differs)"] if len(options) < len(found) else []
    if options:
        parts.append(f"other options ({'; '.join(options)}; kept vs now)")
    return " and ".join(parts) or "another write"
