"""The page's periodic refresh: drain the trainer's records into the plots every ``period``
ms, stretched by :func:`~explorer.page.refresh.refresh_period` when refreshes get expensive,
and a burst of quick refreshes after a button so that its effect shows at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import panel as pn
import param

from explorer.page.refresh import refresh_period, smoothed_cost

#: period (ms) of the quick refreshes after a command, and how long they go on at most (s)
SOON_MS = 50
SOON_FOR_S = 3.0


class Refresher(param.Parameterized):
    """Runs ``drain()`` on the session's event loop (a periodic callback of the server
    session or of a notebook kernel)."""

    period = param.Integer(
        default=200,
        bounds=(50, 10_000),
        doc="Shortest time (ms) between two refreshes of the plots. The page stretches it "
        "when refreshes get expensive, so that they take at most 2.5% of the wall clock "
        "(UI_SHARE); a longer period leaves more of the machine to training.",
    )

    def __init__(self, drain: Callable[[], object], **params) -> None:
        super().__init__(**params)
        self.drain = drain
        self.callback = None
        #: running estimate of one refresh's cost (ms)
        self.cost_ms: float | None = None
        self._burst = None

    @property
    def running(self) -> bool:
        return self.callback is not None

    def start(self) -> None:
        """Start the periodic refresh (once)."""
        if self.callback is None:
            self.callback = pn.state.add_periodic_callback(self.tick, period=self.period)

    def stop(self) -> None:
        for cb in (self.callback, self._burst):
            if cb is not None:
                cb.stop()
        self.callback = self._burst = None

    def tick(self) -> None:
        """One refresh; then stretch the period so the page's Python time stays within
        ``UI_SHARE`` of the wall clock (refresh_period)."""
        t0 = time.perf_counter()
        self.drain()
        self.cost_ms = smoothed_cost(self.cost_ms, (time.perf_counter() - t0) * 1e3)
        period = refresh_period(self.period, self.cost_ms)
        if self.callback is not None and abs(period - self.callback.period) > 50:
            self.callback.period = period

    def soon(self, done: Callable[[], bool], within_s: float = SOON_FOR_S) -> None:
        """Refresh every ``SOON_MS`` until ``done()`` holds (the command's effect reached
        the page) or ``within_s`` passed; a running burst is replaced."""
        if self.callback is None:
            return
        if self._burst is not None:
            self._burst.stop()
        deadline = time.monotonic() + within_s

        def quick() -> None:
            self.drain()
            if (done() or time.monotonic() > deadline) and self._burst is not None:
                self._burst.stop()
                self._burst = None

        self._burst = pn.state.add_periodic_callback(quick, period=SOON_MS)
