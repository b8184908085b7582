"""Writes to fsspec URLs: a real S3 API (moto's standalone server, on loopback) read back
through GDAL's /vsis3/, from threads and from the workers of a distributed cluster; and
memory:// for the contract on stores without renames."""

from __future__ import annotations

import json
import logging
import uuid
import xml.etree.ElementTree as ET
from typing import ClassVar

import fsspec
import fsspec.implementations.memory
import numpy as np
import pytest
import rasterio

import xr_tiles
from conftest import expected_bands, make_raster, read_with_gdal


def read_s3(url: str):
    return read_with_gdal(xr_tiles.gdal_path(url))


def tile_prefixes(fs, bucket_name: str) -> list[str]:
    return sorted(fs.ls(f"{bucket_name}/dem/dem_tiles", detail=False, refresh=True))


# --------------------------------------------------------------------------- S3


def test_an_s3_write_reads_back_through_gdal_vsis3(bucket):
    name, options, fs = bucket
    array = make_raster((3, 96, 128), "uint16", chunks={"band": -1, "y": 32, "x": 64}, nodata=0)
    url = f"s3://{name}/dem/dem.vrt"
    assert array.tiles.to_vrt(url, storage_options=options, overviews=[2, 4]) == url
    back = read_s3(url)
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)
    assert back.transform == array.rio.transform()
    assert back.crs == array.rio.crs
    assert back.nodatavals == (0.0, 0.0, 0.0)
    with rasterio.open(xr_tiles.gdal_path(url)) as dataset:
        assert dataset.overviews(1) == [2, 4]
    # Sources are relative: the VRT names its tiles under its own write's prefix.
    (prefix,) = tile_prefixes(fs, name)
    sources = {e.text for e in ET.fromstring(fs.cat(f"{name}/dem/dem.vrt")).iter("SourceFilename")}
    write_id = prefix.rsplit("/", 1)[1]
    assert all(source.startswith(f"dem_tiles/{write_id}/") for source in sources)


def test_a_distributed_write_uploads_from_the_workers(bucket, capsys):
    """Each tile is computed, encoded and put by one worker task; no block moves between
    workers, and the client receives the VRT's URL only. progress=True shows
    distributed's progress bar."""
    distributed = pytest.importorskip("distributed")
    name, options, _ = bucket
    array = make_raster((128, 192), "float32", chunks=64, seed=3)
    url = f"s3://{name}/dem/dem.vrt"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            result = array.tiles.to_vrt(
                url, storage_options=options, overviews=[2], progress=True
            )
        worker_addresses = set(client.scheduler_info()["workers"])
        # A lazy write computed by the client: the same graph, prepared in a task.
        lazy_url = f"s3://{name}/lazy/dem.vrt"
        delayed = array.tiles.to_vrt(lazy_url, storage_options=options, compute=False)
        assert client.compute(delayed).result() == lazy_url
    np.testing.assert_array_equal(read_s3(lazy_url).values, expected_bands(array), strict=True)
    assert result == url
    assert "100% Completed" in capsys.readouterr().out
    tiles = [task for task in stream.data if "-tile'" in str(task["key"])]
    assert len(tiles) == 6
    assert {task["worker"] for task in tiles} <= worker_addresses
    assert all(s["action"] == "compute" for task in tiles for s in task["startstops"])
    back = read_s3(url)
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)


def test_replacing_deletes_the_old_write_s_tiles_only_after_the_new_vrt(bucket):
    name, options, fs = bucket
    url = f"s3://{name}/dem/dem.vrt"
    first = make_raster((64, 64), "int16", chunks=32, seed=1)
    second = make_raster((64, 96), "int16", chunks=32, seed=2)
    first.tiles.to_vrt(url, storage_options=options)
    (old,) = tile_prefixes(fs, name)
    with pytest.raises(xr_tiles.OutputExistsError, match="mode='w'"):
        second.tiles.to_vrt(url, storage_options=options)
    assert tile_prefixes(fs, name) == [old]  # refused before anything was written
    second.tiles.to_vrt(url, storage_options=options, mode="w")
    (new,) = tile_prefixes(fs, name)
    assert new != old
    np.testing.assert_array_equal(read_s3(url).values, expected_bands(second))


def test_a_failed_write_leaves_the_old_output_and_keeps_its_tiles_for_resume(bucket):
    name, options, fs = bucket
    url = f"s3://{name}/dem/dem.vrt"
    good = make_raster((64, 64), "int16", chunks=32, seed=1)
    good.tiles.to_vrt(url, storage_options=options)
    before = {path: fs.cat(path) for path in fs.find(f"{name}/dem")}
    failing = make_raster((64, 64), "int16", chunks=32, seed=2)

    def fail_on_last_block(block, block_info=None):
        if block_info[0]["chunk-location"] == (1, 1):
            raise RuntimeError("boom")
        return block

    bad = failing.copy(data=failing.data.map_blocks(fail_on_last_block, dtype=good.dtype))
    with pytest.raises(RuntimeError, match="boom") as excinfo:
        bad.tiles.to_vrt(url, storage_options=options, mode="w", scheduler="synchronous")
    assert "resume=True" in excinfo.value.__notes__[-1]
    fs.invalidate_cache()
    after = {path: fs.cat(path) for path in fs.find(f"{name}/dem")}
    # The old output, untouched, and beside it the failed write's manifest and tiles.
    assert {path: data for path, data in after.items() if path in before} == before
    added = sorted(set(after) - set(before))
    (manifest,) = [path for path in added if path.endswith(".json")]
    assert json.loads(after[manifest])["state"] == "aborted"
    write_id = manifest.rsplit("/", 1)[1].removesuffix(".json")
    assert all(f"/{write_id}" in path for path in added)
    assert len(added) == 1 + int(excinfo.value.__notes__[-1].split()[1])
    np.testing.assert_array_equal(read_s3(url).values, expected_bands(good))
    # A write without resume=True deletes them once it has published.
    failing.tiles.to_vrt(url, storage_options=options, mode="w")
    np.testing.assert_array_equal(read_s3(url).values, expected_bands(failing))
    assert len(tile_prefixes(fs, name)) == 1


def test_debris_of_a_killed_write_is_deleted_by_the_next(bucket):
    name, options, fs = bucket
    url = f"s3://{name}/dem/dem.vrt"
    fs.pipe_file(f"{name}/dem/dem_tiles/0123456789ab/r0_c0.tif", b"left by a killed write")
    fs.pipe_file(f"{name}/dem/dem_tiles/fedcba987654.aborted", b"")  # xr_tiles 0.1's marker
    fs.pipe_file(f"{name}/dem/dem_tiles/not-a-write/keep.txt", b"not ours")
    with pytest.raises(xr_tiles.OutputExistsError, match="holds files xr_tiles did not write"):
        make_raster((32, 32), chunks=32).tiles.to_vrt(url, storage_options=options)
    make_raster((32, 32), chunks=32).tiles.to_vrt(url, storage_options=options, mode="w")
    names = [path.rsplit("/", 1)[1] for path in tile_prefixes(fs, name)]
    assert "0123456789ab" not in names
    assert "fedcba987654.aborted" not in names
    assert "not-a-write" in names
    assert len(names) == 2


# --------------------------------------------------------------------------- memory://


def test_a_memory_write_reads_back_through_gdal(tmp_path):
    """memory:// (no renames, like an object store): copied to disk, the output reads
    back bit for bit through GDAL, overviews and all."""
    array = make_raster((2, 64, 80), "float32", chunks=(32, 40), nodata=-9999.0)
    root = f"memory://{uuid.uuid4().hex}"
    url = array.tiles.to_vrt(f"{root}/dem.vrt", overviews=[2], resampling="average")
    fs = fsspec.filesystem("memory")
    fs.get(f"{root}/", str(tmp_path) + "/", recursive=True)
    back = read_with_gdal(tmp_path / "dem.vrt")
    np.testing.assert_array_equal(back.values, expected_bands(array), strict=True)
    with rasterio.open(tmp_path / "dem.vrt") as dataset:
        assert dataset.overviews(1) == [2]
    assert url == f"{root}/dem.vrt"
    fs.rm(root, recursive=True)


def test_a_lazy_memory_write_writes_nothing_until_computed():
    array = make_raster((32, 32), chunks=16)
    root = f"memory://{uuid.uuid4().hex}"
    delayed = array.tiles.to_vrt(f"{root}/dem.vrt", compute=False)
    fs = fsspec.filesystem("memory")
    assert not fs.exists(root)
    assert delayed.compute() == f"{root}/dem.vrt"
    assert fs.exists(f"{root}/dem.vrt")
    fs.rm(root, recursive=True)


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("path", "options", "match"),
    [
        pytest.param("out.vrt", {"anon": True}, "storage_options are for fsspec URLs", id="local"),
        pytest.param("nosuch://b/out.vrt", None, "fsspec cannot open nosuch://", id="protocol"),
        pytest.param("memory://b/out.tif", None, r"must end in '\.vrt'", id="suffix"),
        pytest.param("memory://b/out.vrt", ["anon"], "storage_options must be a dict", id="list"),
        pytest.param("memory://b//out.vrt", None, "without '\\*'.*empty", id="empty-segment"),
        pytest.param("memory://b/../out.vrt", None, "'\\.\\.' segments", id="dot-dot"),
        pytest.param("memory://b/out[1].vrt", None, "without '\\*', '\\?', '\\['", id="glob"),
        pytest.param("memory://b/out.VRT", None, "in lower case", id="upper-case"),
        pytest.param("memory://b/.vrt", None, "must end in", id="no-stem"),
        pytest.param("https://host/out.vrt", None, "cannot write to https://", id="https"),
    ],
)
def test_bad_urls_and_options_are_refused_before_any_io(
    path, options, match, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(xr_tiles.InvalidOptionError, match=match):
        make_raster().tiles.to_vrt(path, storage_options=options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/dem/dem.vrt", "/vsis3/bucket/dem/dem.vrt"),
        ("gs://bucket/dem.vrt", "/vsigs/bucket/dem.vrt"),
        ("gcs://bucket/dem.vrt", "/vsigs/bucket/dem.vrt"),
        ("az://container/a/dem.vrt", "/vsiaz/container/a/dem.vrt"),
        ("abfs://container@account.dfs.core.windows.net/a/dem.vrt", "/vsiaz/container/a/dem.vrt"),
        ("https://host/a/dem.vrt", "/vsicurl/https://host/a/dem.vrt"),
        ("file:///data/dem.vrt", "/data/dem.vrt"),
        ("/data/dem.vrt", "/data/dem.vrt"),
    ],
)
def test_gdal_path_names_each_store_by_gdal_s_virtual_file_system(url, expected):
    assert xr_tiles.gdal_path(url) == expected


def test_gdal_path_refuses_a_store_gdal_cannot_read():
    with pytest.raises(ValueError, match="no virtual file system for memory://"):
        xr_tiles.gdal_path("memory://b/dem.vrt")


# --------------------------------------------------------------------------- progress


def test_progress_is_silent_unless_asked(capsys, tmp_path):
    array = make_raster((64, 64), chunks=32)
    array.tiles.to_vrt(tmp_path / "quiet.vrt")
    assert capsys.readouterr().out == ""
    array.tiles.to_vrt(tmp_path / "loud.vrt", progress=True)
    assert "100% Completed" in capsys.readouterr().out


def test_progress_needs_a_write_to_show():
    with pytest.raises(xr_tiles.InvalidOptionError, match="ProgressBar"):
        make_raster().tiles.to_vrt("x.vrt", progress=True, compute=False)


def test_a_file_url_is_a_local_write(tmp_path):
    path = make_raster((32, 32), chunks=16).tiles.to_vrt(f"file://{tmp_path}/dem.vrt")
    assert path == tmp_path / "dem.vrt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dem.vrt", "dem_tiles"]


# --------------------------------------------------------------------------- the protocol


class LoggedMemoryFileSystem(fsspec.implementations.memory.MemoryFileSystem):
    """memory://, recording every PUT and delete in order; deletes of ``refused`` paths
    fail, as a bucket policy without delete rights would make them."""

    protocol = "loggedmemory"
    log: ClassVar[list[tuple[str, str]]] = []
    refused: ClassVar[set[str]] = set()

    @classmethod
    def _strip_protocol(cls, path):
        return super()._strip_protocol(str(path).replace("loggedmemory://", "memory://", 1))

    def pipe_file(self, path, value, **kwargs):
        self.log.append(("put", self._strip_protocol(path)))
        return super().pipe_file(path, value, **kwargs)

    def rm_file(self, path):
        path = self._strip_protocol(path)
        if any(path.startswith(refused) for refused in self.refused):
            raise PermissionError(path)
        self.log.append(("rm", path))
        return super().rm_file(path)


@pytest.fixture
def logged_store():
    fsspec.register_implementation("loggedmemory", LoggedMemoryFileSystem, clobber=True)
    LoggedMemoryFileSystem.log.clear()
    LoggedMemoryFileSystem.refused.clear()
    root = f"loggedmemory://{uuid.uuid4().hex}"
    yield root, LoggedMemoryFileSystem
    LoggedMemoryFileSystem.refused.clear()
    fsspec.filesystem("loggedmemory").rm(root, recursive=True)


def vrt_sources(fs, vrt: str) -> set[str]:
    return {e.text for e in ET.fromstring(fs.cat_file(vrt)).iter("SourceFilename")}


def test_the_vrt_is_put_after_every_tile_and_before_any_delete(logged_store):
    root, store = logged_store
    old = make_raster((64, 64), chunks=32, seed=1)
    old.tiles.to_vrt(f"{root}/dem.vrt")
    store.log.clear()
    make_raster((64, 64), chunks=32, seed=2).tiles.to_vrt(f"{root}/dem.vrt", mode="w")
    vrt_put = store.log.index(("put", f"/{root.split('://')[1]}/dem.vrt"))
    puts = [i for i, (action, path) in enumerate(store.log) if action == "put"]
    deletes = [i for i, (action, _) in enumerate(store.log) if action == "rm"]
    assert puts[-1] == vrt_put  # the VRT last of all PUTs
    assert deletes
    assert min(deletes) > vrt_put  # nothing deleted before the new VRT was in place


def test_a_write_whose_vrt_changed_since_it_began_publishes_nothing(logged_store):
    """The VRT is published only if it is still the one the write found (a conditional
    PUT on S3; here, on memory://, a check made atomic within the process): a write
    that lost fails and deletes its own tiles, and only them."""
    root, _ = logged_store
    url = f"{root}/dem.vrt"
    make_raster((64, 64), chunks=32, seed=1).tiles.to_vrt(url)
    late = make_raster((64, 64), chunks=32, seed=2).tiles.to_vrt(url, mode="w", compute=False)
    winner = make_raster((64, 64), chunks=32, seed=3)
    winner.tiles.to_vrt(url, mode="w")
    fs = fsspec.filesystem("loggedmemory")
    published = fs.cat_file(url)
    with pytest.raises(xr_tiles.WriteConflictError, match="changed by another writer"):
        late.compute()
    assert fs.cat_file(url) == published
    assert {source.split("/")[1] for source in vrt_sources(fs, url)} == {
        path.rsplit("/", 1)[1] for path in fs.ls(f"{root}/dem_tiles", detail=False)
    }
    np.testing.assert_array_equal(
        read_with_gdal_from_memory(fs, root).values, expected_bands(winner)
    )


def read_with_gdal_from_memory(fs, root: str):
    import tempfile

    folder = tempfile.mkdtemp()
    fs.get(f"{root}/", folder + "/", recursive=True)
    return read_with_gdal(f"{folder}/dem.vrt")


def test_old_tiles_that_cannot_be_deleted_leave_the_new_output_whole(logged_store, caplog):
    root, store = logged_store
    url = f"{root}/dem.vrt"
    make_raster((64, 64), chunks=32, seed=1).tiles.to_vrt(url)
    fs = fsspec.filesystem("loggedmemory")
    store.refused.add(f"/{root.split('://')[1]}/dem_tiles")
    new = make_raster((64, 64), chunks=32, seed=2)
    with caplog.at_level(logging.WARNING, logger="xr_tiles"):
        assert new.tiles.to_vrt(url, mode="w") == url
    assert "old files not all deleted" in caplog.text
    for source in vrt_sources(fs, url):
        assert fs.exists(f"{root}/{source}")


@pytest.mark.parametrize("scheduler", ["processes", "multiprocessing"])
def test_memory_urls_refuse_schedulers_of_several_processes(scheduler):
    with pytest.raises(xr_tiles.InvalidOptionError, match="scheduler='threads'"):
        make_raster().tiles.to_vrt("memory://x/dem.vrt", scheduler=scheduler)
