"""The background trainer in a child process: :class:`TrainerProcess`, the same commands and
records as :class:`~explorer.runner.TrainerThread`, without sharing the web server's GIL.

Why: with the trainer on a thread of the server's process, every refresh of the page (the
drain, Bokeh's serialisation, the messages the browser sends back) holds the GIL the trainer
needs between its torch calls. ``python -m explorer bench --app`` measured about half of
the page's cost to training as the trainer thread asleep waiting for it. In a child process
the trainer waits for nobody's GIL; the server's Python only unpickles the records.

How: the child (``spawn``: a fresh interpreter, safe with torch and CUDA) runs a
``TrainerThread``'s command loop on its main thread, fed by a multiprocessing queue; its
records come back through a pipe of our own whose writing end only the child holds (a feeder
thread there sends them in batches, :class:`~explorer.outbox.Outbox`, so the trainer never
waits for this side), and a reader thread here moves them to ``out`` and keeps ``state``,
``message`` and a small ``trainer`` stand-in (device, step count) current.
Knob changes are sent as a "knobs" command as they happen, so the child's trainer reads
them at its next step as it would on a thread. A capture (snapshot) runs in the child
between two steps; the History, which lives here, is attached when it comes back. While it
is the only trainer running, its compute thread has cores of its own and this process's
threads the others (:mod:`explorer.cores`, a "cores" command).

A dying child: the pipe ends when the child does, however it ends, even in the middle of
a record (kill -9 while writing leaves half a record, and then end-of-file, because no other
process holds the writing end), so the reader thread ends too. When the child exits without
being asked (kill -9, out of memory), the page gets an "error" state record
"trainer exited (signal 9)" at once, pending captures fail at once, and the runner counts
as dead, so the next start builds a new one. A child whose parent dies exits too (it waits
on the parent's sentinel). Nothing here joins or waits on the caller's thread unless asked
(``close(wait=True)``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
from concurrent.futures import Future
from multiprocessing.connection import wait as wait_for_handles
from types import SimpleNamespace
from typing import Any, cast

from explorer.config import RunConfig, resolve_device
from explorer.cores import PLANNER, place_trainer, release
from explorer.knobs import Knobs, knob_names, switch_names
from explorer.outbox import Outbox
from explorer.runner import COMMANDS as THREAD_COMMANDS
from explorer.runner import RunnerCommands, TrainerThread, fold_status

log = logging.getLogger(__name__)

COMMANDS = (*THREAD_COMMANDS, "knobs", "cores")


class _ChildRunner(TrainerThread):
    """The loop inside the child: two more commands, "knobs" and a capture by id."""

    commands = COMMANDS

    def _handle(self, command: str, kwargs: dict) -> None:
        if command == "knobs":
            self.knobs.param.update(**kwargs["values"])
        elif command == "cores":
            place_trainer(kwargs["trainer"], kwargs["helpers"])
        elif command == "capture":
            if self.trainer is None:
                self.out.put(
                    {
                        "kind": "_capture",
                        "id": kwargs["id"],
                        "error": "nothing to save yet: start a run first",
                    }
                )
                return
            try:
                from explorer.snapshot import capture

                self.out.put(
                    {"kind": "_capture", "id": kwargs["id"], "data": capture(self.trainer)}
                )
            except Exception as exc:  # a failed capture must not end the run
                log.exception("snapshot capture failed")
                self.out.put({"kind": "_capture", "id": kwargs["id"], "error": str(exc)})
        elif command == "adopt":
            from explorer.trainer import Trainer

            config, state = kwargs["config"], kwargs["state"]
            try:
                trainer = Trainer.from_state(config, state, knobs=self.knobs)
            except Exception as exc:  # a snapshot that does not fit: say so, keep the loop
                log.exception("could not resume a snapshot")
                self._set_state("error", f"could not resume: {exc}")
                return
            super()._handle("adopt", {"trainer": trainer})
        else:
            super()._handle(command, kwargs)


def _exit_with_parent() -> None:
    """In the child: exit at once when the parent process dies (its sentinel fires)."""
    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for_handles([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(config, knob_values, dataset, max_steps, threads, commands, records) -> None:
    # started from a server thread placed on the page's cores: every core until the server's
    # planner says otherwise (left there, a second tab's trainer fought the server for them)
    release()
    _exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which closes us
    runner = _ChildRunner(
        config, Knobs(**knob_values), dataset, max_steps, threads=threads, start=False
    )
    outbox = Outbox(records)
    runner._commands = commands
    runner.out = cast(queue.Queue, outbox)  # the child's runner only puts into ``out``
    try:
        runner._loop()
    finally:
        outbox.close()
    _exit_now()  # a close was asked: the loop ended without an exception


def _exit_now() -> None:
    """In the child, after a close was asked and every record sent: exit without the
    interpreter's teardown (torch's and every module's), which took 1.5-5.8 s of a closed
    tab's 16-19 s at load 6-7, against 0.25-0.46 s this way. Nothing in the child needs it:
    its records are sent and its pipe closed (``Outbox.close``), it reads the command queue
    and never writes to it, and the parent's resource tracker owns the queue's locks."""
    import sys

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing to keep
            stream.flush()
    os._exit(0)


def exit_message(exitcode: int | None) -> str:
    """'trainer exited (signal 9)' / 'trainer exited (code 1)'."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"trainer exited (signal {-exitcode}, {name})"
    return f"trainer exited (code {exitcode})"


class TrainerProcess(RunnerCommands):
    """The commands and records of a :class:`~explorer.runner.TrainerThread`, with the
    trainer in a child process (it satisfies :class:`~explorer.runner.Runner`).

    ``trainer`` is a stand-in with ``device`` and ``step_count`` (None while no run is
    built); the model itself lives in the child. ``status()`` is folded from the records.
    """

    commands = COMMANDS

    def __init__(
        self,
        config: RunConfig,
        knobs: Knobs | None = None,
        dataset=None,
        max_steps: int | None = None,
        name: str = "trainer",
        threads: int | None = None,
    ) -> None:
        super().__init__(config, knobs, dataset, max_steps, threads)
        self._exited = False
        self._lock = threading.Lock()
        self._futures: dict[int, tuple[Future, Any]] = {}  # (future, History or None)
        self._ids = itertools.count()
        ctx = mp.get_context("spawn")
        self._commands = ctx.Queue()
        # records: a pipe whose writing end only the child keeps, so it ends with the child
        self._records, records_writer = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=_child_main,
            name=name,
            daemon=True,
            args=(
                config,
                self.knobs.values(),
                dataset,
                max_steps,
                threads,
                self._commands,
                records_writer,
            ),
        )
        self._process.start()
        records_writer.close()  # the child has its own copy now
        self._watcher = self.knobs.param.watch(self._on_knobs, knob_names() + switch_names())
        self._thread = threading.Thread(target=self._read, name=f"{name}-records", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    # -- commands ------------------------------------------------------------------------
    def send(self, command: str, **kwargs) -> None:
        if command not in self.commands:
            raise ValueError(f"unknown command '{command}'; accepted: {', '.join(self.commands)}")
        if self._closed:
            raise RuntimeError("this trainer process is closed; build a new one")
        if self._exited:
            raise RuntimeError(f"{self.message}; press start for a new run")
        self._commands.put((command, kwargs))

    def reset(self, config: RunConfig | None = None, dataset=None) -> None:
        self.send("reset", config=config, dataset=dataset)
        if config is not None:
            self.config = config

    def _on_knobs(self, *events) -> None:
        if not self._closed and not self._exited:
            self.send("knobs", values={e.name: e.new for e in events})

    def capture(self, history=None) -> Future:
        """Snapshot data taken in the child between two steps; ``history`` (here) attached.
        Fails at once when the child is gone."""
        future: Future = Future()
        with self._lock:
            if self._exited or self._closed:
                future.set_exception(
                    RuntimeError(self.message if self._exited else "this trainer process is closed")
                )
                return future
            request = next(self._ids)
            self._futures[request] = (future, history)
        self.send("capture", id=request)
        return future

    def adopt(self, trainer) -> None:
        """Continue from ``trainer`` (restored here from a snapshot) in the child, paused."""
        self.send("adopt", config=trainer.config, state=trainer.capture_state())
        self.config = trainer.config

    def close(self, timeout: float = 10.0, wait: bool = True) -> None:
        """Ask the child to stop and exit. With ``wait`` join it (killing it after
        ``timeout`` s); without, a daemon thread does that, so an event loop never waits."""
        if not self._closed:
            self.knobs.param.unwatch(self._watcher)
            self._closed = True
            self._place(None)
            if not self._exited:
                self._commands.put(("close", {}))
        if wait:
            self._finish(timeout)
        else:
            threading.Thread(
                target=self._finish, args=(timeout,), daemon=True, name="trainer-close"
            ).start()

    def _finish(self, timeout: float) -> None:
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._thread.join(timeout)
        # the commands queue's feeder thread ends only when the queue is closed (or garbage
        # collected, which anything still holding this runner prevents): one thread per
        # page ever served stayed behind (scripts/soak.py)
        self._commands.close()
        feeder = getattr(self._commands, "_thread", None)  # multiprocessing's, private
        if feeder is not None:
            feeder.join(timeout)

    @property
    def alive(self) -> bool:
        return self._process.is_alive() and not self._closed and not self._exited

    @property
    def trainer(self):
        s = self._status
        if s.device is None:
            return None
        return SimpleNamespace(device=resolve_device(s.device), step_count=s.step)

    # -- records from the child ------------------------------------------------------------
    def _read(self) -> None:
        """Move the child's records to ``out`` until the pipe ends, which it does when the
        child exits, asked or not, even half-way through a record; then report the exit."""
        while True:
            try:
                batch = self._records.recv()
            except (EOFError, OSError):  # the child is gone (OSError: mid-record)
                break
            except Exception:  # one batch that cannot be unpickled here: skip it
                log.exception("records from the trainer could not be read")
                continue
            for record in batch if isinstance(batch, list) else [batch]:
                self._take(record)
        self._records.close()
        self._process.join(5)  # the pipe ends as the child dies; reap it for its exit code
        self._on_exit(self._process.exitcode)

    def _take(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "_capture":
            self._answer(record)
            return
        self._status = fold_status(self._status, record, self.config)
        if kind == "state":
            self.state, self.message = record["state"], record.get("message", "")
            self._place(self.state == "running")
        self.out.put(record)

    def _place(self, running: bool | None) -> None:
        """Tell the server's core planner (None: this trainer is gone); a failure there is
        logged and never ends the reader."""
        try:
            if running is None or self._closed or self._exited:  # a late record: gone
                PLANNER.leave(self)
            else:
                PLANNER.running(self, running)
        except Exception:
            log.exception("core placement failed")

    def _on_exit(self, exitcode: int | None) -> None:
        self._place(None)
        if self._closed:
            self._fail_pending("this trainer process is closed")
            return
        message = exit_message(exitcode)
        log.error("%s (pid %s)", message, self._process.pid)
        self._exited = True
        self.state, self.message = "error", message
        record = {"kind": "state", "state": "error", "message": message, "step": self._status.step}
        self._status = fold_status(self._status, record)
        self.out.put(record)
        self._fail_pending(message)

    def _fail_pending(self, message: str) -> None:
        with self._lock:
            pending, self._futures = self._futures, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(RuntimeError(message))

    def _answer(self, record: dict) -> None:
        with self._lock:
            future, history = self._futures.pop(record["id"], (None, None))
        if future is None:
            return
        if "error" in record:
            future.set_exception(RuntimeError(record["error"]))
            return
        from explorer.snapshot.data import attach_history

        data = record["data"]
        future.set_result(attach_history(data, history) if history is not None else data)


__all__ = ["TrainerProcess", "exit_message"]
