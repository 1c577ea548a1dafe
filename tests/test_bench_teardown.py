"""``bench --app`` tears its page down without a websocket traceback in its results."""

from __future__ import annotations

import logging

from explorer.bench.app import TEARDOWN_LOGGERS, quiet_teardown


def test_closed_websocket_reports_are_silenced_during_teardown_only(caplog):
    ws = logging.getLogger("bokeh.server.views.ws")
    before = {name: logging.getLogger(name).level for name in TEARDOWN_LOGGERS}
    with caplog.at_level(logging.WARNING):
        with quiet_teardown():
            ws.warning("Failed sending message as connection was closed")
            logging.getLogger("tornado.application").error("WebSocketClosedError")
        assert caplog.records == []
        ws.warning("after the teardown")
    assert [r.getMessage() for r in caplog.records] == ["after the teardown"]
    assert {name: logging.getLogger(name).level for name in TEARDOWN_LOGGERS} == before
