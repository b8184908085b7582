"""The order of the gallery: from one raster's pyramid to clusters and object stores."""

from __future__ import annotations

import os

ORDER = [
    "plot_overviews.py",
    "plot_sample_dem.py",
    "plot_dataset_bands.py",
    "plot_climate_time_series.py",
    "plot_sparse_swath.py",
    "plot_pipeline.py",
    "plot_continental_mosaic.py",
    "plot_distributed.py",
    "plot_object_store.py",
]


class ExampleOrder:
    """sphinx-gallery's ``within_subsection_order``: listed examples first, in ORDER, then
    any others by name."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        name = os.path.basename(filename)
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
