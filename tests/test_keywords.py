"""The write's keywords are defined once (``xr_tiles.keywords.WriteKeywords``): the
function, the accessor, its documentation and the command line all take that set."""

from __future__ import annotations

import inspect
import typing

import pytest
from numpydoc.docscrape import FunctionDoc

import xr_tiles
from conftest import make_raster, tree
from xr_tiles.accessor import TilesAccessor
from xr_tiles.cli.words import FLAGS
from xr_tiles.keywords import DEFAULTS, WriteKeywords
from xr_tiles.write import _write

KEYWORDS = set(typing.get_type_hints(WriteKeywords))


def test_every_keyword_has_a_default_and_reaches_the_writer():
    assert set(DEFAULTS) == KEYWORDS
    parameters = inspect.signature(_write).parameters
    assert {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY} == (
        KEYWORDS | {"compute"})


def test_the_accessor_documents_every_keyword_and_the_cli_has_a_flag_for_each():
    documented = {parameter.name for parameter in FunctionDoc(TilesAccessor.to_vrt)["Parameters"]}
    assert documented == KEYWORDS | {"path", "compute"}
    assert set(FLAGS) == KEYWORDS


@pytest.mark.parametrize("call", ["function", "accessor"])
def test_an_unknown_keyword_is_refused_as_python_refuses_one(call, vrt_path, tmp_path):
    array = make_raster((16, 16))
    write = xr_tiles.to_vrt if call == "function" else (lambda _, *a, **k: array.tiles.to_vrt(*a, **k))
    with pytest.raises(TypeError, match="unexpected keyword argument 'codecs'"):
        write(array, vrt_path, codecs="zstd")
    assert tree(tmp_path) == {}
