"""Quiet teardown of the page bench: the server's reports of a websocket the browser closed."""

from __future__ import annotations

import contextlib
import logging

#: loggers that report a closed websocket while the page is being torn down
TEARDOWN_LOGGERS = (
    "bokeh.server.views.ws",
    "tornado.application",
    "tornado.general",
    "tornado.websocket",
    "asyncio",
)


@contextlib.contextmanager
def quiet_teardown():
    """Silence the server's reports of writing to a websocket the browser has closed.

    Closing the browser while the page still refreshes makes the server fail to send the
    next update ("Failed sending message as connection was closed", or a tornado
    ``WebSocketClosedError`` traceback), which landed in the middle of the bench's results
    (issue 12). That is expected at the end of a bench, so those loggers are raised to
    CRITICAL from the browser's close until the server has stopped, then restored."""
    loggers = [logging.getLogger(name) for name in TEARDOWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
