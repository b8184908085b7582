"""Messages in the command line's words: the Python options an error names
(``mode='w'``, ``skip_empty=True``, ``nodata=...``, ``.rio.write_nodata(...)``) as the
flags that set them (``--mode w``, ``--skip-empty``, ``--nodata``)."""

from __future__ import annotations

import re
from typing import Any

# to_vrt's keyword -> the write command's flag; a flag that takes no value is a switch.
FLAGS = {
    "codec": "--codec", "level": "--level", "predictor": "--predictor", "chunks": "--chunks",
    "blocksize": "--blocksize", "nodata": "--nodata", "crs": "--crs", "mode": "--mode",
    "region": "--region", "resume": "--resume", "skip_empty": "--skip-empty",
    "overviews": "--overviews", "resampling": "--resampling", "durable": "--durable",
    "index": "--index", "stac": "--stac", "scheduler": "--scheduler",
    "num_workers": "--workers", "storage_options": "--storage-option", "progress": "--progress",
}
SWITCHES = {"resume", "skip_empty", "stac", "durable", "progress"}
# What a Python user calls to set what a flag sets.
CALLS = {
    r", or set one with \.rio\.write_(?:nodata|crs)\(\.\.\.\)": "",
    r"\.rio\.write_crs\(\.\.\.\) or the crs= option": "--crs",
}
_VALUE = r"(\.\.\.|'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)|[\w.+-]+)"
_OPTION = re.compile(rf"\b({'|'.join(FLAGS)})={_VALUE}")
_CALL = re.compile(r"to_vrt\(\.\.\., ([^)]*)\)")


def cli_words(name: str, value: Any) -> str:
    """An option as a command-line user writes it (``--overviews 2,4``); for ``...`` the
    flag alone; a value of None as the flag's absence."""
    flag = FLAGS.get(name, f"--{name.replace('_', '-')}")
    if name == "predictor" and value in (False, 1):
        return f"{flag} 1"
    if value is ... or value is True:
        return flag
    if value is None or value is False:
        return f"no {flag}" if name not in SWITCHES else f"--no-{flag[2:]}"
    if isinstance(value, list | tuple):
        return f"{flag} {','.join(map(str, value))}"
    return f"{flag} {value}"


def in_cli_words(message: str) -> str:
    """``message`` with each Python option it names written as its flag."""
    message = _CALL.sub(lambda match: match[1], message)
    for pattern, flag in CALLS.items():
        message = re.sub(pattern, flag, message)
    return _OPTION.sub(_flag, message)


def _flag(match: re.Match[str]) -> str:
    name, text = match[1], match[2]
    if text == "...":
        return cli_words(name, ...)
    if text in ("True", "False", "None"):
        return cli_words(name, {"True": True, "False": False, "None": None}[text])
    if text[0] in "'\"":
        return cli_words(name, text[1:-1])
    if text[0] in "[(" and text[-1] in "])":
        return cli_words(name, [part.strip() for part in text[1:-1].split(",") if part.strip()])
    return cli_words(name, text)
