"""The trainer child's way out for its records: a queue the training step puts into without
waiting, and a feeder thread that sends what is queued down a pipe in batches
(:class:`Outbox`; the parent's side is :class:`explorer.runner_process.TrainerProcess`)."""

from __future__ import annotations

import logging
import queue
import threading
import time

log = logging.getLogger(__name__)

#: how long the child's feeder gathers records before it sends them as one batch (seconds):
#: a 240 ms page refresh does not see it, and the trainer's ~500 records a second cross in
#: ~50 sends instead of one each
BATCH_S = 0.02


class Outbox:
    """In the child: ``put`` queues a record and a feeder thread sends what is queued down the
    pipe as one list every ``BATCH_S`` at most (as a multiprocessing queue's feeder would, so
    a step never waits for the parent's reader).

    Why batches: one send a record woke the feeder (a futex wake from the trainer's core, an
    interrupt on the page's) and the server's reader for each of ~500 steps a second; while
    the feeder sleeps between batches a ``put`` wakes nobody (issue 17: the page's core is
    where the browser draws)."""

    _END = object()

    def __init__(self, connection, batch_s: float = BATCH_S) -> None:
        self._connection = connection
        self._batch_s = batch_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._feed, name="records-feeder", daemon=True)
        self._thread.start()

    def put(self, record: dict) -> None:
        self._queue.put(record)

    def _feed(self) -> None:
        while True:
            first = self._queue.get()
            if first is not self._END:
                time.sleep(self._batch_s)  # let the batch gather; puts meanwhile wake nobody
            batch, ended = [], False
            item = first
            while True:
                if item is self._END:
                    ended = True
                else:
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch and not self._send(batch):
                return
            if ended:
                return

    def _send(self, batch: list[dict]) -> bool:
        """Send ``batch``; False when the parent is gone."""
        try:
            self._connection.send(batch)
        except OSError:  # the parent is gone: nobody to tell
            return False
        except Exception:  # a record that cannot be pickled: send the others one by one
            for record in batch:
                try:
                    self._connection.send([record])
                except OSError:
                    return False
                except Exception:
                    log.exception("a record of kind %r could not be sent", record.get("kind"))
        return True

    def close(self) -> None:
        """Send what is queued, then close the pipe (the parent's reader sees its end)."""
        self._queue.put(self._END)
        self._thread.join()
        self._connection.close()
