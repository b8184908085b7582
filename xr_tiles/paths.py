"""The output's path: a local path or an fsspec URL, and the URL's storage options;
checked before anything is written."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

import fsspec
from fsspec.core import split_protocol

from .errors import InvalidOptionError

READ_ONLY_PROTOCOLS = ("http", "https", "data", "github", "zip", "tar")


def parse_path(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None
) -> pathlib.Path | str:
    """A local path (absolute; ``file://`` URLs too), or an fsspec URL as given."""
    if not isinstance(path, str | os.PathLike):
        raise InvalidOptionError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    protocol, location = split_protocol(text)
    if pathlib.PurePosixPath(location).suffix.lower() != ".vrt":
        raise InvalidOptionError(
            f"path must end in '.vrt' (the tiles go to '<stem>_tiles/' beside it), got {text!r}"
        )
    if protocol in (None, "file", "local"):
        if storage_options:
            raise InvalidOptionError(
                f"storage_options are for fsspec URLs (s3://, gs://, az://, memory://); "
                f"{text!r} is a local path: drop storage_options"
            )
        return pathlib.Path(location).expanduser().absolute()
    if protocol in READ_ONLY_PROTOCOLS:
        raise InvalidOptionError(
            f"path {text!r}: fsspec cannot write to {protocol}:// (GDAL reads it through "
            "/vsicurl/); write to the store behind it (s3://, gs://, az://)"
        )
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as error:
        raise InvalidOptionError(
            f"path {text!r}: fsspec cannot open {protocol}:// ({error}); install its "
            "package (s3fs for s3://, gcsfs for gs://, adlfs for az://)"
        ) from None
    _check_store_path(text, location)
    return text


def _check_store_path(url: str, location: str) -> None:
    """Keys that name one object each: fsspec expands glob characters when it deletes,
    and stores keep '.', '..' and empty segments as they are, where GDAL does not."""
    segments = location.split("/")
    odd = [s for s in segments[1:] if s in ("", ".", "..")] or segments[-1].startswith(".")
    if odd or any(character in location for character in "*?[]"):
        raise InvalidOptionError(
            f"path {url!r}: a URL must name the VRT plainly, without '*', '?', '[', ']', "
            "empty, '.' or '..' segments, and with a name before '.vrt'"
        )
    if not location.endswith(".vrt"):
        raise InvalidOptionError(
            f"path {url!r}: a URL must end in '.vrt', in lower case: the tiles' prefix "
            "'<stem>_tiles/' must belong to one VRT"
        )


def parse_storage_options(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    if storage_options is None:
        return {}
    if not isinstance(storage_options, Mapping):
        raise InvalidOptionError(
            "storage_options must be a dict of fsspec filesystem options "
            f"(e.g. {{'endpoint_url': ...}}) or None; got {storage_options!r}"
        )
    return dict(storage_options)
