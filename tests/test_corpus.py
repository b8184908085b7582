"""Real raster files from Debian and PyPI packages (tests/corpus/), each written through
both entry points and read back by GDAL: the mosaic is the original as GDAL reads it, bit
for bit, or the input is refused in one line before a byte is written.

The two entry points:

- the command line, ``xr-tiles write INPUT OUT.vrt --var V --isel DIM=I``, in this process
  through click's CliRunner (a subprocess, as tests/test_cli.py runs it, costs two seconds
  of imports per file), under Python's default warning filters as a user's own process;
- the Python API on the data opened as a user opens it: ``rioxarray.open_rasterio`` for a
  GDAL raster, ``xr.open_dataset(..., decode_coords="all")`` with xarray's default
  decoding for NetCDF and Zarr, then ``xr_tiles.to_vrt``.

Decoded data comes back exact: xarray keeps what it decoded (dtype, scale_factor,
add_offset, _FillValue) in ``.encoding``, and writes it back from there (``to_netcdf``,
``to_zarr``); so must ``to_vrt``: packed integers stay integers with their scale, offset
and nodata, as GDAL reads the original.
"""

from __future__ import annotations

import pathlib
import traceback
import warnings
from typing import Any

import pytest
import rioxarray
import xarray as xr
from click.testing import CliRunner, Result

import xr_tiles
from corpus import oracle
from corpus.catalogue import CASES, Case
from corpus.fetch import UnreachableError, fetch
from xr_tiles.cli import tiles
from xr_tiles.errors import XrTilesError

ENTRY_POINTS = ["cli", "api"]
TILE = 64  # pixels: most files give several tiles, with partial ones at the edges
SPATIAL_DIMS = ("y", "x", "lat", "lon", "latitude", "longitude", "grid_latitude",
                "grid_longitude", "ny", "nx")


@pytest.fixture(scope="module")
def corpus() -> pathlib.Path:
    try:
        return fetch()
    except UnreachableError as error:
        pytest.skip(f"the package archives are unreachable: {error}")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_corpus(case: Case, entry: str, corpus: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = corpus / case.file
    vrt = tmp_path / "out" / "mosaic.vrt"
    if case.refused:
        message = refusal(entry, path, case, vrt)
        assert "\n" not in message.strip(), message
        for part in case.refused:
            assert part.lower() in message.lower(), message
        written = sorted(vrt.parent.rglob("*")) if vrt.parent.exists() else []
        assert written == [], f"refused after writing {written}"
        return
    write(entry, path, case, vrt)
    assert vrt.is_file()
    found = differences(case, entry, path, vrt)
    if case.unavoidable:  # case.why_unavoidable; still there, or the catalogue is stale
        known = [line for line in found if line.startswith(case.unavoidable)]
        assert known, f"{case.unavoidable} no longer differs: drop it from the catalogue"
        found = [line for line in found if line not in known]
    assert found == []


# --------------------------------------------------------------------------- entry points


def write(entry: str, path: pathlib.Path, case: Case, vrt: pathlib.Path) -> None:
    if entry == "cli":
        done = cli(path, case, vrt)
        assert done.exit_code == 0, failure(done)
    else:
        xr_tiles.to_vrt(opened(path, case), vrt)


def refusal(entry: str, path: pathlib.Path, case: Case, vrt: pathlib.Path) -> str:
    """The one-line message of the refusal."""
    if entry == "cli":
        done = cli(path, case, vrt)
        assert done.exit_code not in (0, None), f"written, not refused: {done.output}"
        assert isinstance(done.exception, SystemExit | None), failure(done)
        # Warnings of the input's own (xarray's, one line each) may come first.
        lines = [line for line in done.output.splitlines() if not line.startswith("Warning: ")]
        assert len(lines) == 1, done.output
        assert lines[0].startswith("Error: "), done.output
        return lines[0]
    obj = opened(path, case)
    with pytest.raises(XrTilesError) as refused:
        xr_tiles.to_vrt(obj, vrt)
    assert isinstance(refused.value, ValueError)
    return str(refused.value)


def cli(path: pathlib.Path, case: Case, vrt: pathlib.Path) -> Result:
    args: list[str] = ["write", str(path), str(vrt), "--chunks", str(TILE), "--no-progress"]
    for variable in case.variables:
        args += ["--var", variable]
    for dim, index in case.isel:
        args += ["--isel", f"{dim}={index}"]
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # a user's process shows warnings; pytest raises them
        return CliRunner().invoke(tiles, args)


def failure(done: Result) -> str:
    if done.exc_info is None or isinstance(done.exception, SystemExit):
        return done.output
    return done.output + "".join(traceback.format_exception(*done.exc_info))


def opened(path: pathlib.Path, case: Case) -> Any:
    """The input as a user opens it (their warnings are theirs, not the writer's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.kind == "gdal":
            return rioxarray.open_rasterio(path, chunks={"y": TILE, "x": TILE})
        engine = "zarr" if case.kind == "zarr" else None
        dataset = xr.open_dataset(
            path, engine=engine, decode_coords="all",
            chunks={} if case.kind == "zarr" else dict.fromkeys(SPATIAL_DIMS, TILE),
        )
    selected = dataset[list(case.variables)].isel(dict(case.isel))
    return selected if len(case.variables) > 1 else selected[case.variables[0]]


# --------------------------------------------------------------------------- oracles


def differences(case: Case, entry: str, path: pathlib.Path, vrt: pathlib.Path) -> list[str]:
    names = descriptions(case, entry, path)
    if case.oracle == "xarray":
        # GDAL misreads this input (case.why_xarray): its values at its coordinates.
        array = raw(path, case)[case.variables[0]]
        found = oracle.differences(oracle.from_xarray(array), str(vrt), descriptions=names)
        return found + oracle.coordinate_differences(array, str(vrt))
    if case.kind == "gdal":
        return oracle.differences(str(path), str(vrt))
    # GDAL reads each variable alone, one band per combination of its other dims.
    dataset = raw(path, case, select=False)
    bands = [
        oracle.read_gdal(gdal_name(path, case, variable), [gdal_band(dataset[variable], case)])
        for variable in case.variables
    ]
    return oracle.differences(oracle.stack(bands), str(vrt), descriptions=names)


def descriptions(case: Case, entry: str, path: pathlib.Path) -> tuple[str, ...] | None:
    """The band descriptions of a NetCDF or Zarr variable, to which GDAL gives none: xr_tiles
    names a Dataset's bands by their variables (the command line's input; test_cli's
    test_variables_and_selections) and a DataArray's by its long_name, else its name (as
    rioxarray's to_raster does)."""
    if case.kind == "gdal":
        return None
    if entry == "cli" or len(case.variables) > 1:
        return case.variables
    attrs = raw(path, case)[case.variables[0]].attrs
    return (str(attrs.get("long_name", case.variables[0])),)


def raw(path: pathlib.Path, case: Case, *, select: bool = True) -> xr.Dataset:
    """The input as stored: no decoding but of the coordinates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = xr.open_dataset(
            path, engine="zarr" if case.kind == "zarr" else None, mask_and_scale=False,
            decode_coords="all", decode_times=False,
        )
    return dataset.isel(dict(case.isel)) if select else dataset


def gdal_name(path: pathlib.Path, case: Case, variable: str) -> str:
    if case.kind == "zarr":
        return f'ZARR:"{path}":/{variable}'
    return f"netcdf:{path}:{variable}"


def gdal_band(variable: xr.DataArray, case: Case) -> int:
    dims = {str(dim): variable.sizes[dim] for dim in variable.dims[:-2]}
    return oracle.gdal_band(dims, dict(case.isel))
