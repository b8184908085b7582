"""Every gallery example runs top to bottom, in a fresh process, and ends in a figure."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"

# Runs the example as __main__ (as sphinx-gallery does), in a temporary folder, then saves the
# figure it ends in; plt.show() does nothing with Agg.
RUNNER = """
import runpy, sys
import matplotlib.pyplot as plt
runpy.run_path(sys.argv[1], run_name="__main__")
figures = plt.get_fignums()
assert figures, "the example drew no figure"
plt.figure(figures[-1]).savefig(sys.argv[2], dpi=40)
"""


def repository_files() -> set[pathlib.Path]:
    """The examples folder, but for the output folder that examples may write."""
    return {
        path for path in EXAMPLES.rglob("*")
        if "output" not in path.relative_to(EXAMPLES).parts and "__pycache__" not in path.parts
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "example", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda path: path.stem
)
def test_example_runs(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
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
    assert len(list(EXAMPLES.glob("plot_*.py"))) >= 8
