"""The replay scrubber: a recorded run (a snapshot opened without training) shown as it was
at any step.

:class:`ReplayScrubber` holds the slider and rebuilds the plots from the History's records up
to the chosen step; the page passes its :class:`~explorer.page.Dashboard`, its
:class:`~explorer.session.Session` and two callbacks (hand records to the plots; refresh the
status line).
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param

from explorer.page.dashboard import Dashboard
from explorer.session import Session, history_records


def last_step(records: dict[str, list[dict]]) -> int:
    """The last step of a recorded run (0 when it has none)."""
    return max((r["step"] for r in records.get("step", ())), default=0)


class ReplayScrubber(pn.viewable.Viewer):
    """A slider over a recorded run's steps; releasing it shows the run at that step."""

    step = param.Integer(default=0, bounds=(0, None), doc="the step the plots show")

    def __init__(
        self,
        session: Session,
        dashboard: Dashboard,
        show: Callable[[dict[str, list[dict]]], object],
        refresh: Callable[[], None],
        safe: Callable = lambda fn, *args: fn(*args),
        **params,
    ) -> None:
        self.records = history_records(session.history)
        last = last_step(self.records)
        super().__init__(**{"step": last, **params})
        self.session, self.dashboard = session, dashboard
        self.show, self.refresh = show, refresh
        self.slider = pn.widgets.IntSlider(
            label="replay: show up to step",
            start=0,
            end=max(last, 1),
            value=last,
            sizing_mode="stretch_width",
        )
        self.slider.param.watch(lambda e: safe(self.scrub_to, e.new), "value_throttled")

    @property
    def last(self) -> int:
        """The recorded run's last step (what its progress bar measures against)."""
        return max(last_step(self.records), 1)

    def scrub_to(self, step: int) -> None:
        """Show the recorded run as it was at ``step``: the plots are rebuilt from its
        records up to that step."""
        records = {
            kind: [r for r in rows if r.get("step", 0) <= step]
            for kind, rows in self.records.items()
        }
        records = {k: v for k, v in records.items() if v}
        self.step = step
        with pn.io.hold():
            self.dashboard.clear()
            self.session.last.update(step=None, eval=None)
            self.session.note(records)
            self.show(records)
            self.dashboard.settle_step_axis()
            if records.get("units"):  # the throttled scatter shows its table at once
                self.dashboard.show_units_at_once(records["units"][-1])
            self.refresh()

    def __panel__(self):
        c = self.session.config
        return pn.Column(
            pn.pane.Markdown(
                f"### replay of a recorded run\n{c.method} on {c.dataset}, hidden {c.hidden}"
            ),
            self.slider,
            sizing_mode="stretch_width",
        )
