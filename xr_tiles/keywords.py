"""The keywords of a write, defined once: ``to_vrt``, the ``.tiles`` accessor and the
command line take them (PEP 692, ``**options: Unpack[WriteKeywords]``), so a type checker
sees every call, and a new option is added here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from .options import Chunks, Overviews, Region


class WriteKeywords(TypedDict, total=False):
    """Every keyword of a write but ``compute``; see ``.tiles.to_vrt`` for each."""

    codec: str | None
    level: float | None
    predictor: bool | int | None
    scheduler: Any
    num_workers: int | None
    chunks: Chunks | None
    blocksize: int | None
    nodata: float | None
    crs: Any
    mode: str
    region: Region | None
    resume: bool
    skip_empty: bool
    overviews: Overviews | None
    resampling: str | None
    durable: bool
    index: str | None
    stac: bool | None
    storage_options: Mapping[str, Any] | None
    progress: bool


# What a keyword not given is. The tile options' None is the default of a new mosaic, or
# a region update's mosaic's own (``inherited``).
DEFAULTS: WriteKeywords = {
    "codec": None, "level": None, "predictor": None, "scheduler": None, "num_workers": None,
    "chunks": None, "blocksize": None, "nodata": None, "crs": None, "mode": "w-",
    "region": None, "resume": False, "skip_empty": False, "overviews": None,
    "resampling": None, "durable": True, "index": None, "stac": None,
    "storage_options": None, "progress": False,
}


def with_defaults(given: Mapping[str, Any], function: str = "to_vrt") -> dict[str, Any]:
    """``given`` keywords with the defaults of the others; an unknown one raises the
    ``TypeError`` Python raises for a function's unknown keyword."""
    unknown = [name for name in given if name not in DEFAULTS]
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    return {**DEFAULTS, **given}
