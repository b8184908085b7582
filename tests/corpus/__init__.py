"""Real raster files from Debian and PyPI packages, and the oracles a mosaic of them must equal."""
