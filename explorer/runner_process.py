"""The background trainer in a child process: :class:`TrainerProcess`, the same commands and
records as :class:`~explorer.runner.TrainerThread`, without sharing the web server's GIL.

Why: with the trainer on a thread of the server's process, every refresh of the page (the
drain, Bokeh's serialisation, the messages the browser sends back) holds the GIL the trainer
needs between its torch calls. ``python -m explorer bench --app`` measured about half of
the page's cost to training as the trainer thread asleep waiting for it. In a child process
the trainer waits for nobody's GIL; the server's Python only unpickles the records.

How: the child (``spawn``: a fresh interpreter, safe with torch and CUDA) runs a
``TrainerThread``'s command loop on its main thread, fed by a multiprocessing queue; its
records come back on another, and a reader thread here moves them to ``out`` and keeps
``state``, ``message`` and a small ``trainer`` stand-in (device, step count) current.
Knob changes are sent as a "knobs" command as they happen, so the child's trainer reads
them at its next step as it would on a thread. A capture (snapshot) runs in the child
between two steps; the History, which lives here, is attached when it comes back.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import queue
import threading
from concurrent.futures import Future
from types import SimpleNamespace

from explorer.config import RunConfig, resolve_device
from explorer.knobs import Knobs, knob_names, switch_names
from explorer.runner import TrainerThread

COMMANDS = (*TrainerThread.commands, "knobs")


class _ChildRunner(TrainerThread):
    """The loop inside the child: two more commands, "knobs" and a capture by id."""

    commands = COMMANDS

    def _handle(self, command: str, kwargs: dict) -> None:
        if command == "knobs":
            self.knobs.param.update(**kwargs["values"])
        elif command == "capture":
            if self.trainer is None:
                self.out.put({"kind": "_capture", "id": kwargs["id"],
                              "error": "nothing to save yet: start a run first"})
                return
            try:
                from explorer.snapshot import capture

                self.out.put({"kind": "_capture", "id": kwargs["id"],
                              "data": capture(self.trainer)})
            except Exception as exc:  # a failed capture must not end the run
                self.out.put({"kind": "_capture", "id": kwargs["id"], "error": str(exc)})
        elif command == "adopt":
            from explorer.trainer import Trainer

            config, state = kwargs["config"], kwargs["state"]
            try:
                trainer = Trainer.from_state(config, state, knobs=self.knobs)
            except Exception as exc:  # a snapshot that does not fit: say so, keep the loop
                self._set_state("error", f"could not resume: {exc}")
                return
            super()._handle("adopt", {"trainer": trainer})
        else:
            super()._handle(command, kwargs)


def _child_main(config, knob_values, dataset, max_steps, threads, commands, out) -> None:
    runner = _ChildRunner(config, Knobs(**knob_values), dataset, max_steps, threads=threads,
                          start=False)
    runner._commands, runner.out = commands, out
    try:
        runner._loop()
    finally:
        out.put(None)  # tells the reader here that the child is done


class TrainerProcess(TrainerThread):
    """A :class:`~explorer.runner.TrainerThread` whose trainer runs in a child process.

    Same constructor and commands. ``trainer`` is a stand-in with ``device`` and
    ``step_count`` (None while no run is built); the model itself lives in the child.
    """

    commands = COMMANDS

    def __init__(self, config: RunConfig, knobs: Knobs | None = None, dataset=None,
                 max_steps: int | None = None, name: str = "trainer",
                 threads: int | None = None) -> None:
        self.config = config
        self.knobs = knobs if knobs is not None else Knobs(**config.knobs)
        self.dataset, self.max_steps, self.threads = dataset, max_steps, threads
        self.out: queue.Queue = queue.Queue()
        self.trainer = None
        self.state, self.message = "idle", ""
        self._closed = False
        self._futures: dict[int, tuple[Future, object]] = {}
        self._ids = itertools.count()
        ctx = mp.get_context("spawn")
        self._commands = ctx.Queue()
        self._inbox = ctx.Queue()
        self._process = ctx.Process(
            target=_child_main, name=name, daemon=True,
            args=(config, self.knobs.values(), dataset, max_steps, threads, self._commands,
                  self._inbox))
        self._process.start()
        self._watcher = self.knobs.param.watch(self._on_knobs, knob_names() + switch_names())
        self._thread = threading.Thread(target=self._read, name=f"{name}-records", daemon=True)
        self._thread.start()

    # -- commands ------------------------------------------------------------------------
    def _on_knobs(self, *events) -> None:
        if not self._closed:
            self.send("knobs", values={e.name: e.new for e in events})

    def capture(self, history=None) -> Future:
        """Snapshot data taken in the child between two steps; ``history`` (here) attached."""
        future: Future = Future()
        request = next(self._ids)
        self._futures[request] = (future, history)
        self.send("capture", id=request)
        return future

    def adopt(self, trainer) -> None:
        """Continue from ``trainer`` (restored here from a snapshot) in the child, paused."""
        self.send("adopt", config=trainer.config, state=trainer.capture_state())

    def close(self, timeout: float = 10.0) -> None:
        if not self._closed:
            self.knobs.param.unwatch(self._watcher)
            self._commands.put(("close", {}))
            self._closed = True
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._inbox.put(None)
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._process.is_alive() and not self._closed

    # -- records from the child ------------------------------------------------------------
    def _read(self) -> None:
        while True:
            record = self._inbox.get()
            if record is None:
                return
            kind = record.get("kind")
            if kind == "_capture":
                self._answer(record)
                continue
            if kind == "run":
                config = RunConfig.from_dict(record["config"])
                self.trainer = SimpleNamespace(device=resolve_device(config.device),
                                               step_count=0)
            elif kind == "step" and self.trainer is not None:
                self.trainer.step_count = int(record["step"]) + 1
            elif kind == "state":
                self._on_state(record)
            self.out.put(record)

    def _on_state(self, record: dict) -> None:
        self.state, self.message = record["state"], record.get("message", "")
        if self.state == "idle" or self.message.startswith("could not"):
            self.trainer = None
        elif self.trainer is None:  # adopted from a snapshot: no "run" record comes
            self.trainer = SimpleNamespace(device=resolve_device(self.config.device),
                                           step_count=int(record.get("step", 0)))
        else:
            self.trainer.step_count = int(record.get("step", self.trainer.step_count))

    def _answer(self, record: dict) -> None:
        future, history = self._futures.pop(record["id"], (None, None))
        if future is None:
            return
        if "error" in record:
            future.set_exception(RuntimeError(record["error"]))
            return
        from explorer.snapshot.data import attach_history

        data = record["data"]
        future.set_result(attach_history(data, history) if history is not None else data)


__all__ = ["TrainerProcess"]
