"""Sphinx configuration: the pydata theme, the README as the front page and Markdown pages
(myst), the API reference (autodoc + numpydoc), and the example gallery (sphinx-gallery runs
``examples/plot_*.py``).

Build, warnings as errors (docs/README.md):
``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html``
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

import xr_tiles

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # gallery_order

matplotlib.use("Agg")

project = "xr_tiles"
author = "xr_tiles developers"
copyright = "xr_tiles developers"
release = version = xr_tiles.__version__

extensions = [
    "sphinx.ext.autodoc",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "README.md"]  # README.md: notes for whoever builds the docs
html_theme = "pydata_sphinx_theme"
html_title = "xr_tiles"
html_static_path = ["_static/css"]  # custom.css; _static/readme holds the README's pictures
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# No left column: the navigation bar lists the pages, and code blocks get its width.
html_sidebars: dict[str, list[str]] = {"**": []}

# autodoc + numpydoc: the docstrings give the types, so signatures stay short.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# myst: pages link to each other's sections ("design.md#the-commit"), which need anchors.
myst_heading_anchors = 3
myst_enable_extensions = ["deflist"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"quickstart\.py|__init__\.py",  # the README's script, not an example
    "within_subsection_order": "gallery_order.ExampleOrder",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "abort_on_example_error": False,  # report every failing example, then fail the build
}


def _check_api_page(app: object) -> None:
    """Every public name of ``xr_tiles.__all__`` is on the API page."""
    from sphinx.util import logging

    text = (pathlib.Path(__file__).parent / "api.rst").read_text()
    for name in xr_tiles.__all__:
        if f":: xr_tiles.{name}\n" not in text:
            logging.getLogger(__name__).warning("api.rst does not document xr_tiles.%s", name)


def setup(app: object) -> None:
    app.connect("builder-inited", _check_api_page)  # type: ignore[attr-defined]
