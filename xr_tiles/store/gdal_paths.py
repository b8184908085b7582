"""The name GDAL opens a path or fsspec URL by: its ``/vsi`` virtual file systems."""

from __future__ import annotations

import os

from fsspec.core import split_protocol

# fsspec protocol -> GDAL's virtual file system for it (credentials: GDAL's own settings,
# e.g. AWS_ACCESS_KEY_ID, AWS_S3_ENDPOINT, GOOGLE_APPLICATION_CREDENTIALS).
VSI_PREFIXES = {
    "s3": "/vsis3/",
    "s3a": "/vsis3/",
    "gs": "/vsigs/",
    "gcs": "/vsigs/",
    "az": "/vsiaz/",
    "abfs": "/vsiaz/",
    "abfss": "/vsiaz/",
    "oss": "/vsioss/",
}


def gdal_path(path: str | os.PathLike[str]) -> str:
    """The path GDAL (rasterio, rioxarray, QGIS) opens ``path`` by.

    Parameters
    ----------
    path : str or os.PathLike
        A local path, or an fsspec URL as ``to_vrt`` takes it.

    Returns
    -------
    str
        ``s3://b/k`` gives ``/vsis3/b/k``; ``gs://`` and ``gcs://`` ``/vsigs/``; ``az://``
        and ``abfs://`` ``/vsiaz/`` (the container first; an ``@account`` part is dropped,
        GDAL takes the account from its settings); ``http(s)://`` ``/vsicurl/`` and the
        URL; ``file://`` and local paths the path itself.

    Raises
    ------
    ValueError
        For a protocol GDAL cannot read, such as ``memory://``.

    Examples
    --------
    >>> gdal_path("s3://bucket/dem/dem.vrt")
    '/vsis3/bucket/dem/dem.vrt'
    """
    text = os.fspath(path)
    protocol, location = split_protocol(text)
    if protocol in (None, "file", "local"):
        return str(location)
    if protocol in ("http", "https"):
        return f"/vsicurl/{text}"
    if protocol in VSI_PREFIXES:
        if protocol in ("az", "abfs", "abfss"):
            container, _, rest = str(location).partition("/")
            location = f"{container.partition('@')[0]}/{rest}"
        return f"{VSI_PREFIXES[protocol]}{location}"
    raise ValueError(
        f"GDAL has no virtual file system for {protocol}:// ({text!r}); write to a local "
        "path or an object store GDAL reads (s3://, gs://, az://, http(s)://)"
    )
