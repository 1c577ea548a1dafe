"""Bokeh's curdoc() after a server callback that raised (explorer/page/curdoc_guard.py)."""

from __future__ import annotations

import bokeh.io.doc as bokeh_doc
import pytest
from bokeh.document import Document
from bokeh.document.callbacks import invoke_with_curdoc
from bokeh.io import curdoc

import explorer.page  # noqa: F401  (installs the guard, as serving the page does)


def test_a_callback_that_raises_leaves_no_curdoc_behind():
    """Bokeh pops its patched curdoc only when the callback returns: one exception in any
    callback made a closed page's document everyone's curdoc() (eleven tests of a CI run)."""
    before = list(bokeh_doc._PATCHED_CURDOCS)
    doc = Document()
    seen = []

    def callback():
        seen.append(curdoc())
        raise RuntimeError("a failing callback")

    with pytest.raises(RuntimeError, match="a failing callback"):
        invoke_with_curdoc(doc, callback)
    assert seen == [doc]  # the callback ran with its document as curdoc()
    assert before == bokeh_doc._PATCHED_CURDOCS and curdoc() is not doc


def test_a_callback_that_returns_sees_its_document_and_gives_it_back():
    doc = Document()
    assert invoke_with_curdoc(doc, curdoc) is doc
    assert curdoc() is not doc
