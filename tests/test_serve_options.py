"""The served page's Bokeh server options reach Bokeh (``pn.serve`` passes names it does not
know on unread: ``check_unused_sessions=1000`` left a closed tab's trainer running up to 32 s)."""

from __future__ import annotations

import panel as pn
from conftest import free_port

from explorer.cli.serve import SERVER_OPTIONS, WEBSOCKET_MAX_BYTES


def test_a_closed_tabs_session_is_reaped_within_sixteen_seconds():
    from panel.io.state import state

    server = pn.serve(
        lambda: pn.pane.Markdown("x"),
        port=free_port(),
        address="127.0.0.1",
        threaded=True,
        show=False,
        **SERVER_OPTIONS,
    )
    try:
        from conftest import poll

        poll(lambda: server.server_id in state._servers, 60, what="the server")
        bokeh_server = state._servers[server.server_id][0]
        tornado = bokeh_server._tornado
        assert tornado._check_unused_sessions_milliseconds == 1000
        assert tornado._unused_session_lifetime_milliseconds == 15_000
        assert tornado.settings["websocket_max_message_size"] == WEBSOCKET_MAX_BYTES
    finally:
        server.stop()
