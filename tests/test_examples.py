"""Every gallery example runs top to bottom, in a fresh process, and ends in a figure."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from corpus.fetch import UnreachableError, fetch

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("plot_*.py"))

# Runs the example as __main__ (as sphinx-gallery does), in a temporary folder, with the
# examples' folder on sys.path (as ``python examples/plot_x.py`` and sphinx-gallery have it,
# for examples/_data), then saves the figure it ends in; plt.show() does nothing with Agg.
RUNNER = """
import pathlib, runpy, sys
import matplotlib.pyplot as plt
sys.path.insert(0, str(pathlib.Path(sys.argv[1]).parent))
runpy.run_path(sys.argv[1], run_name="__main__")
figures = plt.get_fignums()
assert figures, "the example drew no figure"
plt.figure(figures[-1]).savefig(sys.argv[2], dpi=40)
"""

# How an example reads real data that packages ship: the project's corpus, fetched through
# the package archives (examples/_data), or matplotlib's own sample data.
REAL_DATA = ("from _data import corpus_file", "cbook.get_sample_data(")


def repository_files() -> set[pathlib.Path]:
    """The examples folder, but for the output folder that examples may write."""
    return {
        path for path in EXAMPLES.rglob("*")
        if "output" not in path.relative_to(EXAMPLES).parts and "__pycache__" not in path.parts
    }


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda path: path.stem)
def test_example_runs(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
    if REAL_DATA[0] in example.read_text():
        try:
            fetch()  # here, so that an unreachable archive skips instead of failing
        except UnreachableError as error:
            pytest.skip(f"the package archives are unreachable: {error}")
    before = repository_files()
    figure = tmp_path / f"{example.stem}.png"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(example), str(figure)],
        cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, (
        f"{example.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    assert figure.stat().st_size > 5_000, "the figure is (nearly) empty"
    assert repository_files() == before, "the example wrote into examples/ outside output/"


def test_examples_are_there() -> None:
    assert len(EXAMPLE_FILES) >= 8


def test_examples_show_real_data() -> None:
    """Most examples write rasters that packages ship, not rasters made up for them."""
    real = [path.stem for path in EXAMPLE_FILES
            if any(marker in path.read_text() for marker in REAL_DATA)]
    assert len(real) >= 5, real
