"""How the page runs what a user asks for: a bad value becomes a message, never a broken
session, and slow parsing (uploads) happens off the server's event loop.

One :class:`Actions` per page, given the page's ``notify(text, level)``; the components that
act on user input (:class:`~explorer.page.RunForm`, :class:`~explorer.page.SnapshotPanel`, the
buttons) run their handlers through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import panel as pn

log = logging.getLogger("explorer.app")

#: errors that carry a message meant for the user (anything else is logged with traceback)
EXPECTED = (ValueError, TypeError, RuntimeError, OSError)


def one_line(exc: BaseException, limit: int) -> str:
    """An exception's text on one line, at most ``limit`` characters."""
    return " ".join(str(exc).split())[:limit]


class Actions:
    """Runs page actions safely; ``notify(text, level="error")`` shows a message."""

    def __init__(self, notify: Callable[..., None]) -> None:
        self.notify = notify

    def safe(self, fn: Callable, *args):
        """``fn(*args)``; a failure becomes a message and the result None."""
        try:
            return fn(*args)
        except EXPECTED as exc:
            self.notify(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - anything else still gets a message
            log.exception("page action %s failed", getattr(fn, "__name__", fn))
            self.notify(f"unexpected {type(exc).__name__}: {one_line(exc, 300)}")
            return None

    def in_background(self, parse: Callable, apply: Callable, *args) -> None:
        """``parse(*args)`` on a worker thread (an upload's parsing never blocks the
        server's event loop), then ``apply(result)`` back on the page's event loop; both
        safe. Without a served document (tests, a notebook cell) both run here, in order."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            result = self.safe(parse, *args)
            if result is not None:
                self.safe(apply, result)
            return

        def work() -> None:
            try:
                result = parse(*args)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                if not isinstance(exc, EXPECTED):
                    log.exception("page action %s failed", getattr(parse, "__name__", parse))
                text = one_line(exc, 400)
                doc.add_next_tick_callback(lambda: self.notify(text))
                return
            if result is not None:
                doc.add_next_tick_callback(lambda: self.safe(apply, result))

        threading.Thread(target=work, daemon=True, name="upload-parse").start()
