"""A page whose websocket dropped gets its whole document again, binary arrays included.

When a served page's websocket closes (a laptop's sleep, a proxy's idle timeout) and the page
allows it (``pn.config.reconnect``), BokehJS opens a new websocket to the same session and
asks for the document again (``PULL-DOC``), to replace its own with what the server holds
now. Bokeh's ``PULL-DOC-REPLY`` carries NumPy arrays (the plots' ColumnDataSources) as binary
buffers beside the JSON, and BokehJS 3.9.2 drops those buffers when it replaces an existing
document (``ClientConnection._repull_session_doc`` calls ``replace_with_json(doc_json)``
without them): "Failed to repull session Error: buffer for id=p1900 not found" in the
browser's console, and the page goes on from a document that missed every change made while
it was away. Upstream: bokeh/bokeh#15347, fixed by bokeh/bokeh#15348 (after 3.9.2).

:func:`install` makes the reply carry its arrays inline (base64 in the JSON, Bokeh's own
``Document.to_json(deferred=False)``), which BokehJS reads with or without buffers: the
first pull and a repull alike. The cost is the reply's size (base64: 4/3 of the bytes),
once per page load or reconnect. Feature-detected: without Bokeh's ``pull_doc_reply``
message class of this shape, nothing is replaced.

:func:`serve_settings` (called by ``explorer serve``, ``panel serve apps/explorer.py`` and
the tests' server) turns reconnecting on, with the fix installed, only where
:data:`RECONNECT` says so, and it is **off**. With the fix the re-pull works, but on a quiet
machine 2 of 3 reconnects (a browser test that closed the page's websocket, session 8,
commit 37c921f; 2 of 6 under load) then failed on the new websocket, at every retry, with
BokehJS's "Closing connection: Error: Expected text fragment but received binary fragment"
(and "No msgid in header"): the frames of two messages arrive interleaved on the new
socket. Their writer was not found: Bokeh's ``Message.send`` holds the connection's
``write_lock`` for a whole message, and Panel's ``unlocked()`` / ``_dispatch_msgs`` write
their frames in one go when that lock is free. A page that reconnects into a garbled stream
is worse than one that says its connection is gone, so the page keeps Panel's default (no
reconnect) until that is found; a closed tab's trainer then goes about a second after its
websocket closes (:mod:`explorer.page.closed_tab`).
"""

from __future__ import annotations

import importlib
from typing import Any

#: the module (``bokeh.protocol.messages`` exports its class under the module's name)
_reply = importlib.import_module("bokeh.protocol.messages.pull_doc_reply")


def _create_inline(cls, request_id, document, **metadata: Any):
    """``pull_doc_reply.create`` with the document's arrays inline instead of as buffers."""
    header = cls.create_header(request_id=request_id)
    content = _reply.PullDoc(doc=document.to_json(deferred=False))
    return cls(header, metadata, content)


#: whether the served page reconnects a dropped websocket: off, see the module's docstring
RECONNECT = False


def serve_settings(reconnect: bool = RECONNECT) -> None:
    """Where ``reconnect``, the served page reconnects a dropped websocket
    (``pn.config.reconnect``), with its whole document pulled again (:func:`install`); else
    Panel's default. Call before the server starts."""
    import panel as pn

    if reconnect:
        install()
    pn.config.reconnect = bool(reconnect)


def install() -> bool:
    """Send pulled documents with inline arrays; False where Bokeh's message differs."""
    cls = getattr(_reply, "pull_doc_reply", None)
    if cls is None or not hasattr(_reply, "PullDoc") or not hasattr(cls, "create_header"):
        return False
    cls.create = classmethod(_create_inline)
    return True
