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

:data:`FRESH_RECEIVER_JS` mends a second BokehJS 3.9.2 defect that reconnecting meets:
``ClientConnection`` builds its message ``Receiver`` once, in its constructor, and keeps it
across sockets. A socket that closes in the middle of a message (a PATCH-DOC arrives as
3 + 2 x buffers websocket frames; this page's carry up to ~30 buffers) leaves the receiver
part-way through it, and the new socket's first frames are then read as the rest of the old
message: "Closing connection: Error: Expected text fragment but received binary fragment" /
"No msgid in header", at every message after, on a socket BokehJS then fails to close (its
close code 1002 is refused by the browser). Seen in 2 of 3 reconnects on a quiet machine
(session 8); the frames the server wrote on the new socket, logged one by one, parse as
whole messages. The patch gives each new socket a new receiver (``_on_open``).

:func:`serve_settings` (called by ``explorer serve``, ``panel serve apps/explorer.py`` and
the tests' server) turns reconnecting on (``pn.config.reconnect``, off in Panel: a dropped
websocket left the page dead until reloaded), with the inline re-pull installed; the
receiver patch runs in every page (:class:`explorer.page.ack.RefreshAck`). A closed tab's
session then waits ``closed_tab.RECONNECT_GRACE_S`` (3 s) for its websocket to come back
before its trainer is closed.
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


#: whether the served page reconnects a dropped websocket (see the module's docstring)
RECONNECT = True

#: gives each new websocket of the page's BokehJS connection a new message receiver;
#: returns whether it is installed (feature-detected: false where BokehJS differs)
FRESH_RECEIVER_JS = r"""
function fresh_receiver() {
  const B = window.Bokeh
  if (B == null || typeof B.require !== "function") return false
  if (B.__fresh_receiver) return true
  try {
    const { ClientConnection } = B.require("client/connection")
    const { Receiver } = B.require("protocol/receiver")
    const on_open = ClientConnection.prototype._on_open
    if (typeof on_open !== "function" || typeof Receiver !== "function") return false
    ClientConnection.prototype._on_open = function (...args) {
      this._receiver = new Receiver()  // not the half-read message of the socket that closed
      return on_open.apply(this, args)
    }
    B.__fresh_receiver = true
  } catch (e) {
    return false
  }
  return true
}
"""


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
