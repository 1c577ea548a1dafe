"""Reconnecting a dropped websocket (explorer/page/reconnect.py): the re-pulled document
carries its arrays inline, and the served page keeps Panel's default (no reconnect) while
reconnects end in interleaved frames (the module's docstring)."""

from __future__ import annotations

import importlib

import numpy as np
from bokeh.document import Document
from bokeh.models import ColumnDataSource

from explorer.page.reconnect import install

reply_module = importlib.import_module("bokeh.protocol.messages.pull_doc_reply")


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


def test_the_served_page_does_not_reconnect_until_the_frames_are_found():
    """A reconnect that garbles the stream is worse than none: off by default, on only when
    asked (and then with the inline re-pull)."""
    import panel as pn

    from explorer.page.reconnect import RECONNECT, serve_settings

    assert RECONNECT is False
    before = pn.config.reconnect
    try:
        serve_settings()
        assert pn.config.reconnect is False
        serve_settings(reconnect=True)
        assert pn.config.reconnect is True
        assert reply_module.pull_doc_reply.create("r", Document()).buffers == []
    finally:
        pn.config.reconnect = before
