"""The page's status line, progress bar and message alert."""

from __future__ import annotations

import re
import time

import panel as pn

#: while a run trains, its line (the step count) is redrawn at most this often (s): the
#: Markdown pane costs the server 1-2 ms of each refresh to render and send (issue 17)
TRAINING_EVERY_S = 1.0


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
        self.clock = time.monotonic
        self._head: str | None = None  # the state word shown, and since when
        self._shown_at = 0.0

    def show(self, line: str, percent: int | None, training: bool = False) -> None:
        """The status line, and how far the run is (None: an open-ended run, no bar). With
        ``training``, a line with the same state word as the one shown is skipped until
        ``TRAINING_EVERY_S`` passed (a new state always shows at once)."""
        head = _head(line)
        now = self.clock()
        if training and head == self._head and now - self._shown_at < TRAINING_EVERY_S:
            return
        self._head, self._shown_at = head, now
        self.line.object = line
        self.progress.visible = percent is not None
        if percent is not None:
            self.progress.value = percent

    def pending(self, word: str) -> None:
        """Say at once what a button set under way ("pausing"): the line's state word is
        replaced until the next status."""
        self.line.object = re.sub(r"^\*\*[^*]*\*\*", f"**{word}…**", self.line.object or "**")
        self._head = None  # the next status shows at once

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


def _head(line: str) -> str:
    """The line's state word (its leading bold part)."""
    found = re.match(r"^\*\*[^*]*\*\*", line)
    return found.group(0) if found else ""
