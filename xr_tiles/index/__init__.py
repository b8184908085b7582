"""What names the tiles: the VRT (flat or nested), GDAL's tile index and the STAC
catalogue; pure builders of documents, which ``store`` publishes."""
