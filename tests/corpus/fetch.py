"""Fetch the corpus of real raster files that tests/test_corpus.py writes through xr_tiles.

The files come from pinned packages of the two archives a developer's machine and CI
reach: Debian's (``apt-get download``, then ``dpkg-deb -x``; nothing is installed) and
PyPI's sdists (``pip download --no-binary :all:``). Each file kept is checked against its
sha256, so a package that changed under the same version stops the tests with the file's
name. A Zarr store, which no package ships, is then made from one of the NetCDF files as
xarray and rioxarray write it.

    python tests/corpus/fetch.py [DEST]

DEST defaults to ``$XR_TILES_CORPUS``, else ``~/.cache/xr_tiles/corpus``. A second run
finds the files there, checks them and returns at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import version


class CorpusError(RuntimeError):
    """A fetched file is missing from its package or is not the file pinned here."""


class UnreachableError(CorpusError):
    """The package archive did not give the package (no network, or no such archive)."""


@dataclass(frozen=True)
class Package:
    """A pinned package and the files kept from it, under ``DEST/<folder>/``."""

    name: str
    version: str
    archive: str  # "debian" (bookworm) or "pypi" (an sdist)
    licence: str
    root: str  # the folder inside the package that ``files`` are relative to
    files: Mapping[str, str]  # path under root -> sha256
    python: str = ""  # pip download's --python-version, for an sdist that requires a newer one

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({'Debian bookworm' if self.archive == 'debian' else 'PyPI sdist'})"


R_LIBRARY = "usr/lib/R/site-library"

PACKAGES: dict[str, Package] = {
    package.name: package
    for package in (
        Package("r-cran-stars", "0.6-0-4", "debian", "Apache-2.0", f"{R_LIBRARY}/stars", {
            "tif/L7_ETMs.tif": "3b722bf4470144b6691bf720bac08f47c99464acff4dd258252891c06312678e",
            "tif/lc.tif": "18bdce9d767cad9964e5e3e9525992a1706680e6c71852524d993b8cfe75bd17",
            "tif/geomatrix.tif": "f5272110b8c9609acccb4babdf8857514eba39db643eb24e5e80dc77f320a19d",
            "nc/lcc_km.nc": "1b8e45dcbdf50e7559c0a99ab5692e31423a94ca720aadfd3eb39f358e97363e",
            "nc/reduced.nc": "43936981b7d58962918cb4c92232ce58cdc06e6e539dde6e3e8908a1b4f5e705",
            "nc/sub.nc": "80a2f0cc7d6ff07dd20b3404a633f65501b1c006b4fe4d641906d4701afc69d6",
            "nc/bcsd_obs_1999.nc":
                "4457324cd44816c3674e8d7a1a243a4af84f77175962730dc716c705e2e44b2c",
            "nc/test_stageiv_xyt.nc":
                "51952a496e69e2f0cf36fa14947adac6db4a78bb8b9c4dd146e15636aee89586",
            "nc/c201923412.out1_4.nc":
                "1c572eb63e4c18f5c5fc89c4bd08d15cfd16dd9ef5cff67b4876b9e824d8aef3",
            "nc/3B42_Daily.19991231.7.test.nc":
                "649f9bda86fadb723031eda98a8c43dc6165b83c2710848dbb0f5f79cab3624d",
            "nc/test_adaptor.cams_regional_fc.nc":
                "a4b263e144b6746219cce74d0283930871b2ba1980e8a2e8a264eeb568b5fcf3",
        }),
        Package("r-cran-terra", "1.7-3-1", "debian", "GPL-3+", f"{R_LIBRARY}/terra", {
            "ex/elev.tif": "c6a4967fe5b720499e75a3453e9814f00a416167b8e0926a4c55f5100ae4ddb2",
            "ex/logo.tif": "ce6dc1ec9be935047b7b11f221bfa10734a627403c89323c4a481773c78766a8",
            "ex/meuse.tif": "993a27d54e245d9845506427ced322b8aa959d5066cc5ed589f0490a0b4b24a3",
        }),
        Package("r-cran-raster", "3.6-14-1", "debian", "GPL-3+", f"{R_LIBRARY}/raster", {
            "external/test.grd": "fcad47ce76db7aa31f6ea24abd9b075c20f306900e0abc5e34a64797d8bf80f3",
            "external/test.gri": "614327d612c49e000ed50b68dde1beb0ef1f408b3f6a6b884dbc7cf823571226",
        }),
        Package("r-cran-spdata", "2.2.1-1", "debian", "CC0-1.0", f"{R_LIBRARY}/spData", {
            "raster/elev.tif": "e1a21d62d557cefd1cbd82540116ec0641d117e02efbf22f534194ea16ce619b",
        }),
        Package("r-cran-rgdal", "1.6-4+dfsg-1", "debian", "GPL-2+", f"{R_LIBRARY}/rgdal", {
            "pictures/scaleoffset.vrt":
                "7a3d264d3bfb83d673c8988dcf32197f55844f62fbfa3701590a923f7e1756cd",
            "pictures/scaleoffset.dat":
                "fe2118b40fedb257a589b32b62f78d715c282deae0114402ad29ad224e8ec1b6",
        }),
        Package(
            "iris-sample-data", "2.5.2", "pypi", "Open Government Licence (UK) v3",
            "iris_sample_data-2.5.2/iris_sample_data/sample_data", {
                "rotated_pole.nc":
                    "9e11ec644b086d75f6864736f24dcf08749f34afea30b70111bedee5a2cf8f37",
                "toa_brightness_stereographic.nc":
                    "67222b19c3fb0e2401bf44b009eb81e0db54c0ff95a18fb08d182ffa38f85a1c",
                "A1B_north_america.nc":
                    "5f728a78bfc2d2503e26ab6faab82c23313eefd56bfae244ccc04b9d41b71816",
            },
        ),
        Package("rasterstats", "0.21.0", "pypi", "BSD-3-Clause", "rasterstats-0.21.0/tests/data", {
            "slope.tif": "f6a9532d7b91ff958c08e8d5972a7bec39cb09ad5d6c52560ec7c287a9369f5c",
        }),
        Package(
            "xarray-spatial", "0.10.20", "pypi", "MIT",
            "xarray_spatial-0.10.20/xrspatial/geotiff/tests/golden_corpus/fixtures", {
                "compression_jpeg_uint8_ycbcr.tif":
                    "5570b3ef0f5bb19b0b26e6bf4c5e5b8c6925b491e07a353c6f0cf10296fbcac4",
                "nodata_miniswhite_uint8.tif":
                    "e1f114e6e6a90a3bb28139b55905d9a248dd86f3c413f329795af72ff8896ff2",
                "planar_separate_uint8_rgb.tif":
                    "744a894d07545064c793efc01a263dc4fcbe3b02a53129f00831d4995f5e89d4",
                "dtype_int8.tif":
                    "a9067b266247a9b3ba40afb9340daf1258a2a479d46524689468f93f55beb9f6",
                "tiled_be_uint16.tif":
                    "fc094781ccd8ada6d44e7d7e04a1b59446a20c79b2677bc197fc1c8258e43fc6",
                "crs_citation_only.tif":
                    "5b824bae1cc4abaeef48d6edd6801d5654a0c00897d54b7b66460e3cf2903593",
                "sparse_tiled_uint16.tif":
                    "e06c0570fb6a76fca9c574f8a190ba3d7280a3b047e8e41aba8358402cf46449",
                "overview_external_ovr_uint16.tif":
                    "9fc1b69affa1b98793dfe737d7fbf270b42a6e41e592aad9759231df615933fe",
                "overview_external_ovr_uint16.tif.ovr":
                    "10e3a9b3c6bf156a1b5a9c5ee2f8fca149471755150e6203003398f76be077b6",
                "compression_lerc_float32.tif":
                    "3d4e4ec272b1fd1d24cdf61501f10625bc68137cf04d6482cd4df97d4012b9bf",
            },
            python="3.12",  # its sdist requires Python 3.12; the files need no Python
        ),
        # A 100 MB sdist (its tests ship whole Copernicus DEM tiles), downloaded once: the
        # corpus's one GeoTIFF with a pixel-is-point raster type that is not rotated.
        Package(
            "dem-stitcher", "3.2.0", "pypi",
            "Apache-2.0; the DEM crop: Copernicus DEM GLO-30 licence (free, with attribution)",
            "dem_stitcher-3.2.0/tests/data/golden_datasets", {
                "fairbanks_tiles/fairbanks_tile_0.tif":
                    "2eec5514262df911be856da6ec0de9d1986d6352f349d65945bfc33ae9653a71",
            },
        ),
    )
}

# Made here, from a pinned NetCDF file: (NetCDF file, Zarr format) by store name.
ZARR_FOLDER = "made"
ZARR_SOURCE = "r-cran-stars-0.6-0-4/nc/bcsd_obs_1999.nc"
ZARR_STORES = {"bcsd_obs_1999_v2.zarr": 2, "bcsd_obs_1999_v3.zarr": 3}


def default_dest() -> pathlib.Path:
    """``$XR_TILES_CORPUS``, else ``~/.cache/xr_tiles/corpus``."""
    return pathlib.Path(
        os.environ.get("XR_TILES_CORPUS") or pathlib.Path.home() / ".cache/xr_tiles/corpus"
    )


def fetch(dest: str | os.PathLike[str] | None = None) -> pathlib.Path:
    """Every file of the corpus under ``dest``, fetched where missing, each checked; the
    folder. Raises ``UnreachableError`` where an archive cannot be reached and
    ``CorpusError`` where a package does not hold the pinned file."""
    root = pathlib.Path(dest) if dest is not None else default_dest()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root):
        for package in PACKAGES.values():
            if not _intact(root, package):
                _download(root, package)  # missing, or a cached copy that was altered
                for name, digest in package.files.items():
                    _check(root / package.folder / name, digest, package)
        _make_zarr_stores(root)
    return root


@contextlib.contextmanager
def _locked(root: pathlib.Path) -> Iterator[None]:
    """One fetch at a time in ``root`` (pytest-xdist's workers each ask for the corpus)."""
    with open(root / ".fetch.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _intact(root: pathlib.Path, package: Package) -> bool:
    return all(
        (root / package.folder / name).is_file()
        and _sha256(root / package.folder / name) == digest
        for name, digest in package.files.items()
    )


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check(path: pathlib.Path, digest: str, package: Package) -> None:
    if not path.is_file():
        raise CorpusError(f"{package.label} has no {path.name} where it is pinned ({path})")
    found = _sha256(path)
    if found != digest:
        raise CorpusError(
            f"{path} from {package.label} has sha256 {found}, not the pinned {digest}: the "
            "package changed under the same version; inspect the file, then update the pin "
            "in tests/corpus/fetch.py"
        )


def _download(root: pathlib.Path, package: Package) -> None:
    with tempfile.TemporaryDirectory(prefix="xr_tiles_corpus_") as scratch:
        work = pathlib.Path(scratch)
        extracted = (_debian if package.archive == "debian" else _sdist)(package, work)
        target = root / package.folder
        for name in package.files:
            source = extracted / package.root / name
            if not source.is_file():
                raise CorpusError(f"{package.label} has no {package.root}/{name}")
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            partial = target / f"{name}.partial"
            shutil.copyfile(source, partial)
            os.replace(partial, target / name)


def _debian(package: Package, work: pathlib.Path) -> pathlib.Path:
    """The package's files, unpacked with ``dpkg-deb -x`` (nothing is installed)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise UnreachableError(f"{package.label}: no apt-get / dpkg-deb on this machine")
    download = ["apt-get", "download", f"{package.name}={package.version}"]
    done = _run(download, work)
    if done.returncode != 0:
        # A machine whose package lists were never downloaded knows no package: once.
        update = _run(["apt-get", "update"], work)
        if _offline(update):
            raise _failed(package, "apt-get update", update)
        done = _run(download, work)
    debs = sorted(work.glob(f"{package.name}_*.deb"))
    if done.returncode != 0 or not debs:
        raise _failed(package, "apt-get download", done)
    unpacked = work / "unpacked"
    done = _run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], work)
    if done.returncode != 0:
        raise CorpusError(f"{package.label}: dpkg-deb -x failed: {_last(done)}")
    return unpacked


def _sdist(package: Package, work: pathlib.Path) -> pathlib.Path:
    """The members of the sdist under ``package.root``, extracted."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", "--dest", str(work), f"{package.name}=={package.version}",
    ]
    if package.python:
        command += ["--python-version", package.python]
    done = _run(command, work)
    archives = sorted(work.glob("*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise _failed(package, "pip download", done)
    unpacked = work / "unpacked"
    wanted = {f"{package.root}/{name}" for name in package.files}
    with tarfile.open(archives[0]) as archive:
        members = [member for member in archive.getmembers() if member.name in wanted]
        archive.extractall(unpacked, members=members, filter="data")
    return unpacked


def _make_zarr_stores(root: pathlib.Path) -> None:
    """The NetCDF file ``ZARR_SOURCE`` as a user writes it to Zarr: opened with xarray,
    its CRS given with rioxarray (``write_crs``: a ``spatial_ref`` variable and each
    variable's ``grid_mapping``), then ``to_zarr`` with the defaults, in each format;
    made again when xarray, zarr or rioxarray is another version than made them."""
    folder = root / ZARR_FOLDER
    stamp = folder / "VERSIONS"
    versions = " ".join(f"{name} {version(name)}" for name in ("xarray", "zarr", "rioxarray"))
    made = all((folder / name).is_dir() for name in ZARR_STORES)
    if made and stamp.is_file() and stamp.read_text() == versions:
        return
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    folder.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    with warnings.catch_warnings():
        # zarr's own, on consolidated metadata in format 3; not the corpus's concern.
        warnings.simplefilter("ignore")
        try:
            opened = xr.open_dataset(root / ZARR_SOURCE, decode_coords="all")
        except ValueError as error:
            raise CorpusError(
                f"cannot open {ZARR_SOURCE}, a NetCDF-3 file, to make the Zarr stores: xarray "
                f"reads NetCDF-3 with scipy or netCDF4 ({error})"
            ) from None
        with opened as dataset:
            dataset = dataset.rio.write_crs("EPSG:4326")
            for name, zarr_format in ZARR_STORES.items():
                partial = folder / f"{name}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                dataset.to_zarr(partial, mode="w", zarr_format=zarr_format)
                shutil.rmtree(folder / name, ignore_errors=True)
                os.replace(partial, folder / name)
    stamp.write_text(versions)


def _run(command: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        check=False, timeout=900,
    )


# What apt and pip print when the archive, not the package, is missing; pip finds no
# version at all of a package that PyPI has when it reaches no index.
NETWORK_ERRORS = (
    "could not resolve", "temporary failure", "failed to fetch", "connection", "unreachable",
    "max retries", "timed out", "name or service not known", "no route to host",
    "(from versions: none)",
)


def _offline(done: subprocess.CompletedProcess[str]) -> bool:
    output = f"{done.stdout}\n{done.stderr}".lower()
    return any(marker in output for marker in NETWORK_ERRORS)


def _failed(package: Package, step: str, done: subprocess.CompletedProcess[str]) -> CorpusError:
    """Unreachable where the output tells of the network, else a package that is not
    there as pinned (a version the archive no longer has): that fails, never skips."""
    error = UnreachableError if _offline(done) else CorpusError
    return error(f"{package.label}: {step} failed: {_last(done)}")


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("E:", "ERROR"))]
    return (errors or lines or [f"exit status {done.returncode}"])[-1]


if __name__ == "__main__":
    print(fetch(sys.argv[1] if len(sys.argv) > 1 else None))
