"""``resume=True``: a write killed or failed keeps the tiles it finished; resumed with the
same input and options it writes only the missing ones (counted), and the output is byte
for byte the one an uninterrupted write gives (but for the write id in its paths). Other
inputs or options are refused, naming what differs."""

from __future__ import annotations

import os
import pathlib
import shutil
import time
from typing import Any

import dask
import numpy as np
import pytest

import xr_tiles
from conftest import (
    assert_only_referenced,
    expected_bands,
    make_raster,
    read_with_gdal,
    tile_folder,
    tree,
    without_write_ids,
)
from harness import Write, Zygote, is_tile_put, wait_until

THOUSAND = {"shape": (800, 1280), "chunks": 32}  # 25 x 40 = 1,000 tiles


@pytest.fixture(scope="module")
def zygote():
    process = Zygote()
    yield process
    process.close()


def output(vrt: pathlib.Path) -> tuple[str, dict[str, bytes]]:
    """The VRT (write ids left out) and every file of the write, by name."""
    folder = tile_folder(vrt)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
             if p.is_file()}
    return without_write_ids(vrt.read_text()), files


def identities(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
    """Each tile's inode and modification time: unchanged if nobody wrote it again."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("r*.tif")}


def killed_half_way(zygote: Zygote, write: Write, tmp_path: pathlib.Path) -> int:
    """Run ``write`` in a child that dies right after half its tiles are in place;
    return how many mutations in it died."""
    counting = dataclass_with(write, path=str(tmp_path / "counting" / "mosaic.vrt"))
    events = zygote.run(counting, kill_after=None, report=tmp_path / "count.json",
                        root=str(tmp_path / "counting"))["mutations"]
    tiles = [i for i, event in enumerate(events) if is_tile_put(event)]
    point = tiles[len(tiles) // 2] + 1
    reply = zygote.run(write, kill_after=point, report=tmp_path / "killed.json",
                       root=str(pathlib.Path(write.path).parent))
    assert reply["killed"]
    return point


def dataclass_with(write: Write, **changes: Any) -> Write:
    import dataclasses

    return dataclasses.replace(write, **changes)


@pytest.mark.slow
@pytest.mark.parametrize("overviews", [None, (2, 4)], ids=["no-overviews", "overviews"])
def test_a_write_killed_half_way_resumes_writing_only_the_missing_tiles(
    overviews, zygote, tmp_path
):
    vrt = tmp_path / "out" / "mosaic.vrt"
    write = Write(str(vrt), seed=3, mode="w-", overviews=overviews, **THOUSAND)
    killed_half_way(zygote, write, tmp_path)
    assert not vrt.exists()
    folder = tile_folder_of_kept(vrt)
    kept = identities(folder)
    assert 400 < len(kept) < 600

    assert dataclass_with(write, resume=True).run() == vrt

    resumed = identities(tile_folder(vrt))
    assert tile_folder(vrt) == folder  # continued in the interrupted write's folder
    assert len(resumed) == 1000
    assert {name: resumed[name] for name in kept} == kept  # none of those written again
    rewritten = len(resumed) - len(kept)
    assert rewritten == 1000 - len(kept)
    uninterrupted = tmp_path / "uninterrupted" / "mosaic.vrt"
    dataclass_with(write, path=str(uninterrupted)).run()
    assert output(vrt) == output(uninterrupted)
    assert_only_referenced(vrt)


def tile_folder_of_kept(vrt: pathlib.Path) -> pathlib.Path:
    (manifest,) = vrt.with_name(f"{vrt.stem}_tiles").glob("*.json")
    return manifest.with_suffix("")


class TransientFaultError(RuntimeError):
    """What the failing block raises."""


def failing_once(array, flag: pathlib.Path, at=(1, 1)):
    """``array`` whose block ``at`` fails while ``flag`` exists: the same dask graph (and
    token) whether it fails or not, as a script rerun after a transient fault has."""

    def block(values: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info[0]["chunk-location"] == at and flag.exists():
            raise TransientFaultError("a transient fault")
        return values

    return array.copy(data=array.data.map_blocks(block, dtype=array.dtype))


def test_a_failed_write_resumed_in_the_same_process(vrt_path, tmp_path):
    flag = tmp_path / "fault"
    flag.touch()
    array = failing_once(make_raster((64, 96), "int16", chunks=32, seed=1), flag)
    with pytest.raises(TransientFaultError) as excinfo:
        array.tiles.to_vrt(vrt_path, overviews=[2], scheduler="synchronous")
    kept_count = int(excinfo.value.__notes__[-1].split()[1])
    folder = tile_folder_of_kept(vrt_path)
    kept = identities(folder)
    assert len(kept) == kept_count
    flag.unlink()
    array.tiles.to_vrt(vrt_path, overviews=[2], resume=True)
    assert {name: identities(folder)[name] for name in kept} == kept
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))
    assert_only_referenced(vrt_path)


def test_a_lazy_resume(vrt_path, tmp_path):
    flag = tmp_path / "fault"
    flag.touch()
    array = failing_once(make_raster((64, 96), chunks=32, seed=1), flag)
    with pytest.raises(TransientFaultError):
        array.tiles.to_vrt(vrt_path, scheduler="synchronous")
    flag.unlink()
    before = tree(tmp_path)
    delayed = array.tiles.to_vrt(vrt_path, resume=True, compute=False)
    assert tree(tmp_path) == before
    assert delayed.compute() == vrt_path
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))
    assert_only_referenced(vrt_path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"seed": 2}, r"was of another input \(its dask token differs\)", id="input"),
        pytest.param({"codec": "deflate"}, r"tiles\.codec: 'zstd' vs 'deflate'", id="codec"),
        pytest.param({"overviews": [2, 4]}, r"tiles\.overviews: \[2\] vs \[2, 4\]", id="overviews"),
        pytest.param({"mode": "w"}, r"mode: 'w-' vs 'w'", id="mode"),
    ],
)
def test_resume_refuses_another_input_or_other_options(change, match, vrt_path, tmp_path):
    flag = tmp_path / "fault"
    flag.touch()
    array = failing_once(make_raster((64, 96), chunks=32, seed=1), flag)
    with pytest.raises(TransientFaultError):
        array.tiles.to_vrt(vrt_path, overviews=[2], scheduler="synchronous")
    flag.unlink()
    before = tree(tmp_path)
    options = {"overviews": [2], "mode": "w-", **change}
    if "seed" in options:
        array = make_raster((64, 96), chunks=32, seed=options.pop("seed"))
    with pytest.raises(xr_tiles.InvalidOptionError, match=match) as excinfo:
        array.tiles.to_vrt(vrt_path, resume=True, **options)
    assert "drop resume=True to write anew" in str(excinfo.value)
    assert tree(tmp_path) == before
    # Without resume=True it writes anew, and deletes the kept tiles once published.
    array.tiles.to_vrt(vrt_path, **options)
    assert_only_referenced(vrt_path)


def test_resuming_a_write_that_published_only_tidies_up(vrt_path, tmp_path):
    array = make_raster((64, 96), chunks=32, seed=1)
    array.tiles.to_vrt(vrt_path)
    before = tree(tmp_path)
    assert array.tiles.to_vrt(vrt_path, resume=True) == vrt_path
    assert tree(tmp_path) == before
    # A write killed after its VRT was published leaves its manifest and the old tiles:
    # resuming it deletes them and writes nothing.
    folder = tile_folder(vrt_path)
    debris = vrt_path.with_name("mosaic_tiles") / "0123456789ab"
    shutil.copytree(folder, debris)
    (folder.parent / f"{folder.name}.json").write_text('{"format": 0}')
    assert array.tiles.to_vrt(vrt_path, resume=True) == vrt_path
    assert tree(tmp_path) == before


def test_resume_with_nothing_to_resume_writes_it_all(vrt_path):
    array = make_raster((64, 96), chunks=32, seed=1)
    assert array.tiles.to_vrt(vrt_path, resume=True) == vrt_path
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))
    assert_only_referenced(vrt_path)


def test_an_s3_write_killed_half_way_resumes_putting_only_the_missing_tiles(
    zygote, bucket, tmp_path
):
    name, options, fs = bucket
    url = f"s3://{name}/dem/mosaic.vrt"
    write = Write(url, seed=3, mode="w-", overviews=(2, 4), shape=(256, 384), chunks=32,
                  storage_options=options)
    counting = dataclass_with(write, path=f"s3://{name}/counting/mosaic.vrt")
    events = zygote.run(counting, kill_after=None, report=tmp_path / "count.json",
                        kind="s3")["mutations"]
    tiles = [i for i, event in enumerate(events) if event.startswith("PutObject") and "/r" in event]
    assert len(tiles) == 96
    assert zygote.run(write, kill_after=tiles[47] + 1, report=tmp_path / "killed.json",
                      kind="s3")["killed"]

    puts: list[str] = []
    client = fs.__class__(**options)  # the instance to_vrt uses (fsspec caches it)
    client.connect()

    def count(model, params, **_):
        puts.append(params["url_path"])

    client.s3.meta.events.register("before-call.s3.PutObject", count)
    try:
        dataclass_with(write, resume=True).run()
    finally:
        client.s3.meta.events.unregister("before-call.s3.PutObject", count)
    tile_puts = [key for key in puts if key.rsplit("/", 1)[1].startswith("r")]
    assert len(tile_puts) == 96 - 48
    uninterrupted = f"s3://{name}/whole/mosaic.vrt"
    dataclass_with(write, path=uninterrupted).run()
    for path in (url, uninterrupted):
        np.testing.assert_array_equal(
            read_with_gdal(xr_tiles.gdal_path(path)).values,
            expected_bands(write.data()),
        )
    fs.invalidate_cache()
    ours, theirs = (sorted(fs.find(f"{name}/{prefix}/mosaic_tiles")) for prefix in ("dem", "whole"))
    assert [key.split("/", 4)[-1] for key in ours] == [key.split("/", 4)[-1] for key in theirs]
    assert [fs.cat(key) for key in ours] == [fs.cat(key) for key in theirs]


@pytest.mark.slow
def test_a_resume_rewrites_a_kept_tile_cut_short_and_is_byte_identical(zygote, tmp_path):
    """After a power cut a tile that was never flushed may be there, shorter than written
    (with delayed allocation, empty): it is written again. 300-pixel tiles with a level
    of factor 8, a whole-raster file whose tiles' pieces overlap by a row and a column
    (not a multiple, as warned): still the bytes of an uninterrupted write."""
    vrt = tmp_path / "out" / "mosaic.vrt"
    write = Write(str(vrt), seed=3, mode="w-", overviews=(8,), shape=(900, 1200), chunks=300)
    killed_half_way(zygote, write, tmp_path)
    folder = tile_folder_of_kept(vrt)
    kept = identities(folder)
    assert 3 < len(kept) < 12
    cut = sorted(kept)[len(kept) // 2]
    os.truncate(folder / cut, (folder / cut).stat().st_size // 2)

    with pytest.warns(UserWarning, match="factor"):
        dataclass_with(write, resume=True).run()

    resumed = identities(folder)
    assert resumed[cut] != kept[cut]  # written again
    assert {name: resumed[name] for name in kept if name != cut} == {
        name: stamp for name, stamp in kept.items() if name != cut
    }
    uninterrupted = tmp_path / "uninterrupted" / "mosaic.vrt"
    with pytest.warns(UserWarning, match="factor"):
        dataclass_with(write, path=str(uninterrupted)).run()
    assert output(vrt) == output(uninterrupted)
    assert_only_referenced(vrt)


def failing_while_others_write(array, flag: pathlib.Path, at=(1, 1)):
    """``array`` whose block ``at`` fails once while ``flag`` exists, its task having put
    a tile, and while another block is being computed: that one then takes 0.3 s more,
    its tile put while the failure is reported (as a tile task on another worker
    finishes its tile), and marks ``late`` beside ``flag``. The same dask graph whether
    ``flag`` exists or not."""
    failed, late, busy = (flag.with_name(name) for name in ("failed", "late", "busy"))

    def block(values: np.ndarray, block_info: Any = None) -> np.ndarray:
        if not flag.exists():
            return values
        where = block_info[0]["chunk-location"]
        if where == at and not failed.exists():
            wait_until(lambda: busy.is_dir() and any(busy.iterdir()), timeout=10)
            failed.touch()
            raise TransientFaultError("a transient fault")
        busy.mkdir(exist_ok=True)
        computing = busy / "_".join(map(str, where))
        computing.touch()
        try:
            if wait_until(failed.exists, timeout=1.0):  # a loaded machine may be slow to fail
                time.sleep(0.3)
                late.touch()
        finally:
            computing.unlink()
        return values

    return array.copy(data=array.data.map_blocks(block, dtype=array.dtype))


@pytest.mark.parametrize(
    "scheduler", ["threads", pytest.param("processes", marks=pytest.mark.slow)]
)
def test_the_failure_note_counts_the_tiles_a_resume_keeps(scheduler, vrt_path, tmp_path):
    """Tasks of 4 tiles each on 2 workers: when one fails, the other is mid-tile. The
    note counts the tiles a resume then keeps, neither fewer (a tile put after the count)
    nor more."""
    flag = tmp_path / "fault"
    flag.touch()
    array = failing_while_others_write(make_raster((64, 64), "int16", chunks=16, seed=1), flag)
    # chunksize 1: dask's process pool gets one task at a time, so that both workers run.
    with dask.config.set({"xr_tiles.tiles-per-task": 4, "chunksize": 1}):
        with pytest.raises(TransientFaultError) as excinfo:
            array.tiles.to_vrt(vrt_path, scheduler=scheduler, num_workers=2)
        # The other task's block was computed after the failure; its tile is put (or
        # refused) meanwhile: dask's threads do not wait for it.
        assert wait_until((tmp_path / "late").exists)
        time.sleep(0.5)
        noted = int(excinfo.value.__notes__[-1].split()[1])
        folder = tile_folder_of_kept(vrt_path)
        kept = identities(folder)
        assert noted == len(kept)
        assert 0 < noted < 16
        flag.unlink()
        array.tiles.to_vrt(vrt_path, resume=True)
    resumed = identities(folder)
    assert len(resumed) == 16
    assert {name for name, stamp in resumed.items() if kept.get(name) == stamp} == set(kept)
    np.testing.assert_array_equal(read_with_gdal(vrt_path).values, expected_bands(array))
    assert_only_referenced(vrt_path)
