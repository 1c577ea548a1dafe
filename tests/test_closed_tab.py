"""A closed tab's session ends seconds after its websocket closes (explorer/page/closed_tab.py):
its trainer process and reader thread went 16-19 s after the close at load 7, once past 45 s
on CI (Bokeh's 15 s unused-session lifetime, then the child's interpreter teardown). A
websocket that comes back within the grace keeps its session."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from bokeh.document import Document
from bokeh.events import ConnectionLost
from conftest import open_page, process_alive, wait_for

from explorer.page.closed_tab import RECONNECT_GRACE_S, end_with_its_tab

#: a closed tab's trainer and reader must be gone within this many seconds: far below the
#: 16 s the old path took at best; about 1-2 s expected (a check, the child's exit)
GONE_WITHIN_S = 10.0


class FakeSession:
    """What ``end_with_its_tab`` reads of Bokeh's ServerSession."""

    def __init__(self) -> None:
        self.connection_count, self.destroyed, self.expired = 1, False, False

    def request_expiration(self) -> None:
        self.expired = True


def _doc(reconnect: bool):
    doc = Document()
    doc.config.reconnect_session = reconnect
    session = FakeSession()
    context = SimpleNamespace(session=session)
    doc._session_context = lambda: context  # Bokeh keeps a weak reference
    timeouts: list = []
    doc.add_timeout_callback = lambda cb, ms: timeouts.append((cb, ms))  # type: ignore[method-assign]
    assert end_with_its_tab(doc)
    return doc, session, timeouts


def test_a_websocket_back_within_the_grace_keeps_the_session():
    doc, session, timeouts = _doc(reconnect=True)
    session.connection_count = 0
    doc.callbacks.trigger_event(ConnectionLost())
    [(expire, ms)] = timeouts
    assert ms == RECONNECT_GRACE_S * 1000
    session.connection_count = 1  # BokehJS reconnected
    expire()
    assert not session.expired
    session.connection_count = 0
    doc.callbacks.trigger_event(ConnectionLost())
    timeouts[-1][0]()
    assert session.expired


def test_a_page_that_does_not_reconnect_expires_at_once():
    doc, session, timeouts = _doc(reconnect=False)  # Panel's default
    session.connection_count = 0
    doc.callbacks.trigger_event(ConnectionLost())
    [(expire, ms)] = timeouts
    assert ms == 0
    expire()
    assert session.expired


def test_no_server_session_no_hook():
    assert not end_with_its_tab(Document())
    assert not end_with_its_tab(None)


@pytest.mark.browser
def test_a_closed_tabs_trainer_and_reader_go_within_seconds(serve):
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig

    config = RunConfig(hidden=[10, 10], eval_every=20)
    url, apps = serve(lambda: ExplorerApp(config, trainer_in="process", max_steps=0))
    console: list = []
    with open_page(url, console) as page:
        page.get_by_role("button", name="start").click()
        app = apps[-1]
        wait_for(lambda: app.history.last("step"), what="the first step", page=page)
        pid, reader = app.runner.pid, app.runner._thread
        assert process_alive(pid) and reader.is_alive()
        page.close()
        closed = time.monotonic()
        wait_for(
            lambda: not process_alive(pid) and not reader.is_alive(),
            timeout=GONE_WITHIN_S,
            what=f"the closed tab's trainer and reader to go within {GONE_WITHIN_S:.0f} s",
        )
        print(f"the closed tab's trainer and reader went {time.monotonic() - closed:.1f} s after")
    errors = [t for kind, t in console if kind == "error"]
    assert not errors, errors[:3]
