"""Crash safety, proven as SQLite proves its commits: a write in a child process kills
itself (SIGKILL) right after its k-th mutation, for every k until it completes.

After each point, GDAL must read exactly the old output or exactly the new one (never no
VRT where there was one, never a mix, never an unreadable file), and the next write (one
that resumes, or one that starts over, alternately) must publish the new output and leave
exactly the files its VRT names. Scenarios: a first write (``w-``), a replacement
(``w``), a region update (``r+``) and a resumed write, each with and without overviews
(one level a mosaic of the tiles' levels, one a whole-raster GeoTIFF); on local disk and
on an S3 server (moto, on loopback), where the points are its PUTs and DELETEs.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import posixpath
import re
import shutil
from typing import Any

import pytest

import xr_tiles
from conftest import assert_only_referenced, assert_store_only_referenced
from harness import Write, Zygote, catalogue_fingerprint, fingerprint, is_tile_put, outcome

OVERVIEWS = [pytest.param(None, id="no-overviews"), pytest.param((2, 4), id="overviews")]
SCENARIOS = ["fresh", "replace", "region", "resume"]
REGION = ((256, 512), (256, 768))  # the last row of tiles, but its first tile


@pytest.fixture(scope="module")
def zygote():
    process = Zygote()
    yield process
    process.close()


def old_write(path: pathlib.Path | str, overviews: Any, **options: Any) -> Write:
    return Write(str(path), seed=0, mode="w-", overviews=overviews, **options)


def new_write(scenario: str, path: pathlib.Path | str, overviews: Any, **options: Any) -> Write:
    """The write each scenario kills: of seed 1, whole or the region's part."""
    if scenario == "fresh":
        return Write(str(path), seed=1, mode="w-", overviews=overviews, **options)
    if scenario == "region":
        return Write(str(path), seed=1, mode="r+", region=REGION, overviews=overviews, **options)
    return Write(str(path), seed=1, mode="w", resume=scenario == "resume",
                 overviews=overviews, **options)


def prepared(
    scenario: str, folder: pathlib.Path, overviews: Any, zygote: Zygote, **options: Any
) -> pathlib.Path:
    """The folder a scenario's write starts from: the old output, if any, and for a
    resumed write the tiles of the write it resumes, killed half way through its tiles."""
    vrt = folder / "mosaic.vrt"
    if scenario != "fresh":
        old_write(vrt, overviews, **options).run()
    if scenario == "resume":
        interrupted = new_write("replace", vrt, overviews, **options)
        report = folder.parent / f"{folder.name}-count.json"
        counted = zygote.run(interrupted, kill_after=None, report=report, root=str(folder))
        # Count it in a copy, then kill the real one after half its tiles.
        shutil.rmtree(folder)
        old_write(vrt, overviews, **options).run()
        tiles = [i for i, event in enumerate(counted["mutations"]) if is_tile_put(event)]
        half = tiles[len(tiles) // 2 - 1] + 1
        reply = zygote.run(interrupted, kill_after=half, report=report, root=str(folder))
        assert reply["killed"]
    return vrt


def references(
    scenario: str, folder: pathlib.Path, overviews: Any, **options: Any
) -> dict[str, Any]:
    """What GDAL reads of the old and of the new output, each written cleanly."""
    old_vrt, new_vrt = folder / "old" / "mosaic.vrt", folder / "new" / "mosaic.vrt"
    old: tuple[Any, ...] | None = None
    if scenario != "fresh":
        old_write(old_vrt, overviews, **options).run()
        old = fingerprint(str(old_vrt))
        old_write(new_vrt, overviews, **options).run()
    new_write(scenario, new_vrt, overviews, **options).run(resume=False)
    return {"old": old, "new": fingerprint(str(new_vrt))}


def summarised(name: str, summary: dict[str, Any], tmp_path: pathlib.Path) -> None:
    """What a reader saw at each point, for ``benchmarks/bench_commit.py`` (which names
    the folder in ``XR_TILES_CRASH_SUMMARY``)."""
    folder = pathlib.Path(os.environ.get("XR_TILES_CRASH_SUMMARY", tmp_path))
    (folder / f"{name}.json").write_text(json.dumps(summary))


def follow_up(
    scenario: str, vrt: pathlib.Path, overviews: Any, point: int, **options: Any
) -> None:
    """After a crash, the next write: alternately one that resumes and one that starts
    over (a region update without resume=True starts the region over)."""
    write = new_write(scenario, vrt, overviews, **options)
    if point % 2 == 0:
        write.run(resume=True)
    else:
        write.run(resume=False, mode="w" if scenario == "fresh" else write.mode)


@pytest.mark.slow
@pytest.mark.parametrize("overviews", OVERVIEWS)
@pytest.mark.parametrize(
    "scenario", [*SCENARIOS, "replace-named-files", *(f"{s}-nested" for s in SCENARIOS)])
def test_a_write_killed_after_any_mutation_loses_nothing(scenario, overviews, zygote, tmp_path):
    """``replace-named-files``: a replacement that puts its files as on a filesystem
    without unnamed files (NFS, FUSE): under temporary names, renamed into place.
    ``-nested``: a nested VRT, a sub-VRT a tile (a region update keeps four of six)."""
    named, nested = scenario.endswith("-named-files"), scenario.endswith("-nested")
    scenario = scenario.removesuffix("-named-files").removesuffix("-nested")
    options: dict[str, Any] = {"nest": (1, 1)} if nested else {}
    expected = references(scenario, tmp_path / "references", overviews, **options)
    template = tmp_path / "template"
    template.mkdir()
    prepared(scenario, template, overviews, zygote, **options)
    options["unnamed_files"] = not named

    counting = tmp_path / "counting"
    shutil.copytree(template, counting, symlinks=True)
    complete = zygote.run(new_write(scenario, counting / "mosaic.vrt", overviews, **options),
                          kill_after=None, report=tmp_path / "count.json", root=str(counting))
    assert "error" not in complete, complete.get("message")
    assert outcome(str(counting / "mosaic.vrt"), expected) == "new"
    mutations = complete["mutations"]
    assert len(mutations) > 10

    seen: collections.Counter[str] = collections.Counter()
    for point in range(len(mutations)):
        case = tmp_path / f"point-{point}"
        shutil.copytree(template, case, symlinks=True)
        vrt = case / "mosaic.vrt"
        reply = zygote.run(new_write(scenario, vrt, overviews, **options),
                           kill_after=point, report=tmp_path / f"point-{point}.json",
                           root=str(case))
        assert reply["killed"], (point, reply)
        found = outcome(str(vrt), expected)
        seen[found] += 1
        after = mutations[point - 1] if point else "nothing"
        allowed = {"new", "absent"} if scenario == "fresh" else {"old", "new"}
        assert found in allowed, f"killed right after {after!r}: a reader saw {found}"
        follow_up(scenario, vrt, overviews, point, **options)
        assert outcome(str(vrt), expected) == "new", f"after the kill after {after!r}"
        assert_only_referenced(vrt)
        shutil.rmtree(case)
    name = f"{scenario}, named files" if named else (
        f"nested VRT, {scenario}" if nested else scenario)
    summary = {"scenario": name, "overviews": overviews is not None, "points": len(mutations),
               **dict(seen)}
    summarised(f"crash-{name}-{overviews is not None}", summary, tmp_path)
    assert seen["new"] >= 1
    assert seen["old" if scenario != "fresh" else "absent"] >= 1


# Two sub-VRTs (blocks of 2 x 2 tiles), each with the sub-VRT of its level of 2.
CATALOGUES = {"index": "gti", "stac": True, "nest": (1, 2)}


def catalogue_references(scenario: str, folder: pathlib.Path) -> dict[str, dict[str, Any]]:
    """What a reader of each of the VRT, the tile index and the STAC collection finds of
    the old and of the new output, each written cleanly."""
    found: dict[str, dict[str, Any]] = {"vrt": {}, "gti": {}, "stac": {}}
    for name in ("old", "new"):
        vrt = folder / name / "mosaic.vrt"
        if scenario != "fresh":
            old_write(vrt, (2, 4), **CATALOGUES).run()
        elif name == "old":
            continue
        if name == "new":
            new_write(scenario, vrt, (2, 4), **CATALOGUES).run(resume=False)
        found["vrt"][name] = fingerprint(str(vrt))
        found["gti"][name] = fingerprint(str(folder / name / "mosaic.gti.gpkg"))
        found["stac"][name] = catalogue_fingerprint(str(folder / name / "mosaic_stac" /
                                                        "collection.json"))
    return found


def catalogue_outcomes(folder: pathlib.Path, expected: dict[str, dict[str, Any]]) -> list[str]:
    paths = {"vrt": "mosaic.vrt", "gti": "mosaic.gti.gpkg",
             "stac": "mosaic_stac/collection.json"}
    return [outcome(str(folder / paths[kind]), expected[kind]) for kind in paths]


def combined(found: list[str], scenario: str) -> str:
    """One point's outcome for the summary: the new output once all three readers find
    it, else the old one (none, for a first write), unless one found neither."""
    before = "absent" if scenario == "fresh" else "old"
    wrong = [outcome for outcome in found if outcome not in ("new", before)]
    if wrong:
        return wrong[0]
    return "new" if set(found) == {"new"} else before


def assert_only_catalogued(vrt: pathlib.Path) -> None:
    """Only the VRT's files, its tile index, its collection and the items it links."""
    collection = vrt.with_name("mosaic_stac") / "collection.json"
    links = json.loads(collection.read_text())["links"]
    items = {pathlib.Path(os.path.normpath(collection.parent / link["href"]))
             for link in links if link["rel"] == "item"}
    (write,) = set(re.findall(r'"write": "([0-9a-f]{12})"',
                              vrt.read_text()))
    staged = set((vrt.with_name("mosaic_tiles") / write / "staged").iterdir())
    assert_only_referenced(vrt, vrt.with_name("mosaic.gti.gpkg"), collection, *items, *staged)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_write_with_its_tile_index_and_catalogue_killed_anywhere_loses_nothing(
    scenario, zygote, tmp_path
):
    """A nested VRT with overviews, its GTI and its STAC collection: after a kill at any
    point, each of the three readers finds the complete old output or the complete new
    one (they may differ from one another: each is published in its own step), and the
    next write leaves the three new and nothing else."""
    expected = catalogue_references(scenario, tmp_path / "references")
    template = tmp_path / "template"
    template.mkdir()
    prepared(scenario, template, (2, 4), zygote, **CATALOGUES)
    counting = tmp_path / "counting"
    shutil.copytree(template, counting, symlinks=True)
    complete = zygote.run(new_write(scenario, counting / "mosaic.vrt", (2, 4), **CATALOGUES),
                          kill_after=None, report=tmp_path / "count.json", root=str(counting))
    assert "error" not in complete, complete.get("message")
    assert catalogue_outcomes(counting, expected) == ["new"] * 3
    mutations = complete["mutations"]

    seen: collections.Counter[str] = collections.Counter()
    allowed = {"new", "absent"} if scenario == "fresh" else {"old", "new"}
    for point in range(len(mutations)):
        case = tmp_path / f"point-{point}"
        shutil.copytree(template, case, symlinks=True)
        vrt = case / "mosaic.vrt"
        reply = zygote.run(new_write(scenario, vrt, (2, 4), **CATALOGUES), kill_after=point,
                           report=tmp_path / f"point-{point}.json", root=str(case))
        assert reply["killed"], (point, reply)
        found = catalogue_outcomes(case, expected)
        seen[combined(found, scenario)] += 1
        after = mutations[point - 1] if point else "nothing"
        assert set(found) <= allowed, f"killed right after {after!r}: readers saw {found}"
        follow_up(scenario, vrt, (2, 4), point, **CATALOGUES)
        assert catalogue_outcomes(case, expected) == ["new"] * 3, f"after {after!r}"
        assert_only_catalogued(vrt)
        shutil.rmtree(case)
    summary = {"scenario": f"nested VRT + GTI + STAC, {scenario}", "overviews": True,
               "points": len(mutations), **dict(seen)}
    summarised(f"crash-{scenario}-catalogues", summary, tmp_path)
    assert seen["new"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("overviews", OVERVIEWS)
def test_a_write_interrupted_after_any_mutation_says_what_it_left(overviews, zygote, tmp_path):
    """Ctrl-C (SIGINT) right after each mutation of a replacement: the error says what
    is true. Before the VRT is replaced, the old output stands and the tiles are kept (a
    resume finishes the write); once replaced, the new output stands, the error says it
    was published and nothing is marked kept, and what the interrupted cleanup left the
    next write deletes."""
    expected = references("replace", tmp_path / "references", overviews)
    template = tmp_path / "template"
    template.mkdir()
    prepared("replace", template, overviews, zygote)
    counting = tmp_path / "counting"
    shutil.copytree(template, counting, symlinks=True)
    complete = zygote.run(new_write("replace", counting / "mosaic.vrt", overviews),
                          kill_after=None, report=tmp_path / "count.json", root=str(counting))
    mutations = complete["mutations"]

    seen: collections.Counter[str] = collections.Counter()
    for point in range(1, len(mutations)):
        case = tmp_path / f"point-{point}"
        shutil.copytree(template, case, symlinks=True)
        vrt = case / "mosaic.vrt"
        reply = zygote.run(new_write("replace", vrt, overviews), kill_after=point,
                           report=tmp_path / f"point-{point}.json", root=str(case),
                           interrupt=True)
        after = mutations[point - 1]
        found = outcome(str(vrt), expected)
        seen[found] += 1
        assert found in {"old", "new"}, f"interrupted right after {after!r}: {found}"
        notes = " ".join(reply.get("notes", []))
        if "error" not in reply:  # the interrupt came when nothing was left to stop
            assert found == "new", (after, reply)
            assert point >= len(mutations) - 2, (after, reply)
        elif found == "new":
            assert reply["error"] == "KeyboardInterrupt", (after, reply)
            assert "was published" in notes, (after, notes)
            assert "kept" not in notes, (after, notes)
            assert not any(
                json.loads(manifest.read_text())["state"] == "aborted"
                for manifest in (case / "mosaic_tiles").glob("*.json")
            ), after
        else:
            assert reply["error"] == "KeyboardInterrupt", (after, reply)
            assert "was published" not in notes, (after, notes)
        follow_up("replace", vrt, overviews, point)
        assert outcome(str(vrt), expected) == "new", f"after the interrupt after {after!r}"
        assert_only_referenced(vrt)
        shutil.rmtree(case)
    assert seen["old"] >= 1
    assert seen["new"] >= 1


def test_the_mutations_counted_are_the_write_s_own(zygote, tmp_path):
    """The harness sees every kind of mutation a replacement makes, and only in its folder."""
    vrt = tmp_path / "out" / "mosaic.vrt"
    old_write(vrt, (2, 4)).run()
    reply = zygote.run(new_write("replace", vrt, (2, 4)), kill_after=None,
                       report=tmp_path / "count.json", root=str(vrt.parent))
    kinds = {event.split()[0] for event in reply["mutations"]}
    assert kinds == {"open", "os.link", "os.rename", "os.remove", "os.mkdir", "os.rmdir"}
    # Paths in the output's folder; bare names are shutil.rmtree's, relative to the
    # folder it deletes.
    paths = [event.split(" ", 1)[1] for event in reply["mutations"]]
    assert all(path.startswith(("mosaic", ".mosaic")) or "/" not in path for path in paths)
    assert sum(1 for event in reply["mutations"] if is_tile_put(event)) == 6


# --------------------------------------------------------------------------- S3


def copy_prefix(fs: Any, source: str, target: str) -> None:
    fs.invalidate_cache()
    for key in fs.find(source):
        fs.copy(key, f"{target}{key[len(source):]}")


def s3_prepared(scenario: str, fs: Any, bucket: str, options: dict, zygote: Zygote,
                tmp_path: pathlib.Path, overviews: Any) -> str:
    """``prepared`` on S3: the prefix a scenario's write starts from."""
    template = f"{bucket}/template"
    if scenario != "fresh":
        old_write(f"s3://{template}/mosaic.vrt", overviews, storage_options=options).run()
    if scenario == "resume":
        copy_prefix(fs, template, f"{bucket}/interrupted-count")
        interrupted = new_write("replace", f"s3://{bucket}/interrupted-count/mosaic.vrt",
                                overviews, storage_options=options)
        counted = zygote.run(interrupted, kill_after=None, report=tmp_path / "interrupted.json",
                             kind="s3")
        assert "error" not in counted, counted.get("message")
        tiles = [i for i, event in enumerate(counted["mutations"])
                 if event.startswith("PutObject") and "/r" in event]
        interrupted = new_write("replace", f"s3://{template}/mosaic.vrt", overviews,
                                storage_options=options)
        reply = zygote.run(interrupted, kill_after=tiles[len(tiles) // 2 - 1] + 1,
                           report=tmp_path / "interrupted.json", kind="s3")
        assert reply["killed"]
    return template


@pytest.mark.slow
@pytest.mark.parametrize("overviews", OVERVIEWS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_s3_write_killed_after_any_put_or_delete_loses_nothing(
    scenario, overviews, zygote, bucket, tmp_path
):
    name, options, fs = bucket

    def write(prefix: str) -> Write:
        return new_write(scenario, f"s3://{name}/{prefix}/mosaic.vrt", overviews,
                         storage_options=options)

    def read(prefix: str) -> str:
        def exists() -> bool:
            fs.invalidate_cache()
            return bool(fs.exists(f"{name}/{prefix}/mosaic.vrt"))

        return outcome(xr_tiles.gdal_path(f"s3://{name}/{prefix}/mosaic.vrt"), expected, exists)

    expected: dict[str, Any] = {"old": None}
    if scenario != "fresh":
        old_write(f"s3://{name}/old/mosaic.vrt", overviews, storage_options=options).run()
        expected["old"] = fingerprint(xr_tiles.gdal_path(f"s3://{name}/old/mosaic.vrt"))
        old_write(f"s3://{name}/new/mosaic.vrt", overviews, storage_options=options).run()
    write("new").run(resume=False)
    expected["new"] = fingerprint(xr_tiles.gdal_path(f"s3://{name}/new/mosaic.vrt"))

    template = s3_prepared(scenario, fs, name, options, zygote, tmp_path, overviews)
    copy_prefix(fs, template, f"{name}/counting")
    complete = zygote.run(write("counting"), kill_after=None, report=tmp_path / "count.json",
                          kind="s3")
    assert "error" not in complete, complete.get("message")
    assert read("counting") == "new"
    mutations = complete["mutations"]
    assert len(mutations) > 5

    seen: collections.Counter[str] = collections.Counter()
    for point in range(1, len(mutations)):
        prefix = f"point-{point}"
        copy_prefix(fs, template, f"{name}/{prefix}")
        reply = zygote.run(write(prefix), kill_after=point, report=tmp_path / f"{prefix}.json",
                           kind="s3")
        assert reply["killed"], (point, reply)
        found = read(prefix)
        seen[found] += 1
        allowed = {"new", "absent"} if scenario == "fresh" else {"old", "new"}
        assert found in allowed, f"killed right after {mutations[point - 1]!r}: a reader saw {found}"
        if point % 2 == 0:
            write(prefix).run(resume=True)
        else:
            write(prefix).run(resume=False, mode="w" if scenario == "fresh" else write(prefix).mode)
        assert read(prefix) == "new", f"after the kill after {mutations[point - 1]!r}"
        assert_store_only_referenced(fs, f"{name}/{prefix}/mosaic.vrt")
    summary = {"scenario": f"S3, {scenario}", "overviews": overviews is not None,
               "points": len(mutations) - 1, **dict(seen)}
    summarised(f"crash-s3-{scenario}-{overviews is not None}", summary, tmp_path)
    assert seen["new"] >= 1


def s3_catalogue_fingerprint(fs: Any, key: str) -> tuple[Any, ...]:
    """``catalogue_fingerprint`` of a collection on S3: its items through fsspec, their
    tiles through GDAL's /vsis3/."""
    import rasterio

    fs.invalidate_cache()
    parts = []
    for link in json.loads(fs.cat_file(key))["links"]:
        if link["rel"] != "item":
            continue
        item_key = posixpath.normpath(posixpath.join(posixpath.dirname(key), link["href"]))
        item = json.loads(fs.cat_file(item_key))
        for asset_key, asset in sorted(item["assets"].items()):
            tile = posixpath.normpath(posixpath.join(posixpath.dirname(item_key), asset["href"]))
            with rasterio.open(f"/vsis3/{tile}") as dataset:
                parts.append((item["id"], asset_key, asset["file:size"],
                              tuple(dataset.transform), dataset.read().tobytes()))
    return tuple(sorted(parts))


def s3_catalogued(fs: Any, prefix: str) -> list[str]:
    """The keys an S3 output holds besides the VRT's files: tile index, collection, the
    items it links, and what the VRT's write staged."""
    collection = f"{prefix}/mosaic_stac/collection.json"
    links = json.loads(fs.cat_file(collection))["links"]
    items = [posixpath.normpath(f"{prefix}/mosaic_stac/{link['href']}")
             for link in links if link["rel"] == "item"]
    (write,) = set(re.findall(r'"write": "([0-9a-f]{12})"',
                              fs.cat_file(f"{prefix}/mosaic.vrt").decode()))
    staged = fs.find(f"{prefix}/mosaic_tiles/{write}/staged")
    return [f"{prefix}/mosaic.gti.gpkg", collection, *items, *staged]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["region"])
def test_an_s3_write_with_its_tile_index_and_catalogue_killed_anywhere_loses_nothing(
    scenario, zygote, bucket, tmp_path
):
    """As on local disk: after a kill after any PUT, DELETE or COPY, the VRT, the GTI
    (both through /vsis3/) and the STAC collection each give the old or the new output."""
    name, options, fs = bucket
    # Lighter than on local disk (each GTI read is many HTTP range requests): one sub-VRT
    # a row of tiles, no overviews.
    catalogues = {**CATALOGUES, "nest": (1, 3), "storage_options": options}

    def write(prefix: str) -> Write:
        return new_write(scenario, f"s3://{name}/{prefix}/mosaic.vrt", None, **catalogues)

    def readers(prefix: str) -> list[str]:
        def exists(key: str) -> Any:
            return lambda: fs.invalidate_cache() or bool(fs.exists(f"{name}/{prefix}/{key}"))

        vsi = f"/vsis3/{name}/{prefix}"
        found = [outcome(f"{vsi}/mosaic.vrt", expected["vrt"], exists("mosaic.vrt")),
                 outcome(f"{vsi}/mosaic.gti.gpkg", expected["gti"], exists("mosaic.gti.gpkg"))]
        try:
            stac = s3_catalogue_fingerprint(fs, f"{name}/{prefix}/mosaic_stac/collection.json")
            matches = [kind for kind, known in expected["stac"].items() if known == stac]
            found.append(matches[0] if matches else "corrupt")
        except Exception:  # noqa: BLE001 - any error reading is a corrupt catalogue
            found.append("corrupt")
        return found

    expected: dict[str, dict[str, Any]] = {"vrt": {}, "gti": {}, "stac": {}}
    for kind in ("old", "new"):
        old_write(f"s3://{name}/{kind}/mosaic.vrt", None, **catalogues).run()
        if kind == "new":
            write(kind).run(resume=False)
        expected["vrt"][kind] = fingerprint(f"/vsis3/{name}/{kind}/mosaic.vrt")
        expected["gti"][kind] = fingerprint(f"/vsis3/{name}/{kind}/mosaic.gti.gpkg")
        expected["stac"][kind] = s3_catalogue_fingerprint(
            fs, f"{name}/{kind}/mosaic_stac/collection.json")

    template = f"{name}/template"
    old_write(f"s3://{template}/mosaic.vrt", None, **catalogues).run()
    copy_prefix(fs, template, f"{name}/counting")
    complete = zygote.run(write("counting"), kill_after=None, report=tmp_path / "count.json",
                          kind="s3")
    assert "error" not in complete, complete.get("message")
    assert readers("counting") == ["new"] * 3
    mutations = complete["mutations"]
    assert any(event.startswith("CopyObject") for event in mutations)

    seen: collections.Counter[str] = collections.Counter()
    for point in range(1, len(mutations)):
        prefix = f"point-{point}"
        copy_prefix(fs, template, f"{name}/{prefix}")
        reply = zygote.run(write(prefix), kill_after=point, report=tmp_path / f"{prefix}.json",
                           kind="s3")
        assert reply["killed"], (point, reply)
        found = readers(prefix)
        seen[combined(found, scenario)] += 1
        assert set(found) <= {"old", "new"}, f"killed after {mutations[point - 1]!r}: {found}"
        write(prefix).run(resume=point % 2 == 0)
        assert readers(prefix) == ["new"] * 3, f"after the kill after {mutations[point - 1]!r}"
        assert_store_only_referenced(fs, f"{name}/{prefix}/mosaic.vrt",
                                     *s3_catalogued(fs, f"{name}/{prefix}"))
    summary = {"scenario": f"S3, nested VRT + GTI + STAC, {scenario}", "overviews": False,
               "points": len(mutations) - 1, **dict(seen)}
    summarised(f"crash-s3-{scenario}-catalogues", summary, tmp_path)
    assert seen["new"] >= 1

