"""Bokeh's ``curdoc()`` put back after a callback that raised.

Bokeh runs each server-side callback inside ``bokeh.io.doc.patch_curdoc(doc)``, which pushes
the session's document on a process-wide list and pops it after the callback, but not when
the callback raises (Bokeh 3.9.2: no ``try``/``finally``). One exception in any callback
(ours, Panel's, Bokeh's own "_pending_writes should be non-None" seen in a soak) then leaves
that session's document as ``curdoc()`` for every thread of the process, for as long as the
document lives: ``pn.state.curdoc`` outside any session answers another session's document,
so code that asks "which page am I on?" (the status line, the refresh acknowledgement, an
upload's check of the client) writes to or reads the wrong page. On the test server it made
eleven later tests of the suite see a closed page's document (a clean-clone CI run).

:func:`install` replaces ``patch_curdoc`` with the same context manager, popping in a
``finally``. Bokeh's ``invoke_with_curdoc`` imports ``patch_curdoc`` from its module at each
call, so the replacement takes effect everywhere. Feature-detected: with a Bokeh without the
list (another implementation), nothing is replaced.

Every exception that leaves a callback is also logged, one line on the ``explorer.server``
logger (:func:`describe`): the callback, where it raised and the innermost frame of this
project on the way. Bokeh and Tornado log some of these with a traceback, but not all: an
exception from a change made outside the session's lock goes back to whoever made the
change (Panel's ``unlocked`` catches such a ``RuntimeError`` and says nothing).
"""

from __future__ import annotations

import logging
import traceback
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import bokeh.io.doc as bokeh_doc
import panel as pn

log = logging.getLogger("explorer.server")
#: frames of Bokeh's callback plumbing, skipped when naming the callback that raised
_PLUMBING = (
    "contextlib.py",
    "bokeh/document/callbacks.py",
    "bokeh/io/doc.py",
    "explorer/page/curdoc_guard.py",
)


@contextmanager
def patch_curdoc(doc) -> Iterator[None]:
    """``bokeh.io.doc.patch_curdoc``, exception-safe: ``doc`` is ``curdoc()`` in the body."""
    patched = bokeh_doc._PATCHED_CURDOCS
    patched.append(weakref.ref(doc))
    del doc
    try:
        yield
    except Exception as exc:
        log.error("%s", describe(exc, traceback.extract_stack()[:-1]))
        raise
    finally:
        patched.pop()


def describe(exc: BaseException, caller: traceback.StackSummary | list) -> str:
    """One line on an exception that left a server callback: the callback (the first frame
    below Bokeh's plumbing), the exception, where it was raised and the innermost frame of
    this project (``explorer/``) in the callback or in ``caller``, the stack that ran it
    (a model changed from a thread is such a caller)."""
    below = [f for f in traceback.extract_tb(exc.__traceback__) if not _plumbing(f)]
    callback = _name(below[0]) if below else "?"
    text = " ".join(str(exc).split())[:200]
    line = f"server callback {callback} raised {type(exc).__name__}: {text}"
    if below:
        line += f" (at {_where(below[-1])})"
    ours = [f for f in [*caller, *below] if _ours(f) and not _plumbing(f)]
    if ours:
        line += f"; innermost project frame {_where(ours[-1])}"
    return line


def _plumbing(frame: traceback.FrameSummary) -> bool:
    return frame.filename.replace("\\", "/").endswith(_PLUMBING)


def _ours(frame: traceback.FrameSummary) -> bool:
    return "/explorer/" in frame.filename.replace("\\", "/")


def _name(frame: traceback.FrameSummary) -> str:
    return f"{frame.name} ({_short(frame.filename)})"


def _where(frame: traceback.FrameSummary) -> str:
    return f"{_short(frame.filename)}:{frame.lineno} {frame.name}"


def _short(filename: str) -> str:
    """A file's path from its package on (``bokeh/server/session.py``)."""
    parts = filename.replace("\\", "/").split("/")
    for root in ("site-packages", "explorer", "tests", "scripts"):
        if root in parts[:-1]:
            i = len(parts) - 1 - parts[::-1].index(root)
            return "/".join(parts[i + 1 :] if root == "site-packages" else parts[i:])
    return "/".join(parts[-2:])


def served_here():
    """The served document whose callback runs now, on this thread, under its session's
    lock; None elsewhere (no server session, a notebook, another thread, or a callback
    that runs without the lock).

    Only there may a Bokeh model of the page be written directly: a change elsewhere
    reaches the live session's change callback outside its lock, and Bokeh raises
    "_pending_writes should be non-None when we have a document lock" there (inside
    ``patch_curdoc``: before this module's guard, the leaked curdoc). Two places did that:

    - Panel runs a button's click without the document lock (``async_execute`` marks its
      coroutine ``nolock``) whenever the document is not "unblocked" at the click or has
      browser changes waiting (``Reactive._server_event``): the status line's "starting…"
      drawn from the start button then raised (seen in a soak, 12:19 UTC session 8, logged
      by :func:`describe` with ``explorer/page/status.py _draw``). Panel's own changes
      there go through ``unlocked()``, which writes them to the websocket itself.
    - On a thread other than the server's event loop (a test's, a notebook's) ``pn.state.
      curdoc`` answers Bokeh's ``curdoc()``, the last document on the process-wide list
      above: whichever session's callback the loop runs at that instant.

    The test is Panel's own before a direct write (``state._unblocked``: the current
    document, the thread it was built on, its websocket connected) and Bokeh's own lock
    flag (``ServerSession._pending_writes``, set only while the lock is held). Elsewhere
    the callers (the status line, the refresh acknowledgement) make the plain param change,
    which Panel dispatches safely."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None or not pn.state._unblocked(doc):
        return None
    session = getattr(doc.session_context, "session", None)
    if session is not None and getattr(session, "_pending_writes", ()) is None:
        return None  # a callback without the session's lock
    return doc


def install() -> bool:
    """Use :func:`patch_curdoc` for Bokeh's callbacks; False where Bokeh has no such list."""
    if not isinstance(getattr(bokeh_doc, "_PATCHED_CURDOCS", None), list):
        return False
    bokeh_doc.patch_curdoc = patch_curdoc
    return True
