"""The browser's acknowledgement of each refresh: a tiny component with no visible content.
It also makes the page's BokehJS leaner per refresh (:mod:`explorer.page.lean_bokeh`,
:mod:`explorer.page.lean_data`, :mod:`explorer.page.lean_paint`) and
its reconnects sound (:mod:`explorer.page.reconnect`).

The page sets ``sent`` (the refresh's number) in the same message as the refresh's plot
updates; the browser applies the message in order, so when it sees the new ``sent`` it has
applied the plot updates, and once it has drawn the next frame (``requestAnimationFrame``,
then a task after the paint) it writes the number back to ``acked``, which Panel syncs to the
server. A browser behind with its drawing answers late, and a tab in the background (no frames)
not at all: :class:`~explorer.page.refresh.BrowserAck` holds the next refresh meanwhile.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

from explorer.page.curdoc_guard import served_here
from explorer.page.lean_bokeh import LEAN_BOKEH_JS
from explorer.page.lean_data import LEAN_DATA_JS
from explorer.page.lean_paint import LEAN_PAINT_JS
from explorer.page.reconnect import FRESH_RECEIVER_JS


class RefreshAck(JSComponent):
    """Carries the refresh number to the browser and its acknowledgement back."""

    sent = param.Integer(default=0, bounds=(0, None), doc="the number of the last refresh sent")
    acked = param.Integer(
        default=0, bounds=(0, None), doc="the number of the last refresh the browser has drawn"
    )

    _esm = (
        LEAN_BOKEH_JS
        + LEAN_DATA_JS
        + LEAN_PAINT_JS
        + FRESH_RECEIVER_JS
        + """
export function render({ model }) {
  lean_bokeh()  // the page's BokehJS without its per-paint style rewrites (lean_bokeh.py)
  lean_data()  // a stream sets each renderer's data once (lean_data.py)
  lean_paint()  // a scatter's markers set their style only when it changes (lean_paint.py)
  fresh_receiver()  // a reconnected websocket starts a new message (reconnect.py)
  model.on('sent', () => {
    const seq = model.sent
    requestAnimationFrame(() => setTimeout(() => { model.acked = seq }, 0))
  })
  const el = document.createElement('span')
  el.style.display = 'none'
  return el
}
"""
    )

    def __init__(self, **params) -> None:
        params.setdefault("height", 0)
        params.setdefault("width", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)

    def send(self, seq: int) -> None:
        """Set ``sent`` to ``seq`` for the browser (a refresh's number, once per refresh).

        On a served page the change is made on the component's rendered Bokeh model (its
        ``data.sent``): the same change, in the same message, as ``self.sent = seq``, whose
        trip through Panel's param-to-model machinery cost 0.6-1.8 ms of every refresh here
        (issue 17; 0.3 ms this way). The param is kept in step without its watchers.
        Elsewhere (a notebook, whose comm Panel pushes to; another thread than the
        session's) it is the plain param change, which Panel schedules on the session."""
        doc = served_here()  # not from another thread (explorer/page/curdoc_guard.py)
        if doc is None:
            self.sent = seq
            return
        with param.parameterized.discard_events(self):
            self.sent = seq
        for model, _ in list(self._models.values()):
            if model.document is doc:
                model.data.sent = seq
