"""Writes in child processes that die at a chosen point: the machinery of the crash-point,
fault and resume tests.

A *zygote* process imports xr_tiles and everything it needs once, then forks one child
per write it is asked for (fork takes milliseconds, a fresh interpreter a second). The
child counts the write's mutations and kills itself with SIGKILL right after the k-th:

- on local disk, Python's audit events of the write's folder: a file opened for writing,
  a rename or replace, an unlink, a mkdir or rmdir, a link (``shutil.rmtree`` raises one
  per file and folder it deletes); the child dies when the (k+1)-th is about to happen,
  which is the state right after the k-th;
- on an S3 server, each PUT and DELETE request the server has answered (botocore's
  ``after-call`` events), the child dying right after the k-th answer.

Nothing is mocked: the files, the S3 server, GDAL and dask are real, and so is the kill.
A run with no kill reports every mutation, to know how many points there are.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

TESTS = pathlib.Path(__file__).resolve().parent
REPOSITORY = TESTS.parent
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
LOCAL_EVENTS = {"open", "os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.link",
                "os.symlink", "os.truncate"}
S3_MUTATIONS = ("PutObject", "DeleteObject", "DeleteObjects", "CopyObject",
                "CompleteMultipartUpload")


# --------------------------------------------------------------------------- the writes


@contextlib.contextmanager
def _nesting(nest: tuple[int, int] | None) -> Iterator[None]:
    """xr_tiles' nesting tuned to ``nest`` meanwhile (a write runs in the tests' process
    too, to make the references)."""
    import xr_tiles.plan

    saved = xr_tiles.plan.NEST_ABOVE_TILES, xr_tiles.plan.NEST_BLOCK
    if nest is not None:
        xr_tiles.plan.NEST_ABOVE_TILES, xr_tiles.plan.NEST_BLOCK = nest
    try:
        yield
    finally:
        xr_tiles.plan.NEST_ABOVE_TILES, xr_tiles.plan.NEST_BLOCK = saved


@dataclass(frozen=True)
class Write:
    """One write, as a child runs it: ``seed`` makes the data, ``region`` the part of it
    a region update writes (pixels, y then x)."""

    path: str  # a local path, or an s3:// URL
    seed: int
    mode: str = "w"
    region: tuple[tuple[int, int], tuple[int, int]] | None = None
    resume: bool = False
    overviews: tuple[int, ...] | None = None
    shape: tuple[int, int] = (512, 768)
    chunks: int = 256
    storage_options: dict[str, Any] = field(default_factory=dict)
    constant: bool = False  # values that compress to almost nothing
    delay: float = 0.0  # seconds each block takes to compute
    scheduler: str = "synchronous"
    unnamed_files: bool = True  # False: files as where the filesystem has none (NFS)
    nest: tuple[int, int] | None = None  # (above, block): a nested VRT of these few tiles
    index: str | None = None  # "gti": GDAL's tile index too
    stac: bool = False  # a STAC Collection too

    def data(self) -> Any:
        """The input: the whole raster of ``seed``, or its region."""
        from conftest import make_raster

        array = make_raster(self.shape, "float32", chunks=self.chunks, seed=self.seed,
                            nodata=-9999.0)
        if self.constant:
            array = array * 0 + self.seed
        if self.delay:
            array = array.copy(data=array.data.map_blocks(_slow, self.delay, dtype=array.dtype))
        if self.region is None:
            return array
        (y0, y1), (x0, x1) = self.region
        return array.isel(y=slice(y0, y1), x=slice(x0, x1))

    def run(self, **changes: Any) -> Any:
        if not self.unnamed_files:
            import xr_tiles.store.files

            xr_tiles.store.files.put_unnamed = lambda *args, **kwargs: False
        options = {
            "mode": self.mode, "resume": self.resume, "overviews": self.overviews,
            "scheduler": self.scheduler, "index": self.index, "stac": self.stac, **changes,
        }
        if self.region is not None and options["mode"] == "r+":
            options["region"] = "auto"
        if self.storage_options:
            options["storage_options"] = self.storage_options
        with _nesting(self.nest):
            return self.data().tiles.to_vrt(self.path, **options)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__}

    @classmethod
    def from_json(cls, items: dict[str, Any]) -> Write:
        region = items.get("region")
        items = {
            **items,
            "region": None if region is None else tuple(tuple(span) for span in region),
            "overviews": None if items.get("overviews") is None else tuple(items["overviews"]),
            "shape": tuple(items["shape"]),
            "nest": None if items.get("nest") is None else tuple(items["nest"]),
        }
        return cls(**items)


def _slow(block: Any, delay: float) -> Any:
    time.sleep(delay)
    return block


# --------------------------------------------------------------------------- one child


def child(write: Write, *, limits: dict[str, int | str] | None = None,
          wrapper: list[str] | None = None, script: str = "write",
          barrier: pathlib.Path | None = None) -> subprocess.Popen[str]:
    """Start ``write`` in a fresh interpreter (``wrapper`` before it, such as ``unshare``),
    under ``limits`` (``resource`` names: {"RLIMIT_FSIZE": bytes}, or for descriptors
    {"RLIMIT_NOFILE": "+1"}: one more than those open once warmed up); its one line of JSON
    output says how it ended (``ended``). ``barrier``: a file the child waits for
    before it writes, to start several at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(TESTS)])}
    request = json.dumps({"write": write.as_json(), "limits": limits or {}, "script": script,
                          "barrier": None if barrier is None else str(barrier)})
    command = [*(wrapper or []), sys.executable, "-c", "import harness; harness.child_main()",
               request]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=TESTS)


def ended(process: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    """How a ``child`` ended: its report, its exit code and what it printed on stderr."""
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return {**report, "code": process.returncode, "stderr": err}


def child_main() -> None:
    """A ``child``: warm up (so that a limit hits the write, not the imports), set the
    limits, run the write (or the script), print how it ended."""
    import resource

    request = json.loads(sys.argv[1])
    write = Write.from_json(request["write"])
    with tempfile.TemporaryDirectory() as folder:
        Write(f"{folder}/warm-up.vrt", seed=0, shape=(64, 64), chunks=32, overviews=(2,)).run()
    if request["barrier"] is not None:
        print("ready", flush=True)
        wait_until(lambda: os.path.exists(request["barrier"]), timeout=60)
    for name, value in request["limits"].items():
        limit = getattr(resource, name)
        if isinstance(value, str):  # "+n": n descriptors more than those open now
            value = _nth_free_descriptor(int(value))
        resource.setrlimit(limit, (value, resource.getrlimit(limit)[1]))
    try:
        result: dict[str, Any] = SCRIPTS[request["script"]](write)
    except BaseException as error:  # noqa: BLE001 - reported, whatever it is
        result = {"error": type(error).__name__, "message": str(error),
                  "notes": getattr(error, "__notes__", [])}
    print(json.dumps(result), flush=True)
    sys.exit(3 if "error" in result else 0)


def _nth_free_descriptor(n: int) -> int:
    """The number the (n+1)-th file opened from now would get (the lowest free ones
    first): as RLIMIT_NOFILE, it lets n files more be open."""
    probes = [os.open(os.devnull, os.O_RDONLY) for _ in range(n + 1)]
    for fd in probes:
        os.close(fd)
    return probes[n]


def _write_script(write: Write) -> dict[str, Any]:
    print("started", flush=True)
    return {"result": str(write.run())}


def _lazy_script(write: Write) -> dict[str, Any]:
    """``write`` with compute=False, then computed."""
    print("started", flush=True)
    return {"result": str(write.run(compute=False).compute(scheduler=write.scheduler))}


def _taken_for_dead_script(write: Write) -> dict[str, Any]:
    """``write`` with compute=False, whose folder is deleted right before it locks the
    path to publish, as another writer that took it for dead (silent too long) would."""
    import shutil

    vrt = pathlib.Path(write.path)
    root, lock = vrt.with_name(f"{vrt.stem}_tiles"), vrt.with_name(f".{vrt.name}.lock")
    opened = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event != "open":
            return
        path, _, flags = args
        locking = isinstance(flags, int) and flags & os.O_RDWR  # not a reader's probe
        if locking and not isinstance(path, int) and os.fsdecode(path) == str(lock):
            opened.append(True)
            if len(opened) == 2:  # the first was the begin's
                (manifest,) = root.glob("*.json")
                shutil.rmtree(root / manifest.stem)

    sys.addaudithook(hook)
    return _lazy_script(write)


def _full_disk_script(write: Write) -> dict[str, Any]:
    """In a small filesystem (``write.path`` is on it): an old output that fits, then
    ``write``, which does not; then what a reader finds, and whether the next write
    (as small as the old one) publishes and leaves only what its VRT names."""
    from conftest import assert_only_referenced, tree

    vrt = pathlib.Path(write.path)
    small = {"shape": write.shape, "chunks": write.chunks, "constant": True}
    Write(write.path, seed=0, mode="w-", **small).run()
    before, files = fingerprint(write.path), tree(vrt.parent)
    try:
        write.run()
        failure: dict[str, Any] = {}
    except OSError as error:
        failure = {"error": type(error).__name__, "message": str(error),
                   "notes": getattr(error, "__notes__", [])}
    old_intact = fingerprint(write.path) == before and all(
        tree(vrt.parent).get(path) == data for path, data in files.items()
    )
    Write(write.path, seed=2, mode="w", **small).run()
    assert_only_referenced(vrt)
    return {"failure": failure, "old_intact": old_intact,
            "next": fingerprint(write.path) != before}


SCRIPTS: dict[str, Callable[[Write], dict[str, Any]]] = {
    "write": _write_script, "lazy": _lazy_script, "full_disk": _full_disk_script,
    "taken_for_dead": _taken_for_dead_script,
}


# --------------------------------------------------------------------------- the zygote


class Zygote:
    """A process that forks a child for each write; ``run`` waits for the child's end."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(TESTS)])}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "import harness; harness.zygote()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=TESTS,
        )

    def run(self, write: Write, *, kill_after: int | None, report: pathlib.Path,
            kind: str = "local", root: str | None = None, interrupt: bool = False,
            ) -> dict[str, Any]:
        """Run ``write`` in a child killed (``interrupt``: sent SIGINT) right after its
        ``kill_after``-th mutation of ``root`` (None: never); return how it ended and,
        from ``report``, what it did."""
        request = {"write": write.as_json(), "kill_after": kill_after, "report": str(report),
                   "kind": kind, "root": root or str(pathlib.Path(write.path).parent),
                   "signal": int(signal.SIGINT if interrupt else signal.SIGKILL)}
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        reply = json.loads(self._process.stdout.readline())
        if report.exists():
            reply.update(json.loads(report.read_text()))
        return reply

    def close(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._process.wait(timeout=30)


def zygote() -> None:
    """The zygote's loop: one JSON request a line, one JSON reply a line."""
    import dask.array  # noqa: F401  (imported once, before any fork)
    import fsspec  # noqa: F401
    import rasterio  # noqa: F401

    import conftest  # noqa: F401
    import xr_tiles  # noqa: F401

    # A first write, so that what is set up on first use (PROJ's database, GDAL's
    # drivers, the codecs) is set up once, not in every child.
    with tempfile.TemporaryDirectory() as folder:
        Write(f"{folder}/warm-up.vrt", seed=0, overviews=(2, 4)).run()
    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            os._exit(_child(request))
        _, status = os.waitpid(child, 0)
        reply = {"killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL,
                 "code": os.waitstatus_to_exitcode(status)}
        print(json.dumps(reply), flush=True)


def _child(request: dict[str, Any]) -> int:
    write = Write.from_json(request["write"])
    counter = Mutations(request["root"], request["kill_after"], pathlib.Path(request["report"]),
                        signal.Signals(request["signal"]))
    try:
        if request["kind"] == "s3":
            counter.watch_s3(write.storage_options)
        else:
            sys.addaudithook(counter.audit)
        try:
            result = {"result": str(write.run())}
        except BaseException as error:  # noqa: BLE001 - reported to the test (an interrupt too)
            result = {"error": type(error).__name__, "message": str(error),
                      "notes": getattr(error, "__notes__", [])}
        counter.done(result)
        return 0
    except BaseException:  # noqa: BLE001 - a child must end here, whatever happens
        traceback.print_exc()
        return 1


class Mutations:
    """Counts a write's mutations, and kills the process right after the ``kill_after``-th."""

    def __init__(self, root: str, kill_after: int | None, report: pathlib.Path,
                 signal_number: signal.Signals = signal.SIGKILL) -> None:
        self.root, self.kill_after, self.report = root, kill_after, report
        self.signal = signal_number
        self.events: list[str] = []
        self._inside = False
        self._key = ""

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event in LOCAL_EVENTS and not self._inside and self._is_mutation(event, args):
            # A link's or a rename's new name says more than its source (an open file
            # linked through /proc/self/fd, a temporary name).
            named = args[1] if event in ("os.link", "os.rename") else args[0]
            self._count(f"{event} {self._path(named)}")

    def watch_s3(self, storage_options: dict[str, Any]) -> None:
        import fsspec

        fs = fsspec.filesystem("s3", **storage_options)  # the instance the write will use
        fs.connect()
        for operation in S3_MUTATIONS:
            fs.s3.meta.events.register(f"before-call.s3.{operation}", self._before_call)
            fs.s3.meta.events.register(f"after-call.s3.{operation}", self._after_call)

    def done(self, result: dict[str, Any]) -> None:
        self._inside = True
        self.report.write_text(json.dumps({"mutations": self.events, **result}))

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self._key = str(params.get("url_path", ""))  # the request: /bucket/key

    def _after_call(self, model: Any, **_: Any) -> None:
        """Right after the server answered the request: kill after the kill_after-th."""
        self.events.append(f"{model.name} {self._key}")
        self._signal_at(len(self.events))

    def _count(self, description: str) -> None:
        self._signal_at(len(self.events))  # right after the kill_after-th
        self.events.append(description)

    def _signal_at(self, count: int) -> None:
        if self.kill_after is not None and count == self.kill_after:
            self.kill_after = None  # once: an interrupted write goes on to its end
            os.kill(os.getpid(), self.signal)

    def _is_mutation(self, event: str, args: tuple[Any, ...]) -> bool:
        if event == "open":
            path, mode, flags = args
            writes = (mode is not None and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & WRITE_FLAGS
            )
            return bool(writes) and self._ours(path, None)
        if event in ("os.link", "os.rename", "os.symlink"):
            return self._ours(args[1], None)
        dir_fd = args[-1] if event in ("os.remove", "os.mkdir", "os.rmdir") else None
        return self._ours(args[0], dir_fd)

    def _ours(self, path: Any, dir_fd: int | None) -> bool:
        if isinstance(path, int):
            return False
        # Relative to a folder's descriptor: shutil.rmtree deleting one of the write's.
        return dir_fd is not None or os.fsdecode(path).startswith(self.root)

    def _path(self, path: Any) -> str:
        text = os.fsdecode(path) if not isinstance(path, int) else str(path)
        return text.removeprefix(self.root).lstrip("/")


def is_tile_put(event: str) -> bool:
    """A mutation that makes a tile appear under its name: a link (of an unnamed file)
    or a rename (of a temporary one)."""
    return event.startswith(("os.link", "os.rename")) and event.rsplit("/", 1)[-1].startswith("r")


# --------------------------------------------------------------------------- oracles


def fingerprint(path: str) -> tuple[Any, ...]:
    """What GDAL reads: grid, bands, every pixel of the raster and of each overview
    level. Raises where GDAL cannot read it."""
    import numpy as np
    import rasterio

    with rasterio.open(path) as dataset:
        levels = len(dataset.overviews(1))
        parts: list[Any] = [dataset.shape, tuple(dataset.transform), str(dataset.crs),
                            dataset.nodatavals, dataset.dtypes, dataset.overviews(1),
                            dataset.read().tobytes()]
    for level in range(levels):
        with rasterio.open(path, OVERVIEW_LEVEL=level) as overview:
            parts.append(np.asarray(overview.read()).tobytes())
    return tuple(parts)


def catalogue_fingerprint(collection: str) -> tuple[Any, ...]:
    """What a STAC reader finds: every item the collection links, and the georeferencing
    and pixels of every asset each names, read with GDAL. Raises where one is missing."""
    import json
    import posixpath

    import rasterio

    parts: list[Any] = []
    document = json.loads(pathlib.Path(collection).read_text())
    for link in document["links"]:
        if link["rel"] != "item":
            continue
        path = posixpath.normpath(posixpath.join(posixpath.dirname(collection), link["href"]))
        item = json.loads(pathlib.Path(path).read_text())
        for key, asset in sorted(item["assets"].items()):
            tile = posixpath.normpath(posixpath.join(posixpath.dirname(path), asset["href"]))
            with rasterio.open(tile) as dataset:
                parts.append((item["id"], key, asset["file:size"], tuple(dataset.transform),
                              dataset.read().tobytes()))
    return tuple(sorted(parts))


def outcome(
    path: str, references: dict[str, tuple[Any, ...] | None],
    exists: Callable[[], bool] | None = None,
) -> str:
    """Which of ``references`` (by name: "old", "new") GDAL reads at ``path`` (a VRT or
    tile index; a STAC collection: its items and their tiles);
    "absent" where there is no VRT (``exists``: whether there is, for a /vsi path);
    "corrupt" where GDAL cannot read it or reads any other pixels."""
    if not (os.path.exists(path) if exists is None else exists()):
        return "absent"
    try:
        found = (catalogue_fingerprint if path.endswith(".json") else fingerprint)(path)
    except Exception:  # noqa: BLE001 - any error reading is a corrupt output
        return "corrupt"
    matches = [name for name, reference in references.items() if reference == found]
    return matches[0] if matches else "corrupt"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
