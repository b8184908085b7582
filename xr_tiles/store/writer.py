"""Who runs a write, and whether that process still lives: for the error that names a
concurrent writer, and for telling a running write from a dead one's leftovers."""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
from dataclasses import asdict, dataclass
from typing import Any

import psutil

# Two readings of one process's start time may differ by the clock tick's rounding.
START_TIME_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Writer:
    """A process on a host.

    ``boot`` tells apart hosts that share a name; ``pid_namespace`` tells apart the
    containers of one host, which share its kernel (and so its boot id) but number their
    processes each on their own: a pid says something only within its namespace.
    """

    host: str
    boot: str
    pid: int
    process_started: float
    started: str  # when the write began, ISO 8601 UTC
    pid_namespace: str = ""  # empty: unknown, so never judged from here

    @classmethod
    def current(cls) -> Writer:
        return cls(
            host=socket.gethostname(),
            boot=_boot_id(),
            pid=os.getpid(),
            process_started=_process_started(os.getpid()) or 0.0,
            started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            pid_namespace=_pid_namespace(),
        )

    @classmethod
    def from_dict(cls, items: dict[str, Any]) -> Writer:
        return cls(
            host=str(items["host"]), boot=str(items["boot"]), pid=int(items["pid"]),
            process_started=float(items["process_started"]), started=str(items["started"]),
            pid_namespace=str(items.get("pid_namespace", "")),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pids_comparable(self) -> bool:
        """Whether its pid names a process here: same host, same boot, same container."""
        return (
            (self.host, self.boot) == (socket.gethostname(), _boot_id())
            and bool(self.pid_namespace) and self.pid_namespace == _pid_namespace()
        )

    @property
    def is_this_process(self) -> bool:
        return self.pids_comparable and self.pid == os.getpid()

    def is_dead(self) -> bool:
        """True only when certain: a process of this host and container that no longer
        runs (a pid reused since by another process counts as dead). Other hosts and
        containers: never certain."""
        if not self.pids_comparable:
            return False
        started = _process_started(self.pid)
        return started is None or abs(started - self.process_started) > START_TIME_TOLERANCE_S

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}"


@functools.cache
def _boot_id() -> str:
    """This boot of this machine: the kernel's boot id, or the host name elsewhere."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as file:
            return file.read().strip()
    except OSError:
        return f"{socket.gethostname()}@{psutil.boot_time()}"


@functools.cache
def _pid_namespace() -> str:
    """This process's pid namespace (``pid:[<inode>]``); empty where there is none to read."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _process_started(pid: int) -> float | None:
    """The start time of the running process ``pid``; None if none runs (a zombie has
    exited: only its parent has not collected it yet)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
