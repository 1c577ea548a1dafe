"""Where a served page's trainer runs: cores of its own while it is the only one training.

Why (issue 17, the page's cost to the trainer): on the 2-core bench machine a refreshing page
slowed the trainer's step from ~2.3 to ~2.6 ms; about half of that was the trainer's process
runnable but waiting for a CPU (Linux's schedstat: 0.15-0.18 ms a step refreshing against
0.01 held), the page's threads having taken its core. With the trainer's compute thread on a
core of its own and every other thread of the server on the rest, that wait halved
(0.08-0.11 ms a step, same probe, the browser left free). The browser is the user's and is not
placed: the scheduler still puts some of its work on the trainer's core.

The rule (:func:`plan`): only on Linux (``os.sched_setaffinity``), only for trainers in child
processes (:class:`~explorer.runner_process.TrainerProcess`; a trainer on a thread of the
server shares the server's GIL, so cores would not help it), and only while the running
trainers' torch threads leave at least one core to the rest: one trainer with the default
``TORCH_THREADS`` (cores - 1). Two running trainers on two cores, or a trainer asking for every
core, leave every thread free, so no trainer is ever confined to less than it asked for. The
page gets the lowest-numbered core(s), where interrupts and housekeeping tend to land.
``SIZING_EXPLORER_CORES=off`` in the server's environment turns placement off.

Children started from a placed server inherit its cores: a sweep's local Dask workers widen
their own thread back to every core (:func:`release`) before they train.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

#: environment variable: "off" turns placement off (anything else, or unset: on)
SWITCH = "SIZING_EXPLORER_CORES"
#: environment variable: the cores the server started with, for its children (:func:`release`)
MACHINE = "SIZING_EXPLORER_CORES_MACHINE"


@dataclass(frozen=True)
class Placement:
    """Cores for the trainers' compute threads and for everything else."""

    trainer: frozenset[int]
    page: frozenset[int]


def supported() -> bool:
    return hasattr(os, "sched_setaffinity") and Path("/proc/self/task").is_dir()


def machine() -> frozenset[int]:
    """The cores this process may use (its affinity; every core where that is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return frozenset(os.sched_getaffinity(0))
    return frozenset(range(os.cpu_count() or 1))


def plan(cores: Iterable[int], trainers: int, threads: int) -> Placement | None:
    """The placement for ``trainers`` running trainer processes of ``threads`` torch threads
    each on ``cores``: the highest ``trainers * threads`` cores for them and the others for
    the page, when that leaves the page at least one core; otherwise None (nothing placed)."""
    if trainers < 0 or threads < 1:
        raise ValueError(f"trainers must be >= 0 and threads >= 1, got {trainers}, {threads}")
    ordered = sorted(set(cores))
    wanted = trainers * threads
    if trainers == 0 or wanted > len(ordered) - 1:
        return None
    return Placement(frozenset(ordered[-wanted:]), frozenset(ordered[:-wanted]))


def thread_ids(pid: int | str = "self") -> list[int]:
    """The thread ids of a process (Linux's /proc/PID/task), [] where unreadable."""
    try:
        return [int(p.name) for p in Path(f"/proc/{pid}/task").iterdir()]
    except (OSError, ValueError):
        return []


def pin(tids: Iterable[int], cores: Iterable[int]) -> int:
    """Put each thread on ``cores``; a thread that ended meanwhile is skipped. Returns how
    many were placed."""
    mask = set(cores)
    placed = 0
    for tid in tids:
        try:
            os.sched_setaffinity(tid, mask)
            placed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return placed


def place_trainer(trainer: Iterable[int], helpers: Iterable[int]) -> None:
    """In a trainer process: its main thread (and the torch threads it starts, which inherit
    its cores) on ``trainer``; its Python helper threads (the records feeder, the parent
    watch), which only move records, on ``helpers``."""
    if not supported():
        return
    own = {t.native_id for t in threading.enumerate() if t is not threading.main_thread()}
    pin([tid for tid in thread_ids() if tid in own], helpers)
    pin([tid for tid in thread_ids() if tid not in own], trainer)


def release() -> None:
    """Widen the calling thread (and what it starts) to the cores the first process of this
    tree had (``SIZING_EXPLORER_CORES_MACHINE``, inherited from the server): for work started from a
    placed server that must not stay on the page's cores (a sweep's local workers)."""
    if supported():
        os.sched_setaffinity(0, _inherited_cores())


def _inherited_cores() -> frozenset[int]:
    text = os.environ.get(MACHINE)
    if text is None:  # the first process: record what it has, for its children
        cores = machine()
        os.environ[MACHINE] = ",".join(map(str, sorted(cores)))
        return cores
    try:
        cores = frozenset(int(c) for c in text.split(","))
    except ValueError:
        return machine()
    return cores or machine()


class Placed(Protocol):
    """A trainer the planner can place: it takes a "cores" command."""

    threads: int | None

    def send(self, command: str, **kwargs) -> None: ...


class Planner:
    """The trainer processes of this server and where they and the server's threads run.

    ``running(runner, True/False)`` as their states change and ``leave(runner)`` when they end;
    each change places every known trainer and this process's threads again."""

    def __init__(self, cores: Iterable[int] | None = None, enabled: bool | None = None) -> None:
        self.cores = frozenset(cores) if cores is not None else _inherited_cores()
        if enabled is None:
            enabled = os.environ.get(SWITCH, "").lower() != "off"
        self.enabled = enabled and supported() and len(self.cores) > 1
        self.placement: Placement | None = None
        self._runners: dict[int, tuple[Placed, bool]] = {}
        self._lock = threading.Lock()

    def running(self, runner: Placed, running: bool) -> None:
        with self._lock:
            known = self._runners.get(id(runner))
            if known is not None and known[1] == running:
                return
            self._runners[id(runner)] = (runner, running)
            self._apply()

    def leave(self, runner: Placed) -> None:
        with self._lock:
            if self._runners.pop(id(runner), None) is not None:
                self._apply()

    def _apply(self) -> None:
        if not self.enabled:
            return
        busy = [r for r, on in self._runners.values() if on]
        threads = max((r.threads or 1 for r in busy), default=1)
        placement = plan(self.cores, len(busy), threads)
        self.placement = placement
        everything = sorted(self.cores)
        for runner, on in self._runners.values():
            trainer = placement.trainer if placement and on else everything
            helpers = placement.page if placement and on else everything
            try:
                runner.send("cores", trainer=sorted(trainer), helpers=sorted(helpers))
            except RuntimeError:  # closed or exited meanwhile: its leave() follows
                continue
        pin(thread_ids(), placement.page if placement else everything)
        log.info("cores: %s", placement or "free (no placement)")


#: the server's planner (one per process)
PLANNER = Planner()
