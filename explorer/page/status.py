"""The page's status line, progress bar and message alert."""

from __future__ import annotations

import re

import panel as pn


class StatusBar(pn.viewable.Viewer):
    """What the run is doing (one markdown line and a progress bar) and the last message."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.line = pn.pane.Markdown("", sizing_mode="stretch_width", name="status_line")
        self.progress = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", height=12, bar_color="primary"
        )

    def show(self, line: str, percent: int | None) -> None:
        """The status line, and how far the run is (None: an open-ended run, no bar)."""
        self.line.object = line
        self.progress.visible = percent is not None
        if percent is not None:
            self.progress.value = percent

    def pending(self, word: str) -> None:
        """Say at once what a button set under way ("pausing"): the line's state word is
        replaced until the next status."""
        self.line.object = re.sub(r"^\*\*[^*]*\*\*", f"**{word}…**", self.line.object or "**")

    def message(self, text: str, level: str = "error") -> None:
        """Show ``text`` in the alert, and as a toast when served."""
        self.alert.object = text
        self.alert.alert_type = "danger" if level == "error" else "info"
        self.alert.visible = True
        notifications = pn.state.notifications
        if notifications is not None:
            getattr(notifications, "error" if level == "error" else "info")(text, duration=8000)

    def clear(self) -> None:
        self.alert.visible = False

    def __panel__(self):
        return pn.Column(self.line, self.progress, self.alert, sizing_mode="stretch_width")
