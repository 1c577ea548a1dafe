"""``bench --app`` tears its page down without a websocket traceback in its results."""

from __future__ import annotations

import logging

from explorer.bench.app import TEARDOWN_LOGGERS, quiet_teardown


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_closed_websocket_reports_are_silenced_during_teardown_only():
    # a handler on each logger itself (Panel may stop bokeh's loggers propagating to root)
    loggers = [logging.getLogger(name) for name in ("bokeh.server.views.ws", "tornado.application")]
    collect = Collect()
    levels = [(logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:  # whatever an earlier test or import left on them or a parent
        logger.addHandler(collect)
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    before = {name: logging.getLogger(name).level for name in TEARDOWN_LOGGERS}
    try:
        with quiet_teardown():
            loggers[0].warning("Failed sending message as connection was closed")
            loggers[1].error("WebSocketClosedError")
        assert collect.messages == []
        loggers[0].warning("after the teardown")
        assert collect.messages == ["after the teardown"]
        assert {name: logging.getLogger(name).level for name in TEARDOWN_LOGGERS} == before
    finally:
        for logger, (level, disabled) in zip(loggers, levels, strict=True):
            logger.removeHandler(collect)
            logger.setLevel(level)
            logger.disabled = disabled
