"""The page's status line, progress bar and message alert."""

from __future__ import annotations

import html
import re
import time

import panel as pn
import param

from explorer.page.curdoc_guard import served_here

#: while a run trains, its line (the step count) is redrawn at most this often (s): the
#: Markdown pane cost the server 1-2 ms of each refresh to render and send (issue 17)
TRAINING_EVERY_S = 1.0


def line_html(text: str) -> str:
    """The status line (markdown: its state word in ``**bold**``, then plain text) as the
    HTML the Markdown pane drew it as, without its parser: ``<p><strong>running</strong>
    · step 5</p>``."""
    head = _head(text)
    rest = html.escape(text[len(head) :], quote=False)
    bold = f"<strong>{html.escape(head[2:-2], quote=False)}</strong>" if head else ""
    return f"<p>{bold}{rest}</p>"


class StatusBar(pn.viewable.Viewer):
    """What the run is doing (one markdown line and a progress bar) and the last message."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.alert = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        #: the line as drawn (HTML, ``line_html``); ``text`` holds it as markdown
        self.line = pn.pane.HTML("<p></p>", sizing_mode="stretch_width", name="status_line")
        self.text = ""
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
        self._draw(line)
        self.progress.visible = percent is not None
        if percent is not None:
            self.progress.value = percent

    def pending(self, word: str) -> None:
        """Say at once what a button set under way ("pausing"): the line's state word is
        replaced until the next status."""
        self._draw(re.sub(r"^\*\*[^*]*\*\*", f"**{word}…**", self.text or "**"))
        self._head = None  # the next status shows at once

    def _draw(self, text: str) -> None:
        """Show ``text`` (markdown) as HTML. On a served page the HTML is written on the
        pane's rendered Bokeh model (its ``text``, escaped as Panel's HTML pane escapes it):
        the same change, in the same message, as ``self.line.object = ...``, without
        Panel's param-to-model trip (the Markdown pane cost ~1.0 ms a line, an HTML pane
        through its param 0.6-0.7). The param is kept in step without its watchers.
        Elsewhere (a notebook; another thread than the session's) it is the plain param
        change (as ``RefreshAck.send``), which Panel schedules on the session."""
        self.text = text
        drawn = line_html(text)
        doc = served_here()  # not from another thread (explorer/page/curdoc_guard.py)
        if doc is None:
            self.line.object = drawn
            return
        with param.parameterized.discard_events(self.line):
            self.line.object = drawn
        escaped = html.escape(drawn)
        for model, _ in list(self.line._models.values()):
            if model.document is doc:
                model.text = escaped

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
