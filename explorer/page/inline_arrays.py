"""A refresh in three websocket frames: the plots' new rows travel inside the message's JSON.

Bokeh sends a document change (``PATCH-DOC``) as three text frames (header, metadata,
content) and, for each NumPy array in it, two more: the buffer's id and its bytes. A refresh
of the live page streams about 19 small arrays (a few hundred rows of a dozen columns), so
it went out as ~41 websocket frames (measured, issue 17): 41 ``socket.send`` calls and
tornado writes in the server (a cProfile of its event loop: 41 writes a refresh, the
largest item after the refresh itself), and 41 frames for Chromium's network service to
pass to the page and for BokehJS's receiver to assemble.

:func:`install` makes ``PATCH-DOC`` carry every array of at most :data:`INLINE_BYTES` inline,
base64 in the JSON: Bokeh's own non-deferred encoding (``Serializer(deferred=False)``, what
``Document.to_json(deferred=False)`` and :mod:`explorer.page.reconnect` use: gzip, then
base64), here with the gzip stored rather than compressed (:data:`INLINE_GZIP_LEVEL`), which
BokehJS decodes to the same typed arrays. A refresh is then three frames. The cost is the size
(base64: 4/3 of the bytes, a few KiB a refresh); a larger array (a replaced course of a long
run, a big table) still goes as a binary buffer. Installed once per process when
:mod:`explorer.page` is imported (every server of this page), feature-detected: without
Bokeh's ``patch_doc`` module using a ``Serializer`` of this shape nothing is changed.
"""

from __future__ import annotations

import base64
import gzip
import importlib
from typing import Any

from bokeh.core.serialization import Serializer

#: an array of at most this many bytes goes inline in a PATCH-DOC (larger: a binary frame)
INLINE_BYTES = 64 * 1024
#: gzip level of an inline array (BokehJS gunzips every inline buffer): 0 stores the bytes.
#: Bokeh's own level (2) took 2.4 ms for 64 KiB of floats, which barely compress; the
#: bursts after a held or slow refresh carry such arrays, and their cost held the refresh
#: period at its cap for seconds at the start of a run (session 9: fixed cost 156 ms)
INLINE_GZIP_LEVEL = 0

_patch_doc = importlib.import_module("bokeh.protocol.messages.patch_doc")


class InlineSerializer(Serializer):
    """Bokeh's ``Serializer`` that keeps small byte buffers inline (base64) when deferred."""

    def _encode_bytes(self, obj: Any) -> Any:
        view = memoryview(obj)
        if self.__dict__.get("_deferred") and view.nbytes <= INLINE_BYTES:
            packed = gzip.compress(view.tobytes(), compresslevel=INLINE_GZIP_LEVEL, mtime=1)
            return {"type": "bytes", "data": base64.b64encode(packed).decode("ascii")}
        return super()._encode_bytes(obj)


def install() -> bool:
    """Send ``PATCH-DOC`` messages with small arrays inline; False where Bokeh differs."""
    current = getattr(_patch_doc, "Serializer", None)
    if current is InlineSerializer:
        return True
    if current is not Serializer or not callable(getattr(Serializer, "_encode_bytes", None)):
        return False
    if "_deferred" not in getattr(Serializer, "__annotations__", {}):
        return False
    setattr(_patch_doc, "Serializer", InlineSerializer)  # noqa: B010 (a module's global)
    return True
