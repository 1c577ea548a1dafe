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


def test_a_callback_that_raises_is_logged_on_one_line_with_its_name(caplog):
    """An exception out of a server callback is logged (one line): some never reach Bokeh's
    or Tornado's logs (Panel's ``unlocked`` swallows a RuntimeError from its ``unhold``)."""

    def refresh_plots():
        raise ValueError("a bad\nvalue")

    with caplog.at_level("ERROR", logger="explorer.server"), pytest.raises(ValueError):
        invoke_with_curdoc(Document(), refresh_plots)
    [record] = [r for r in caplog.records if r.name == "explorer.server"]
    line = record.getMessage()
    assert "\n" not in line
    assert line.startswith("server callback refresh_plots (tests/test_curdoc_guard.py) raised")
    assert "ValueError: a bad value" in line
    assert "test_curdoc_guard.py" in line and "refresh_plots" in line


def test_the_log_line_names_the_project_frame_that_ran_a_failing_change(caplog):
    """A Bokeh model changed where its session's lock is not held raises inside Bokeh's own
    change callback: the line names this project's frame that made the change."""
    from bokeh.models import Div

    doc = Document()
    div = Div(text="a")
    doc.add_root(div)

    def session_patched(event):  # what Bokeh's ServerSession does outside its lock
        raise RuntimeError("_pending_writes should be non-None when we have a document lock")

    doc.on_change(session_patched)
    with caplog.at_level("ERROR", logger="explorer.server"), pytest.raises(RuntimeError):
        div.text = "b"  # this test stands for the project's code here
    [record] = [r for r in caplog.records if r.name == "explorer.server"]
    line = record.getMessage()
    assert "server callback session_patched" in line and "_pending_writes" in line
    # the caller is a test here, not explorer/: no project frame is made up
    assert "innermost project frame" not in line


def test_a_status_line_drawn_off_the_servers_thread_is_not_written_on_the_model():
    """Off the event loop (a test's or a notebook's thread), ``pn.state.curdoc`` answers
    whichever session the loop runs a callback for at that instant (Bokeh's process-wide
    curdoc list): the status line and the refresh number must not write that session's
    models from here (outside its lock: Bokeh's "_pending_writes should be non-None"), but
    leave the change to Panel, which schedules it on the session's own thread."""
    import threading
    import weakref

    from panel.io.state import state

    from explorer.page import RefreshAck, StatusBar

    class Context:  # a served document's session context (the direct path needs one)
        id = "session"

    bar, ack, doc, context = StatusBar(), RefreshAck(), Document(), Context()
    doc.add_root(bar.line.get_root(doc))
    doc.add_root(ack.get_root(doc))
    doc._session_context = weakref.ref(context)
    line_model = next(m for m, _ in bar.line._models.values() if m.document is doc)
    ack_model = next(m for m, _ in ack._models.values() if m.document is doc)
    loop_thread = threading.Thread(target=lambda: None)
    loop_thread.start()
    loop_thread.join()
    state._thread_id_[doc] = loop_thread.ident  # the document belongs to the loop's thread
    changes: list = []
    doc.on_change(changes.append)
    bokeh_doc._PATCHED_CURDOCS.append(weakref.ref(doc))  # the loop runs one of its callbacks
    try:
        assert state.curdoc is doc  # what this thread sees meanwhile
        bar.show("**running** · step 7", None)
        ack.send(5)
    finally:
        bokeh_doc._PATCHED_CURDOCS.pop()
        doc._session_context = None
    assert bar.text == "**running** · step 7" and ack.sent == 5  # the params are set
    assert "running" not in line_model.text and ack_model.data.sent != 5  # the models not
    assert not [c for c in changes if hasattr(c, "attr")]  # no model change from here


class LockedSession:
    """What a served document's ServerSession does with a change: Bokeh raises unless the
    session's lock is held (``_pending_writes`` is a list only then)."""

    def __init__(self, locked: bool) -> None:
        self._pending_writes = [] if locked else None
        self._subscribed_connections: set = set()

    def _document_patched(self, event) -> None:
        if self._pending_writes is None:
            raise RuntimeError("_pending_writes should be non-None when we have a document lock")
        self._pending_writes.append(event)


def test_a_status_line_drawn_in_a_callback_without_the_lock_leaves_it_to_panel():
    """Panel runs a button's click without the session's lock when browser changes are
    waiting (the refresh acknowledgements, several a second): the status line's "starting…"
    written on its model raised Bokeh's "_pending_writes should be non-None" (a soak, session
    8). Under the lock (a periodic refresh) the line is still written on the model."""
    import threading
    import weakref

    from panel.io.state import set_curdoc, state

    from explorer.page import StatusBar

    for locked in (False, True):
        bar, doc = StatusBar(), Document()
        doc.add_root(bar.line.get_root(doc))
        session = LockedSession(locked)

        class Context:
            id = "session"

        Context.session = session
        context = Context()
        doc._session_context = weakref.ref(context)
        doc.callbacks.on_change_dispatch_to(session)
        state._connected[doc] = state._loaded[doc] = True
        state._thread_id_[doc] = threading.get_ident()  # built on this thread, as served
        try:
            with set_curdoc(doc):
                bar.show("**idle** · step 0", None)
                bar.pending("starting")
        finally:
            doc._session_context = None
        assert bar.text == "**starting…** · step 0"
        patched = [e for e in session._pending_writes or [] if getattr(e, "attr", "") == "text"]
        assert len(patched) == (2 if locked else 0)  # direct only under the lock
