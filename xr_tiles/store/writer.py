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
    """A process on a host. ``boot`` tells hosts apart that share a name (containers)."""

    host: str
    boot: str
    pid: int
    process_started: float
    started: str  # when the write began, ISO 8601 UTC

    @classmethod
    def current(cls) -> Writer:
        return cls(
            host=socket.gethostname(),
            boot=_boot_id(),
            pid=os.getpid(),
            process_started=_process_started(os.getpid()) or 0.0,
            started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def from_dict(cls, items: dict[str, Any]) -> Writer:
        return cls(
            host=str(items["host"]), boot=str(items["boot"]), pid=int(items["pid"]),
            process_started=float(items["process_started"]), started=str(items["started"]),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def on_this_host(self) -> bool:
        return self.boot == _boot_id()

    @property
    def is_this_process(self) -> bool:
        return self.on_this_host and self.pid == os.getpid()

    def is_dead(self) -> bool:
        """True only when certain: a process of this host that no longer runs (a pid
        reused since by another process counts as dead). Other hosts: never certain."""
        if not self.on_this_host:
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
