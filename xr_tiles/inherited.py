"""The tile options of a write: those given, else the defaults, or for a region update
(``mode="r+"``) the mosaic's own, as ``to_zarr(region=...)`` takes the store's encoding.

An option given to a region update differently from the mosaic is refused, in the words
it was given in (``overviews=[2, 4]`` in Python, ``--overviews 2,4`` on the command line).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import RegionMismatchError
from .overviews import auto_factors

# The tile options and their defaults for a new mosaic; None given means "not given".
DEFAULTS: dict[str, Any] = {
    "codec": "zstd", "level": None, "predictor": None, "blocksize": 256, "overviews": None,
    "resampling": "nearest", "index": None, "stac": False,
}
# An option as its user writes it, with a value, or alone for ``...``: Python's
# ``overviews=[2, 4]`` and ``overviews``; the CLI passes its own (``--overviews 2,4``).
Words = Callable[[str, Any], str]


class OptionMismatchError(RegionMismatchError):
    """Options given to a region update that the mosaic was written without."""

    def __init__(self, where: str, mismatches: list[tuple[str, Any, Any]], words: Words):
        self.where, self.mismatches = where, mismatches
        super().__init__(self.text(words))

    def text(self, words: Words) -> str:
        """The error in ``words``: the option given and the mosaic's own, for each."""
        found = "; ".join(
            f"{words(name, given)} (the mosaic has {words(name, mosaic)})"
            for name, given, mosaic in self.mismatches
        )
        names = " and ".join(words(name, ...) for name, _, _ in self.mismatches)
        return (
            f"{words('mode', 'r+')} updates {self.where} as it was written: {found}; drop "
            f"{names} to keep the mosaic's, or replace the mosaic with {words('mode', 'w')}"
        )


def python_words(name: str, value: Any) -> str:
    if value is ...:
        return name
    return f"{name}={list(value) if isinstance(value, tuple) else value!r}"


def new_options(given: Mapping[str, Any]) -> dict[str, Any]:
    """The options of a new mosaic: the defaults where nothing was given."""
    return {name: default if given[name] is None else given[name]
            for name, default in DEFAULTS.items()}


def region_options(
    given: Mapping[str, Any], tiles: Mapping[str, Any], shape: tuple[int, int], where: str,
    words: Words = python_words,
) -> dict[str, Any]:
    """The options of a region update of a mosaic whose identity has these ``tiles``
    options and this ``shape``: the mosaic's, checked against those given."""
    mosaic = _mosaic_options(tiles)
    mismatches = []
    for name, value in given.items():
        # Without overview levels nothing is resampled (as GDAL ignores RESAMPLING).
        if value is None or (name == "resampling" and not mosaic["overviews"]):
            continue
        if _normalised(name, value, shape, mosaic) != mosaic[name]:
            mismatches.append((name, value, mosaic[name]))
    if mismatches:
        raise OptionMismatchError(where, mismatches, words)
    return mosaic


def _mosaic_options(tiles: Mapping[str, Any]) -> dict[str, Any]:
    """What ``to_vrt`` was given, as far as the mosaic's record says."""
    predictors = set(tiles["predictors"])
    return {
        "codec": tiles["codec"],
        "level": tiles["level"],
        # One predictor for every band group; several (integers and floats) were automatic.
        "predictor": predictors.pop() if len(predictors) == 1 else None,
        "blocksize": tiles["blocksize"],
        "overviews": list(tiles["overviews"]) or None,
        "resampling": tiles["resampling"] or DEFAULTS["resampling"],
        "index": tiles["index"],
        "stac": tiles["stac"],
    }


def _normalised(name: str, value: Any, shape: tuple[int, int], mosaic: Mapping[str, Any]) -> Any:
    """``value`` as the mosaic records it, to compare: a codec's name in lower case,
    "auto" overviews as the factors they give the mosaic, resampling's name."""
    if name in ("codec", "resampling", "index"):
        return str(getattr(value, "name", value)).lower()
    if name == "overviews":
        if isinstance(value, str) and value == "auto":
            return auto_factors(*shape, mosaic["blocksize"]) or None
        return sorted(value) or None
    if name == "predictor":
        return 1 if value is False else value
    return value
