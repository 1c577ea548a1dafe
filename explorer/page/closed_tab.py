"""A closed tab's session ends seconds after its websocket closes, not Bokeh's 15 s later.

Bokeh counts a session as unused from its creation, or from its websocket's last close, and
discards it ``unused_session_lifetime`` (15 s) later, at the next ``check_unused_sessions``
tick; only then do ``on_session_destroyed`` callbacks (the page's trainer close) run. That
one lifetime covers two waits: a page still loading has no websocket yet (on a busy machine
that took more than 5 s, and a shorter lifetime lost the page's session), and a page whose
websocket dropped may reconnect (BokehJS tries at once, then after 2, 4, 8 and 16 s, where
the page allows it: ``pn.config.reconnect``, off in Panel, on for this page).

Here the second wait is shortened alone: when a page's websocket closes (Bokeh's
``ConnectionLost`` on the server's document), a timeout callback ``grace_s`` later (at once
where the page does not reconnect) asks Bokeh to expire the session if no websocket has come
back (``ServerSession.request_expiration``). Bokeh then discards it at its next check (every
second with ``explorer serve``'s options, explorer/cli/serve.py; `panel serve` needs
``--check-unused-sessions 1000`` for the same), and the page's ``on_session_destroyed``
callbacks run. A page that never connected keeps the full lifetime.

Panel's default (``pn.config.reconnect`` False) tells BokehJS never to reconnect, and then
there is no grace. The served page turns reconnecting on (explorer/page/reconnect.py, which
also mends two BokehJS 3.9.2 defects that broke it), so a closed tab's trainer goes about
``RECONNECT_GRACE_S`` + 1 s after its websocket closes.
"""

from __future__ import annotations

#: seconds a page's session waits for its websocket to come back before it ends: BokehJS
#: reconnects at once, and again 2 s later
RECONNECT_GRACE_S = 3.0


def end_with_its_tab(doc, grace_s: float = RECONNECT_GRACE_S) -> bool:
    """Expire ``doc``'s server session ``grace_s`` after its websocket closes unless a
    websocket has reconnected by then; False where ``doc`` has no server session."""
    context = getattr(doc, "session_context", None)
    if context is None or not hasattr(context, "session"):
        return False

    def expire_if_unused() -> None:
        session = context.session
        if session is not None and not session.destroyed and session.connection_count == 0:
            session.request_expiration()

    def lost(event) -> None:
        # Panel's default (``pn.config.reconnect`` False) tells BokehJS not to reconnect:
        # then nothing can come back, and nothing is waited for
        wait = grace_s if doc.config.reconnect_session else 0.0
        doc.add_timeout_callback(expire_if_unused, int(wait * 1000))

    doc.on_event("connection_lost", lost)
    return True
