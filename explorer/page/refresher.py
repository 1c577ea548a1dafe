"""The page's periodic refresh: drain the trainer's records into the plots every ``period``
ms, stretched by :func:`~explorer.page.refresh.refresh_period` when the server's fixed cost per
refresh or the browser's drawing would take too much, held while the browser has not drawn the
last refresh, and a burst of quick refreshes after a button so that its effect shows at once.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import panel as pn
import param

from explorer.page.ack import RefreshAck
from explorer.page.refresh import FLOOR_MS, BrowserAck, CostModel, refresh_period

#: period (ms) of the quick refreshes after a command, and how long they go on at most (s)
SOON_MS = 50
SOON_FOR_S = 3.0
#: the callback's period is changed only when the rule moves it by more than this (ms)
HYSTERESIS_MS = 25


class Refresher(param.Parameterized):
    """Runs ``drain()`` on the session's event loop (a periodic callback of the server
    session or of a notebook kernel). ``drain`` returns how many records it moved.

    ``ack`` is the component the browser acknowledges refreshes through (put it on the
    page); ``log`` keeps (start, server CPU ms, wall ms, records) of the recent refreshes
    that moved records."""

    period = param.Integer(
        default=FLOOR_MS,
        bounds=(50, 10_000),
        doc="Shortest time (ms) between two refreshes of the plots. The page stretches it "
        "when a refresh's fixed server cost would take more than 4% of a core (UI_SHARE) or "
        "the browser takes long to draw one (BROWSER_SHARE), and holds a refresh while the "
        "browser has not drawn the last one; a longer period leaves more of the machine to "
        "training.",
    )

    def __init__(self, drain: Callable[[], object], **params) -> None:
        super().__init__(**params)
        self.drain = drain
        self.callback = None
        self.costs = CostModel()
        self.browser = BrowserAck()
        self.ack = RefreshAck()
        self.ack.param.watch(self._on_ack, "acked")
        self.log: deque[tuple[float, float, float, int]] = deque(maxlen=10_000)
        self.clock = time.monotonic
        #: runs a callable on the session's event loop soon (set by ``start``)
        self.next_tick: Callable[[Callable[[], None]], object] | None = None
        self._burst = None
        self._held = False  # a tick found the browser behind
        self._last: float | None = None  # when the last refresh went out

    @property
    def running(self) -> bool:
        return self.callback is not None

    def start(self) -> None:
        """Start the periodic refresh (once)."""
        if self.callback is None:
            self.callback = background_callback(self.tick, self.period)
            doc = pn.state.curdoc
            if doc is not None and doc.session_context is not None:
                self.next_tick = doc.add_next_tick_callback

    def stop(self) -> None:
        for cb in (self.callback, self._burst):
            if cb is not None:
                cb.stop()
        self.callback = self._burst = None

    def refresh(self) -> int:
        """One refresh unless the browser is behind: drain, and number it for the browser
        in the same message; returns how many records it moved."""
        if self.browser.behind(self.clock()):
            self._held = True
            return 0
        self._held = False
        t0, c0 = time.perf_counter(), time.thread_time()
        with pn.io.hold():
            moved = self.drain()
            n = moved if isinstance(moved, int) else 0
            if n:
                self._last = self.clock()
                self.ack.send(self.browser.sent(self._last))
        if n:
            cpu_ms = (time.thread_time() - c0) * 1e3
            self.costs.add(n, cpu_ms)
            self.log.append((t0, cpu_ms, (time.perf_counter() - t0) * 1e3, n))
        return n

    def _on_ack(self, event) -> None:
        """The browser drew a refresh: a tick held back meanwhile runs now (at the next
        turn of the event loop), not a whole period later."""
        self.browser.acked(event.new, self.clock())
        if self._held and self.callback is not None and self.next_tick is not None:
            self._held = False
            self.next_tick(lambda: self.tick())  # looked up now: a wrapper of tick applies

    def tick(self) -> None:
        """One refresh, then the period from the fixed cost per refresh and the browser's
        acknowledgement time (:func:`~explorer.page.refresh.refresh_period`). A tick within
        half a period of the last refresh (one run early when the browser caught up) waits
        for the next."""
        callback = self.callback  # once: ``stop`` may clear it meanwhile (a closing app)
        if callback is None:
            self.refresh()
            return
        last = self._last
        if last is None or self.clock() - last >= callback.period / 2e3:
            self.refresh()
        period = refresh_period(
            self.period,
            self.costs.fixed_ms,
            self.browser.latency_ms,
            current_ms=callback.period,
        )
        # back to the floor at once when the rule asks for it: within the hysteresis the page
        # would otherwise stay at up to floor + 25 ms after any burst of costly refreshes
        # (248-264 ms seen in the bench against issue 17's 250)
        if abs(period - callback.period) > HYSTERESIS_MS or (
            period == self.period != callback.period
        ):
            callback.period = period

    def soon(self, done: Callable[[], bool], within_s: float = SOON_FOR_S) -> None:
        """Refresh every ``SOON_MS`` (while the browser keeps up) until ``done()`` holds (the
        command's effect reached the page) or ``within_s`` passed; a running burst is
        replaced."""
        if self.callback is None:
            return
        if self._burst is not None:
            self._burst.stop()
        deadline = time.monotonic() + within_s

        def quick() -> None:
            self.refresh()
            if (done() or time.monotonic() > deadline) and self._burst is not None:
                self._burst.stop()
                self._burst = None

        self._burst = background_callback(quick, SOON_MS)


def background_callback(callback: Callable[[], None], period: int):
    """``pn.state.add_periodic_callback(callback, period)``, run as background work.

    Panel counts every periodic callback as a busy event (two updates of ``pn.state``'s busy
    counter and their watchers around each call: ~1-2 ms of the server's event loop a refresh
    here, outside the refresh itself, issue 17) for a busy indicator this page does not show
    (``busy_indicator=None``). Panel's own ``PeriodicCallback(background=True)`` skips that;
    ``pn.state.add_periodic_callback`` has no such argument, so it is set on the callback
    before it starts (and it is registered with the session as usual, so it stops with it).
    Its log lines (one per call) are off too."""
    cb = pn.state.add_periodic_callback(callback, period=period, start=False)
    cb._background = True  # Panel 1.9: PeriodicCallback.__init__(background=...)
    cb.log = False
    cb.start()
    return cb
