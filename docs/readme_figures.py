"""Render some gallery figures as small PNGs for the README, into docs/_static/readme/.

Run: ``.venv/bin/python docs/readme_figures.py``. Each example runs in a fresh process in a
temporary folder; its last figure is saved 800 pixels wide, with fewer colours (256 down to
32) where that is needed to keep it under 120 KB.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "_static" / "readme"
FIGURES = ["plot_overviews", "plot_sample_dem", "plot_sparse_swath", "plot_climate_time_series"]
WIDTH, LIMIT = 800, 120_000

RUNNER = """
import io, runpy, sys
import matplotlib.pyplot as plt
import pathlib
from PIL import Image
sys.path.insert(0, str(pathlib.Path(sys.argv[1]).parent))  # the examples' shared _data
runpy.run_path(sys.argv[1], run_name="__main__")
figure = plt.figure(plt.get_fignums()[-1])
buffer = io.BytesIO()
figure.savefig(buffer, format="png", dpi=int(sys.argv[3]) / figure.get_figwidth())
image = Image.open(buffer).convert("RGB")
for colours in (None, 256, 128, 64, 32):  # fewer colours until the file is small enough
    small = image if colours is None else image.quantize(colours, method=Image.Quantize.MEDIANCUT)
    small.save(sys.argv[2], optimize=True)
    if len(open(sys.argv[2], "rb").read()) <= int(sys.argv[4]):
        break
"""


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        target = TARGET / f"{name.removeprefix('plot_')}.png"
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run(
                [sys.executable, "-c", RUNNER, str(ROOT / "examples" / f"{name}.py"),
                 str(target), str(WIDTH), str(LIMIT)],
                cwd=folder, env={**os.environ, "MPLBACKEND": "Agg"}, check=True,
                stdout=subprocess.DEVNULL,
            )
        size = target.stat().st_size
        print(f"{target.relative_to(ROOT)}: {size / 1000:.0f} KB")
        if size > LIMIT:
            sys.exit(f"{target.name} is over {LIMIT // 1000} KB")


if __name__ == "__main__":
    main()
