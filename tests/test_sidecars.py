"""GDAL's sidecars of a mosaic (a user's ``gdaladdo`` pyramids, ``.aux.xml``, ``.msk``)
never serve stale data: every publish (``w``, ``r+``, a resumed write) removes them just
before the new VRT is in place, and a write killed after any of its mutations leaves the
old mosaic's pixels (at every resolution) or the new one's, never a mix."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from conftest import make_raster
from harness import Write, Zygote, fingerprint, outcome

SIDECARS = (".ovr", ".aux.xml", ".msk")


def build_pyramids(vrt: pathlib.Path) -> None:
    """What ``gdaladdo mosaic.vrt 2 4`` and QGIS do: an external ``.ovr`` beside the VRT,
    plus statistics and a mask of GDAL's own."""
    with rasterio.open(vrt, "r+") as dataset:
        dataset.build_overviews([2, 4], Resampling.average)
    pathlib.Path(f"{vrt}.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><Metadata><MDI key="STATISTICS_MEAN">0'
        "</MDI></Metadata></PAMRasterBand></PAMDataset>\n")
    assert pathlib.Path(f"{vrt}.ovr").exists()


def reduced_read(vrt: pathlib.Path, bands: int = 1) -> np.ndarray:
    with rasterio.open(vrt) as dataset:
        return dataset.read(out_shape=(bands, dataset.height // 2, dataset.width // 2))


def constant(value: float, shape=(256, 384)):
    return make_raster(shape, "float32", chunks=128) * 0 + value


@pytest.mark.parametrize("mode", ["w", "r+", "resume"])
def test_a_publish_removes_the_sidecars_of_the_old_mosaic(mode, vrt_path):
    constant(21.7).tiles.to_vrt(vrt_path)
    build_pyramids(vrt_path)
    np.testing.assert_allclose(reduced_read(vrt_path), 21.7)  # GDAL reads the .ovr
    new = constant(7.0)
    if mode == "r+":
        new.tiles.to_vrt(vrt_path, mode="r+")
    else:
        new.tiles.to_vrt(vrt_path, mode="w", resume=mode == "resume")
    assert not [s for s in SIDECARS if pathlib.Path(f"{vrt_path}{s}").exists()]
    np.testing.assert_array_equal(reduced_read(vrt_path), 7.0)


def test_a_mosaic_s_own_overviews_are_read_after_a_replace(vrt_path):
    constant(21.7).tiles.to_vrt(vrt_path)
    build_pyramids(vrt_path)
    constant(7.0).tiles.to_vrt(vrt_path, mode="w", overviews=[2, 4])
    with rasterio.open(vrt_path) as dataset:
        assert dataset.overviews(1) == [2, 4]
    np.testing.assert_array_equal(reduced_read(vrt_path), 7.0)


def test_other_files_beside_the_vrt_stay(vrt_path):
    constant(1.0).tiles.to_vrt(vrt_path)
    keep = [vrt_path.with_suffix(".ovr"), vrt_path.parent / "notes.aux.xml"]
    for path in keep:
        path.write_text("a user's")
    constant(2.0).tiles.to_vrt(vrt_path, mode="w")
    assert all(path.read_text() == "a user's" for path in keep)


@pytest.fixture(scope="module")
def zygote():
    process = Zygote()
    yield process
    process.close()


@pytest.mark.slow
def test_a_replace_killed_after_any_mutation_never_serves_stale_pyramids(zygote, tmp_path):
    """The old mosaic with a user's pyramids, replaced by a write killed after its k-th
    mutation, for every k: GDAL reads, at full resolution and through the pyramids, the
    old mosaic (with or without its pyramids: the same pixels) or the new one."""
    old, new = (Write(str(tmp_path / "x" / "mosaic.vrt"), seed=s, mode="w") for s in (0, 1))
    references = {}
    for name, write, pyramids in (("old", old, True), ("old-bare", old, False),
                                  ("new", new, False)):
        folder = tmp_path / name
        write.__class__(str(folder / "mosaic.vrt"), seed=write.seed, mode="w-").run()
        if pyramids:
            build_pyramids(folder / "mosaic.vrt")
        references[name] = fingerprint(str(folder / "mosaic.vrt"))
    template = tmp_path / "old"
    counting = tmp_path / "counting"
    shutil.copytree(template, counting)
    complete = zygote.run(Write(str(counting / "mosaic.vrt"), seed=1, mode="w"),
                          kill_after=None, report=tmp_path / "count.json", root=str(counting))
    mutations = complete["mutations"]
    assert any(".ovr" in str(event) for event in mutations)  # its removal is a point
    for point in range(len(mutations)):
        case = tmp_path / f"point-{point}"
        shutil.copytree(template, case)
        vrt = case / "mosaic.vrt"
        reply = zygote.run(Write(str(vrt), seed=1, mode="w"), kill_after=point,
                           report=tmp_path / f"point-{point}.json", root=str(case))
        assert reply["killed"], (point, reply)
        found = outcome(str(vrt), references)
        after = mutations[point - 1] if point else "nothing"
        assert found in ("old", "old-bare", "new"), f"killed after {after!r}: {found}"
        Write(str(vrt), seed=1, mode="w").run(resume=point % 2 == 0)
        assert outcome(str(vrt), references) == "new"
        shutil.rmtree(case)
