"""Where TINY's growth time goes, on several clocks at once (issue 17's growth-share figures).

A growth step is split into parts (:data:`PARTS`): capture (the forward/backward on the
estimation batch), solve (best update, S and N, eigen-solve, bottleneck), line_search,
surgery (the scratch copy, the moves planned on it, ``apply``) and other (the rest of a due
``propose``). Each part is accumulated on every clock of :class:`PartTimes`: by default the
wall clock (``time.perf_counter``: what the issue's target measures) and the calling thread's
CPU time (``time.thread_time``: what the growth work itself costs, unchanged when other jobs
of a shared machine preempt the run; the bench reports it next to the wall share). Clocks are
injectable, so tests can drive the accounting with clocks they control.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

PARTS = ("capture", "solve", "line_search", "surgery", "other")
#: the default clocks: wall time and the calling thread's CPU time
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.thread_time}


class PartTimes:
    """Cumulative seconds per growth-step part (:data:`PARTS`) on each clock of ``clocks``
    (name -> function returning seconds; default :data:`CLOCKS`). ``seconds[clock][part]``.

    Usage: ``t0 = times.now()`` ... ``times.add("capture", times.since(t0))``; a reading is a
    tuple with one value per clock, in the order of ``clocks``."""

    def __init__(self, clocks: Mapping[str, Callable[[], float]] | None = None) -> None:
        self.clocks = dict(CLOCKS if clocks is None else clocks)
        if not self.clocks:
            raise ValueError("PartTimes needs at least one clock")
        self.seconds = {name: dict.fromkeys(PARTS, 0.0) for name in self.clocks}
        #: growth steps that added no neuron (:meth:`add_empty`) and their seconds per clock
        self.empty_steps = 0
        self.empty = dict.fromkeys(self.clocks, 0.0)

    def now(self) -> tuple[float, ...]:
        """One reading of every clock."""
        return tuple(clock() for clock in self.clocks.values())

    def since(self, start: tuple[float, ...]) -> tuple[float, ...]:
        """Seconds elapsed on each clock since the reading ``start``."""
        return tuple(clock() - s for clock, s in zip(self.clocks.values(), start, strict=True))

    def add(self, part: str, spent: tuple[float, ...]) -> None:
        """Add ``spent`` (one value per clock) to ``part``."""
        if part not in PARTS:
            raise KeyError(f"unknown growth-step part {part!r}; known: {', '.join(PARTS)}")
        for name, s in zip(self.clocks, spent, strict=True):
            self.seconds[name][part] += s

    def add_empty(self, spent: tuple[float, ...]) -> None:
        """Count a growth step that added no neuron, whose whole time ``spent`` (one value
        per clock) is already booked to the parts."""
        self.empty_steps += 1
        for name, s in zip(self.clocks, spent, strict=True):
            self.empty[name] += s

    def totals(self) -> tuple[float, ...]:
        """The sum over the parts, per clock."""
        return tuple(sum(self.seconds[name].values()) for name in self.clocks)


__all__ = ["CLOCKS", "PARTS", "PartTimes"]
