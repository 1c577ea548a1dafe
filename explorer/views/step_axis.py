"""The live page's step axis: one x range for every plot whose x axis is the training step,
set from the server in coarse steps while the run grows, left alone once the user zooms or
pans, followed again after the plot's Reset.

An auto range (Bokeh's ``DataRange1d``) shared by several plots moves at every refresh, in
the browser: each plot's new data widens it, so every plot on it repaints, and the first plot
drawn in a frame is drawn twice (it painted with the range before a later plot widened it).
On the refreshing page that was about a third of Chromium's plot paints (issue 17). Here the
axis ends at the next multiple of a round step (1, 2 or 5 x 10^k, about an eighth of the steps
so far) past the run's last step: early in a run it moves at most refreshes, later once in
several, and a plot whose own data did not change (the per-unit plots between their 1 s
updates) is not repainted. When the run is not running the axis ends at its last step plus
2%, as the auto range did.

The range is the one model whose start and end the browser sends back (the page keeps every
other range to itself: :func:`explorer.views.base.quiet_ranges`). A start or end from the
browser other than the axis's own is the user's zoom or pan: the axis stops following. The
plots' Reset tool puts a ``Range1d`` back to its ``reset_start``/``reset_end``, which are kept
equal to the followed extent, so the browser then sends that extent and the axis follows
again; the plot's Reset event (sent even when the reset changed nothing in the browser)
resumes it in any case (:meth:`StepAxis.attach`).
"""

from __future__ import annotations

import math

from bokeh.events import Reset
from bokeh.models import Range1d

#: name of the driven step range (the browser sends its start and end back)
STEP_AXIS = "step_axis"
#: the axis's margin past the last step: about this share of the steps so far, rounded
SHARE = 0.125
#: padding on both sides when the axis shows the whole run exactly (as DataRange1d's 2%)
PADDING = 0.02


def round_quantum(value: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return max(m * power for m in (1, 2, 5) if m * power <= value)


def coarse_end(first: float, last: float, share: float = SHARE) -> float:
    """The followed axis's end: the first multiple of ``round_quantum(share * span)`` above
    ``last`` (``span`` = the steps shown so far, at least 8). It stays put while ``last``
    grows within one quantum."""
    quantum = round_quantum(share * max(last - first, 8.0))
    return (math.floor(last / quantum) + 1) * quantum


class StepAxis:
    """The driven step range (``range``) and whether it follows the run."""

    def __init__(self) -> None:
        self.range = Range1d(start=0, end=1, name=STEP_AXIS)
        self.following = True
        self._setting = False
        self._first: float | None = None
        self._last: float | None = None
        self._exact = False
        self.range.on_change("start", self._from_browser)
        self.range.on_change("end", self._from_browser)

    def attach(self, fig) -> None:
        """Follow the run again when ``fig``'s Reset tool is pressed (if it draws on the axis).

        The range's own echo is not enough: a refresh that crosses the user's pan on the wire
        leaves the browser showing the followed extent while the server holds the pan's, so
        the Reset changes nothing in the browser and sends nothing back (a browser test
        flaked on it under load). BokehJS sends the plot's Reset event in any case."""
        if fig.x_range is self.range:
            fig.on_event(Reset, self.resume)

    def resume(self, event=None) -> None:
        """Follow the run again, at once (the plots' Reset)."""
        self.following = True
        self.show(None, None, exact=self._exact)

    def reset(self) -> None:
        """A new run or a cleared page: follow again, from the next steps shown."""
        self.following = True
        self._first = self._last = None

    def show(self, first: float | None, last: float | None, exact: bool = False) -> None:
        """The plots now hold steps ``first``..``last`` (None: unknown, kept): set the axis
        to follow them, in coarse steps, or exactly (``exact``: the run is not running)."""
        if first is not None:
            self._first = first if self._first is None else min(first, self._first)
        if last is not None:
            self._last = last
        self._exact = exact
        if not self.following or self._first is None or self._last is None:
            return
        lo, hi = self._first, max(self._last, self._first + 1)
        if exact:
            pad = PADDING * (hi - lo)
            start, end = lo - pad, hi + pad
        else:
            end = coarse_end(lo, hi)
            start = lo - PADDING * (end - lo)
        self._set(start, end)

    def _set(self, start: float, end: float) -> None:
        r = self.range
        if (r.start, r.end, r.reset_start, r.reset_end) == (start, end, start, end):
            return
        self._setting = True
        try:
            r.update(start=start, end=end, reset_start=start, reset_end=end)
        finally:
            self._setting = False

    def _from_browser(self, attr, old, new) -> None:
        if self._setting:
            return
        r = self.range
        # the Reset tool sets the followed extent (reset_start/reset_end) again
        self.following = (r.start, r.end) == (r.reset_start, r.reset_end)
