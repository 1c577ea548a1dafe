"""The run's buttons (start, pause, resume, step once, stop, reset) and the refresh slider.

Each button calls ``command(name)``; the page runs the command of that name and refreshes
soon after so that its effect shows at once.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

COMMANDS = ("start", "pause", "resume", "step", "stop", "reset")
LABELS = {"step": "step once"}
COLORS = {"start": "primary", "stop": "warning"}


class RunControls(pn.viewable.Viewer):
    """Two rows of buttons and the refresh-period slider (bound to the page's ``period``)."""

    def __init__(self, command: Callable[[str], None], period, **params) -> None:
        super().__init__(**params)
        self.buttons = {
            name: pn.widgets.Button(label=LABELS.get(name, name), color=COLORS.get(name, "default"))
            for name in COMMANDS
        }
        for name, button in self.buttons.items():
            button.on_click(lambda e, name=name: command(name))
        self.period_slider = pn.widgets.IntSlider.from_param(
            period, step=50, label="refresh every (ms, at least)"
        )
        #: the slider with its tooltip (the page shows it below the knobs)
        self.period_row = pn.Row(
            self.period_slider,
            pn.widgets.TooltipIcon(value=period.doc),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        b = self.buttons
        return pn.Column(
            pn.Row(b["start"], b["pause"], b["resume"]),
            pn.Row(b["step"], b["stop"], b["reset"]),
            sizing_mode="stretch_width",
        )
