"""Progress of a headless run: a tqdm bar on a terminal, a summary line every few seconds
otherwise (a log file or a pipe must not collect one bar redraw per step)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Report ``update(record)`` calls of a run of ``total`` steps to ``stream``.

    On a terminal (``stream.isatty()``) a tqdm bar, redrawn in place; otherwise one line
    ``step 120/500 (24%) loss 0.412 sizes [12, 9] 31.5 steps/s`` at most every ``interval``
    seconds, and one at the end.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.interval, self.clock = int(total), float(interval), clock
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._start = self._last = clock()
        self._record: dict | None = None
        self._bar = None
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="step", dynamic_ncols=True, file=self.stream)

    def update(self, record: dict) -> None:
        self.done += 1
        self._record = record
        if self._bar is not None:
            self._bar.update(1)
            if self.done % 25 == 0:
                self._bar.set_postfix(loss=f"{record['loss']:.3f}", sizes=record["sizes"])
            return
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self._line(now)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            return
        self._line(self.clock())

    def _line(self, now: float) -> None:
        rate = self.done / max(now - self._start, 1e-9)
        text = f"step {self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f}%)"
        if self._record is not None:
            text += f" loss {self._record['loss']:.3f} sizes {self._record['sizes']}"
        print(f"{text} {rate:.1f} steps/s", file=self.stream, flush=True)
