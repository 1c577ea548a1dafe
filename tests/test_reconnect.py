"""A served page whose websocket drops reconnects and goes on updating
(explorer/page/reconnect.py): the re-pulled document carries its arrays inline, and the new
socket starts with a new message receiver even when the old one closed mid-message."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from conftest import open_page, wait_for

from explorer.page.reconnect import install

reply_module = importlib.import_module("bokeh.protocol.messages.pull_doc_reply")

#: the page's WebSocket objects, kept so that a test can close one; with ``__close_mid`` set,
#: a socket closes right after the header frame of a document patch (BokehJS has read that
#: frame and waits for the metadata, content and any buffers), as a drop in the middle of a
#: message does. (A refresh's arrays travel inline, explorer/page/inline_arrays.py: its
#: patch is 3 frames, header, metadata and content; it had 2 more per array.)
SOCKETS = """
window.__sockets = [];
window.__close_mid = false;
const _WS = window.WebSocket;
window.WebSocket = class extends _WS {
  constructor(...args) {
    super(...args);
    window.__sockets.push(this);
    this.addEventListener("message", (event) => {
      if (window.__close_mid && typeof event.data === "string"
          && /"msgtype": *"PATCH-DOC"/.test(event.data)) {
        window.__close_mid = false;
        this.close();
      }
    });
  }
};
"""
LAST_STEP = """() => { const m = Bokeh.documents[0].get_model_by_name('loss_steps');
  const s = m ? Array.from(m.data['step'] ?? []) : []; return s.length ? Math.max(...s) : 0; }"""


def test_a_pulled_document_carries_its_arrays_inline():
    """BokehJS 3.9.2 replaces a re-pulled document without the reply's binary buffers
    ("buffer for id=... not found"): the reply must need none, and read back the same."""
    assert install()
    doc = Document()
    steps = np.arange(1000, dtype=np.float64) * 0.5
    doc.add_root(ColumnDataSource({"step": steps, "loss": np.exp(-steps)}, name="src"))
    msg = reply_module.pull_doc_reply.create("req-1", doc)
    assert msg.buffers == []
    again = Document.from_json(msg.content["doc"])  # no buffers given, as BokehJS's repull
    data = again.get_model_by_name("src").data
    np.testing.assert_array_equal(np.asarray(data["step"]), steps)
    np.testing.assert_array_equal(np.asarray(data["loss"]), np.exp(-steps))


@pytest.mark.browser
def test_a_dropped_websocket_reconnects_and_the_page_keeps_updating(serve):
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig

    config = RunConfig(method="static", hidden=(10, 10))
    url, apps = serve(lambda: ExplorerApp(config, trainer_in="process", max_steps=0))
    console: list[tuple[str, str]] = []
    with open_page(url, console, init_script=SOCKETS) as page:
        page.get_by_role("button", name="start").click(timeout=180_000)
        wait_for(lambda: page.evaluate(LAST_STEP) > 0, timeout=240, what="steps", page=page)
        assert page.evaluate("() => Bokeh.__fresh_receiver === true")
        page.evaluate("() => { window.__close_mid = true }")  # a drop mid-message
        wait_for(lambda: page.evaluate("() => !window.__close_mid"), what="a closed socket")
        wait_for(
            lambda: any("Reconnected websocket" in t for _, t in console),
            what=lambda: f"BokehJS to reconnect; console: {[t[:120] for _, t in console[-8:]]}",
            page=page,
        )
        server_step = apps[0].history.last("step")["step"]
        # the page shows steps taken after it reconnected: its document is live again
        wait_for(
            lambda: page.evaluate(LAST_STEP) > server_step,
            timeout=120,
            what=lambda: f"steps past {server_step} (page at {page.evaluate(LAST_STEP)})",
            page=page,
        )
        assert len(apps) == 1  # the same session, not a new page
        assert apps[0].runner._process.is_alive()
    errors = [t for kind, t in console if kind == "error" or "repull" in t.lower()]
    assert errors == []


def test_the_served_page_reconnects():
    """``explorer serve`` and the tests' server turn reconnecting on, with the inline re-pull."""
    import panel as pn

    from explorer.page.reconnect import RECONNECT, serve_settings

    assert RECONNECT is True
    before = pn.config.reconnect
    try:
        serve_settings(reconnect=False)
        assert pn.config.reconnect is False
        serve_settings()
        assert pn.config.reconnect is True
        assert reply_module.pull_doc_reply.create("r", Document()).buffers == []
    finally:
        pn.config.reconnect = before
