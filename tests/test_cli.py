"""The command line, run as users run it (a subprocess): ``python -m xr_tiles``, the
``xr-tiles`` script and ``rio tiles``; GDAL (rasterio) reads back what it wrote."""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from conftest import ORIGIN, PIXEL, expected_bands, make_raster, read_with_gdal, referenced_files

BIN = pathlib.Path(sys.executable).parent
MODULE = [sys.executable, "-m", "xr_tiles"]
TRANSFORM = Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1])


def cli(
    *args: object, command: list[str] = MODULE, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )


def ok(*args: object, command: list[str] = MODULE) -> subprocess.CompletedProcess[str]:
    done = cli(*args, command=command)
    assert done.returncode == 0, done.stderr
    return done


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command prints on stderr."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: "), done.stderr
    return lines[0]


def script(name: str) -> list[str]:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed beside {sys.executable}")
    return [str(path)]


# --------------------------------------------------------------------------- inputs


@pytest.fixture
def netcdf(tmp_path: pathlib.Path) -> tuple[pathlib.Path, xr.DataArray]:
    pytest.importorskip("h5py", reason="h5netcdf reads HDF5 with h5py")
    array = make_raster((64, 80), "float32", nodata=-9999.0)
    path = tmp_path / "dem.nc"
    array.to_dataset().to_netcdf(path, engine="h5netcdf")
    return path, array


@pytest.fixture
def netcdf3(tmp_path: pathlib.Path) -> tuple[pathlib.Path, xr.DataArray]:
    pytest.importorskip("netCDF4", reason="NetCDF-3 is read with netCDF4 (the netcdf extra)")
    array = make_raster((64, 80), "int16", nodata=-32768)
    path = tmp_path / "dem.nc"
    array.to_dataset().to_netcdf(path, engine="netcdf4", format="NETCDF3_64BIT")
    return path, array


@pytest.fixture
def zarr_store(tmp_path: pathlib.Path) -> tuple[pathlib.Path, xr.DataArray]:
    array = make_raster((3, 64, 80), "int16", chunks=(32, 40), nodata=-32768).drop_vars("band")
    path = tmp_path / "dem.zarr"
    array.to_dataset(name="elevation").to_zarr(path, mode="w", consolidated=False)
    return path, array


@pytest.fixture
def geotiff(tmp_path: pathlib.Path) -> tuple[pathlib.Path, xr.DataArray]:
    array = make_raster((2, 64, 80), "uint16", nodata=0, name=None)
    path = tmp_path / "dem.tif"
    array.rio.to_raster(path, tiled=True, blockxsize=32, blockysize=32)
    return path, array


@pytest.fixture(params=["netcdf", "netcdf3", "zarr_store", "geotiff"])
def source(request: pytest.FixtureRequest) -> tuple[pathlib.Path, xr.DataArray]:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def assert_reads_back(vrt: pathlib.Path, array: xr.DataArray) -> None:
    """GDAL reads ``array``, bit for bit, with its CRS, transform and nodata."""
    found = read_with_gdal(vrt)
    np.testing.assert_array_equal(found.values, expected_bands(array))
    assert found.values is not None
    assert found.values.dtype == array.dtype
    assert found.crs == CRS.from_user_input("EPSG:32633")
    assert found.transform == TRANSFORM
    assert set(found.nodatavals) == {array.rio.nodata}


# --------------------------------------------------------------------------- write


def test_write_reads_back(source, tmp_path):
    path, array = source
    vrt = tmp_path / "out" / "dem.vrt"
    done = ok("write", path, vrt, "--chunks", "32,48", "--no-progress")
    assert done.stdout == f"{vrt}\n"
    assert_reads_back(vrt, array)
    counts = json.loads(ok("info", vrt, "--json").stdout)["tiles"]
    assert counts == {"written": 4, "skipped": 0, "grid": [2, 2], "files_per_tile": 1}


def test_write_with_a_tile_index_and_a_catalogue(zarr_store, tmp_path):
    path, array = zarr_store
    vrt = tmp_path / "dem.vrt"
    ok("write", path, vrt, "--index", "gti", "--stac", "--no-progress")
    assert_reads_back(vrt.with_name("dem.gti.gpkg"), array)
    document = json.loads((tmp_path / "dem_stac" / "collection.json").read_text())
    assert sum(link["rel"] == "item" for link in document["links"]) == 4


def test_zarr_keeps_its_chunks(zarr_store, tmp_path):
    path, array = zarr_store
    vrt = tmp_path / "dem.vrt"
    done = ok("write", path, vrt, "--codec", "deflate", "--level", "6", "--predictor", "1")
    assert done.stderr == ""
    assert_reads_back(vrt, array)
    tiles = [path for path in referenced_files(vrt) if path.suffix == ".tif"]
    assert len(tiles) == 4  # one per Zarr chunk
    for path in tiles:
        with rasterio.open(path) as tile:
            assert (tile.height, tile.width) == (32, 40)
            assert tile.compression.name == "deflate"


def test_console_script(geotiff, tmp_path):
    path, array = geotiff
    vrt = tmp_path / "dem.vrt"
    ok("write", path, vrt, "--overviews", "2,4", "--resampling", "average",
       command=script("xr-tiles"))
    assert_reads_back(vrt, array)
    with rasterio.open(vrt) as dataset:
        assert dataset.overviews(1) == [2, 4]


def test_rio_plugin(netcdf, tmp_path):
    path, array = netcdf
    rio = script("rio")
    vrt = tmp_path / "dem.vrt"
    ok("tiles", "write", path, vrt, "--chunks", "32", command=rio)
    assert_reads_back(vrt, array)
    assert json.loads(ok("tiles", "info", vrt, "--json", command=rio).stdout)["width"] == 80


def test_variables_and_selections(tmp_path):
    """--var picks data variables, --isel and --sel pick along other dimensions; the
    default is every variable on the y/x grid."""
    pytest.importorskip("h5py", reason="h5netcdf reads HDF5 with h5py")
    frames = [make_raster((32, 48), "float32", seed=seed) for seed in range(3)]
    cube = xr.concat(frames, dim="time").assign_coords(time=[10, 20, 30])
    dataset = xr.Dataset({"a": cube, "b": (cube * 2).astype("float32"), "t": cube.time * 1.0})
    path = tmp_path / "cube.nc"
    dataset.to_netcdf(path, engine="h5netcdf")
    both, one = tmp_path / "both.vrt", tmp_path / "one.vrt"
    ok("write", path, both, "--isel", "time=1")
    ok("write", path, one, "--var", "b", "--sel", "time=30")
    found = read_with_gdal(both)
    assert found.descriptions == ("a", "b")
    np.testing.assert_array_equal(found.values, np.stack([cube[1].values, cube[1].values * 2]))
    found = read_with_gdal(one)
    assert found.descriptions == ("b",)
    np.testing.assert_array_equal(found.values[0], (cube[2] * 2).values)
    assert found.transform == TRANSFORM


@pytest.mark.parametrize(
    ("driver", "name", "descriptions"),
    [pytest.param("RRASTER", "dem.grd", ("elevation", "slope"), id="r-raster-grd"),
     pytest.param("ENVI", "dem.bsq", ("elevation", "slope"), id="envi"),
     pytest.param("ERS", "dem.ers", ("dem", "dem"), id="ers-equal-descriptions"),
     pytest.param("HFA", "dem.img", ("elevation", "slope"), id="erdas-img")],
)
def test_a_raster_only_gdal_reads(driver, name, descriptions, tmp_path):
    """A format no xarray engine reads (.grd, .bsq, .ers) or that rioxarray claims (.img):
    opened with GDAL, its raw values, nodata and band descriptions kept, as a GeoTIFF's
    (equal ones too, which rioxarray gives as one)."""
    array = make_raster((2, 64, 80), "int16", nodata=-9999)
    path = tmp_path / name
    with rasterio.open(path, "w", driver=driver, width=80, height=64, count=2, dtype="int16",
                       crs="EPSG:32633", transform=TRANSFORM, nodata=-9999) as dataset:
        dataset.write(array.values)
        dataset.descriptions = descriptions
    vrt = tmp_path / "dem.vrt"
    ok("write", path, vrt, "--chunks", "32")
    written, source = read_with_gdal(vrt), read_with_gdal(path)
    np.testing.assert_array_equal(written.values, source.values)
    assert written.dtypes == source.dtypes == ("int16", "int16")
    assert written.nodatavals == source.nodatavals == (-9999, -9999)
    assert written.descriptions == source.descriptions == descriptions
    assert written.crs == source.crs
    assert written.transform == source.transform == TRANSFORM
    assert len([path for path in referenced_files(vrt) if path.suffix == ".tif"]) == 6


def test_extra_dimensions_are_named_with_the_options_that_select_them(tmp_path):
    """A 4-D variable is refused in one line naming its dims and --isel/--sel; with one
    of them selected, the other gives the bands."""
    pytest.importorskip("h5py", reason="h5netcdf reads HDF5 with h5py")
    frames = [make_raster((3, 32, 48), "float32", band_dim="level", seed=seed)
              for seed in range(2)]
    cube = xr.concat(frames, dim="time").assign_coords(time=[10, 20], level=[1000, 850, 500])
    path, vrt = tmp_path / "cube.nc", tmp_path / "t.vrt"
    cube.to_dataset(name="t").to_netcdf(path, engine="h5netcdf")
    done = cli("write", path, vrt)
    assert done.returncode == 2, done.stderr
    assert error_line(done) == (
        "Error: variable 't' has dims (time: 2, level: 3, y: 32, x: 48): select one band "
        "dimension with --isel time=0 or --sel level=1000 (xr_tiles writes (y, x) or "
        "(band, y, x))"
    )
    assert not vrt.exists()
    ok("write", path, vrt, "--isel", "time=1")
    found = read_with_gdal(vrt)
    np.testing.assert_array_equal(found.values, cube[1].values)
    assert found.descriptions == ("t_1000", "t_850", "t_500")
    ok("write", path, vrt, "--sel", "level=850", "--mode", "w")
    np.testing.assert_array_equal(read_with_gdal(vrt).values, cube.sel(level=850).values)


def without(*modules: str) -> list[str]:
    """The command line run where ``modules`` cannot be imported (as if not installed)."""
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(modules)!r})); "
            "from xr_tiles.cli import main; main(sys.argv[1:])")
    return [sys.executable, "-c", code]


@pytest.mark.parametrize(
    ("fixture", "missing", "extra"),
    [
        pytest.param("netcdf", ["h5netcdf", "netCDF4"], "netcdf", id="netcdf4"),
        pytest.param("netcdf", ["h5py", "netCDF4"], "netcdf", id="h5netcdf-without-h5py"),
        pytest.param("netcdf3", ["netCDF4", "scipy"], "netcdf", id="netcdf3"),
        pytest.param("zarr_store", ["zarr"], "zarr", id="zarr"),
    ],
)
def test_a_missing_engine_names_the_extra_that_installs_it(fixture, missing, extra, request):
    path, _ = request.getfixturevalue(fixture)
    vrt = path.with_name("out.vrt")
    done = cli("write", path, vrt, command=without(*missing))
    assert done.returncode == 2, done.stderr
    assert error_line(done).endswith(f": pip install 'xr_tiles[{extra}]'")
    assert not vrt.exists()
    explicit = {"netcdf": "netcdf4", "netcdf3": "netcdf4", "zarr_store": "zarr"}[fixture]
    done = cli("write", path, vrt, "--engine", explicit, command=without(*missing))
    assert error_line(done) == (
        f"Error: --engine {explicit} is not installed: pip install 'xr_tiles[{extra}]'"
    )
    ok("write", path, vrt)  # where it is installed


def test_progress_goes_to_stderr(geotiff, tmp_path):
    path, _ = geotiff
    vrt = tmp_path / "dem.vrt"
    done = ok("write", path, vrt, "--progress", "--scheduler", "synchronous")
    assert done.stdout == f"{vrt}\n"
    assert "100% Completed" in done.stderr


def test_distributed_scheduler(geotiff, tmp_path):
    distributed = pytest.importorskip("distributed")
    path, array = geotiff
    vrt = tmp_path / "dem.vrt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own, on start and close
        cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
            host="127.0.0.1", dashboard_address=":0",
        )
        try:
            ok("write", path, vrt, "--chunks", "32", "--scheduler", cluster.scheduler_address)
        finally:
            cluster.close()
    assert_reads_back(vrt, array)


# --------------------------------------------------------------------------- info


def test_info(tmp_path):
    array = make_raster((3, 96, 80), "int16", chunks=(32, 32), nodata=-1)
    array[:, :32, :32] = -1  # one tile of nodata only: not written
    vrt = tmp_path / "dem.vrt"
    array.tiles.to_vrt(vrt, skip_empty=True, overviews=[2])
    found = json.loads(ok("info", vrt, "--json").stdout)
    assert set(found) == {
        "width", "height", "bands", "crs", "transform", "tiles", "overviews", "bytes"
    }
    with rasterio.open(vrt) as dataset:
        assert (found["width"], found["height"]) == (dataset.width, dataset.height) == (80, 96)
        assert found["bands"] == [
            {"dtype": "int16", "nodata": -1, "description": name}
            for name in dataset.descriptions
        ]
        assert CRS.from_user_input(found["crs"]) == dataset.crs
        assert found["transform"] == list(dataset.transform.to_gdal())
        assert found["overviews"] == dataset.overviews(1) == [2]
    assert found["tiles"] == {"written": 8, "skipped": 1, "grid": [3, 3], "files_per_tile": 1}
    files = [vrt, *referenced_files(vrt)]
    assert found["bytes"]["on_disk"] == sum(path.stat().st_size for path in files)
    assert found["bytes"]["uncompressed"] == 3 * 96 * 80 * 2
    ratio = found["bytes"]["uncompressed"] / found["bytes"]["on_disk"]
    assert found["bytes"]["ratio"] == pytest.approx(ratio, abs=1e-3)
    text = ok("info", vrt).stdout
    for expected in ("80 x 96 pixels, 3 bands", "int16, nodata -1, 'b0'", "EPSG:32633",
                     "500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0", "8 written, 1 skipped",
                     "overviews   2", f"{found['bytes']['on_disk']:,} on disk"):
        assert expected in text, text


def test_info_of_a_vrt_xr_tiles_did_not_write(tmp_path):
    """Without xr_tiles' record: what GDAL reads, tiles the files the bands read."""
    vrt = tmp_path / "dem.vrt"
    make_raster((64, 80), chunks=(32, 40), name=None).tiles.to_vrt(vrt)
    text = vrt.read_text()
    vrt.write_text(re.sub(r'<Metadata domain="xr_tiles">.*?</Metadata>', "", text, flags=re.DOTALL))
    found = json.loads(ok("info", vrt, "--json").stdout)
    assert found["tiles"] == {"written": 4, "skipped": None, "grid": None, "files_per_tile": None}
    assert found["bands"] == [{"dtype": "float32", "nodata": None, "description": None}]


# --------------------------------------------------------------------------- validate


@pytest.fixture
def mosaic(tmp_path: pathlib.Path) -> pathlib.Path:
    vrt = tmp_path / "dem.vrt"
    make_raster((2, 64, 64), "uint16", chunks=(32, 32), nodata=0).tiles.to_vrt(vrt, overviews=[2])
    return vrt


def tiles_of(vrt: pathlib.Path) -> list[pathlib.Path]:
    tiles = (path for path in referenced_files(vrt) if re.fullmatch(r"r\d+_c\d+\.tif", path.name))
    return sorted(tiles)


def test_validate_a_good_mosaic(mosaic):
    assert ok("validate", mosaic).stdout == f"{mosaic}: valid\n"


def rewrite_as_plain_geotiff(tile: pathlib.Path) -> None:
    """The same pixels and georeferencing in strips, overviews added after: not a COG."""
    with rasterio.open(tile) as dataset:
        profile, values = dataset.profile, dataset.read()
    for key in ("tiled", "blockxsize", "blockysize"):
        profile.pop(key, None)
    with rasterio.open(tile, "w", **profile) as dataset:
        dataset.write(values)
    with rasterio.open(tile, "r+") as dataset:
        dataset.build_overviews([2])


@pytest.mark.parametrize(
    ("damage", "reported"),
    [("delete", "missing"), ("truncate", "GDAL cannot read it"),
     ("swap", "its geotransform is"), ("not-cog", "not a valid COG")],
)
def test_validate_finds_damage(mosaic, damage, reported):
    tiles = tiles_of(mosaic)
    if damage == "delete":
        tiles[1].unlink()
    elif damage == "truncate":
        os.truncate(tiles[1], tiles[1].stat().st_size // 2)
    elif damage == "swap":  # two tiles of the same size, each where the other should be
        first, second = tiles[0].read_bytes(), tiles[1].read_bytes()
        tiles[0].write_bytes(second)
        tiles[1].write_bytes(first)
    else:
        rewrite_as_plain_geotiff(tiles[1])
    done = cli("validate", mosaic)
    assert done.returncode == 1, done.stdout + done.stderr
    name = tiles[1].relative_to(mosaic.parent).as_posix()
    named = [line for line in done.stdout.splitlines() if line.startswith(f"{name}: ")]
    assert named, done.stdout
    assert reported in named[0]
    count = len(done.stdout.splitlines())
    assert error_line(done) == f"Error: {mosaic}: {count} problem{'s' * (count > 1)}"


def test_validate_reports_a_missing_level_file(tmp_path):
    """A whole-raster level (one GeoTIFF) gone: GDAL cannot size the overviews; the
    problem is the file, named on its own line."""
    vrt = tmp_path / "dem.vrt"
    make_raster((64, 64), "uint16", chunks=(32, 32), nodata=0).tiles.to_vrt(vrt, overviews=[2])
    (level,) = vrt.parent.glob("dem_tiles/*/overviews/overview_2.tif")
    level.unlink()
    done = cli("validate", vrt)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{level.relative_to(vrt.parent).as_posix()}: missing" in done.stdout.splitlines()
    assert ok("info", vrt).stdout  # still describes what GDAL reads


@pytest.mark.parametrize("command", ["info", "validate"])
def test_info_and_validate_of_a_geotiff_exit_2(geotiff, command):
    done = cli(command, geotiff[0])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is not a VRT" in error_line(done)


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["write", "{tmp}/missing.nc", "{vrt}"], "does not exist", id="missing-input"),
        pytest.param(["write", "{nc}", "{vrt}", "--var", "nope"], "no variable 'nope'", id="var"),
        pytest.param(["write", "{nc}", "{vrt}", "--overviews", "3,6"], "--overviews",
                     id="overviews"),
        pytest.param(["write", "{nc}", "{vrt}", "--codec", "gzip"], "--codec", id="codec"),
        pytest.param(["write", "{nc}", "{vrt}", "--isel", "band=0"], "--isel band=0", id="isel"),
        pytest.param(["write", "{nc}", "{vrt}", "--storage-option", "anon=true"],
                     "storage_options", id="storage-option"),
        pytest.param(["write", "{nc}", "{tmp}/dem.tif"], "'.vrt'", id="output-name"),
        pytest.param(["info", "{tmp}/missing.vrt"], "OUTPUT.vrt", id="missing-vrt"),
        pytest.param(["write", "{nc}", "{vrt}", "--crs", "EPSG:999999"], "EPSG:999999",
                     id="crs"),
    ],
)
def test_usage_and_input_errors_exit_2(netcdf, tmp_path, args, expected):
    vrt = tmp_path / "dem.vrt"
    names = {"tmp": tmp_path, "vrt": vrt, "nc": netcdf[0]}
    done = cli(*(arg.format(**names) for arg in args))
    assert done.returncode == 2, done.stderr
    assert expected in error_line(done)
    assert not vrt.exists()


def test_existing_output_needs_mode_w(netcdf, tmp_path):
    path, array = netcdf
    vrt = tmp_path / "dem.vrt"
    make_raster((16, 16), "uint8").tiles.to_vrt(vrt)
    before = vrt.read_bytes()
    done = cli("write", path, vrt)
    assert done.returncode == 2
    assert "exists" in error_line(done)
    assert vrt.read_bytes() == before
    ok("write", path, vrt, "--mode", "w", "--chunks", "32")
    assert_reads_back(vrt, array)


@pytest.mark.slow
def test_ctrl_c_exits_130_and_keeps_the_previous_output(tmp_path):
    vrt = tmp_path / "dem.vrt"
    small = make_raster((64, 80), "uint16", nodata=0)
    small.tiles.to_vrt(vrt)
    before, old = vrt.read_bytes(), read_with_gdal(vrt).values
    slow = tmp_path / "slow.tif"  # lzma at its highest level: seconds to write
    make_raster((1024, 2048), "uint16").rio.to_raster(slow, tiled=True)
    root = vrt.with_name("dem_tiles")
    first = {entry.name for entry in root.iterdir()}
    writer = subprocess.Popen(
        [*MODULE, "write", slow, vrt, "--mode", "w", "--chunks", "256", "--codec", "lzma",
         "--level", "9", "--scheduler", "synchronous", "--no-durable"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(
            (root / name).is_dir() and any((root / name).glob("r*_c*.tif"))
            for name in {entry.name for entry in root.iterdir()} - first
        ):
            assert writer.poll() is None, writer.communicate()
            assert time.monotonic() < deadline, "the write did not start"
            time.sleep(0.05)
        writer.send_signal(signal.SIGINT)
        stdout, stderr = writer.communicate(timeout=60)
    finally:
        writer.kill()
    assert writer.returncode == 130, stderr
    assert stdout == ""
    assert "interrupted" in error_line(subprocess.CompletedProcess([], 130, stdout, stderr))
    assert vrt.read_bytes() == before
    np.testing.assert_array_equal(read_with_gdal(vrt).values, old)


def test_a_region_update_takes_the_mosaic_s_options_and_speaks_in_flags(tmp_path):
    """``--mode r+`` repeats no tile option; one given differently is named as a flag."""
    old = make_raster((64, 96), "int16", nodata=-1, name=None)
    new = make_raster((64, 96), "int16", nodata=-1, name=None, seed=1)
    old_path, patch_path = tmp_path / "old.tif", tmp_path / "patch.tif"
    old.rio.to_raster(old_path)
    new.isel(y=slice(0, 32), x=slice(32, 64)).rio.to_raster(patch_path)
    vrt = tmp_path / "out.vrt"
    ok("write", old_path, vrt, "--chunks", 32, "--codec", "deflate", "--overviews", "2,4",
       "--resampling", "average", "--blocksize", 16)
    ok("write", patch_path, vrt, "--mode", "r+", "--region", "auto")
    expected = old.values.copy()
    expected[0:32, 32:64] = new.values[0:32, 32:64]
    with rasterio.open(vrt) as back:
        np.testing.assert_array_equal(back.read(1), expected)
        assert back.overviews(1) == [2, 4]
    line = error_line(cli("write", patch_path, vrt, "--mode", "r+", "--region", "0:32,32:64",
                          "--overviews", "2", "--codec", "zstd"))
    assert line == (
        f"Error: --mode r+ updates {vrt} as it was written: --codec zstd (the mosaic has "
        "--codec deflate); --overviews 2 (the mosaic has --overviews 2,4); drop --codec and "
        "--overviews to keep the mosaic's, or replace the mosaic with --mode w"
    )


def test_validate_names_a_foreign_sidecar(tmp_path):
    vrt = tmp_path / "dem.vrt"
    make_raster((64, 64), "uint16", chunks=(32, 32)).tiles.to_vrt(vrt)
    with rasterio.open(vrt, "r+") as dataset:  # what gdaladdo dem.vrt 2 leaves
        dataset.build_overviews([2])
    done = cli("validate", vrt)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("dem.vrt.ovr: a sidecar xr_tiles did not write"), done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--skip-empty", "--mode", "w"], "--skip-empty needs a nodata value, and "
                     "the data has none: pass --nodata", id="skip-empty"),
        pytest.param([], "already exists; pass --mode w to replace it", id="exists"),
        pytest.param(["--mode", "r+", "--chunks", "32"], "--mode r+ writes the existing "
                     "mosaic's tiles", id="r+-chunks"),
    ],
)
def test_errors_name_flags_not_python_parameters(args, expected, tmp_path):
    source, vrt = tmp_path / "dem.tif", tmp_path / "dem.vrt"
    make_raster((64, 64), "uint16", name=None).rio.to_raster(source)  # no nodata
    ok("write", source, vrt)
    line = error_line(cli("write", source, vrt, *args))
    assert expected in line
    assert not re.search(r"\b[a-z_]+=(\.\.\.|'|True|False|\[)", line), line


def test_info_says_what_compression_gives_and_auto_overviews_says_when_there_are_none(tmp_path):
    source, vrt = tmp_path / "small.tif", tmp_path / "small.vrt"
    make_raster((90, 180), "uint16", name=None).rio.to_raster(source)
    done = ok("write", source, vrt, "--overviews", "auto")
    assert done.stderr.startswith("Warning: --overviews auto makes no level: the 90 x 180 "
                                  "raster fits one --blocksize 256 block already"), done.stderr
    found = json.loads(ok("info", vrt, "--json").stdout)["bytes"]
    percent = round(100 * found["on_disk"] / found["uncompressed"])
    assert f"(compressed to {percent}% of raw)" in ok("info", vrt).stdout
