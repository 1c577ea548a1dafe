"""The background trainer: one :class:`~explorer.trainer.Trainer` on its own daemon thread.

The UI talks to it through a command queue (start, pause, resume, step, stop, reset) and
reads plain records from ``out`` (a ``queue.Queue``), including state events
``{"kind": "state", "state": ..., "message": ...}``. The thread never touches a Panel or
Bokeh object and the UI never touches the model (DESIGN.md, "The flow of one run";
notes/panel-streaming.md, "Threads and documents"). Knobs are shared: the trainer reads
their values at each step boundary, so a slider acts on the very next step.
"""

from __future__ import annotations

import abc
import gc
import logging
import queue
import threading
import time
import traceback
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from explorer.config import RunConfig, resolve_device
from explorer.knobs import Knobs, knobs_for
from kernels.records import RUN, STATE, STEP

if TYPE_CHECKING:
    from explorer.trainer import Trainer

log = logging.getLogger(__name__)

COMMANDS = ("start", "pause", "resume", "step", "stop", "reset", "capture", "adopt", "close")


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, as its records tell: the state, the steps taken (the "step" field
    of the last step or state record) and the device (None while no run is built)."""

    state: str = "idle"
    step: int = 0
    device: str | None = None
    message: str = ""


def fold_status(status: RunStatus, record: dict, config: RunConfig | None = None) -> RunStatus:
    """The status after ``record``: a "run" record starts at step 0 on its config's device,
    a "step" record moves the step, a "state" record sets the state (an "idle" one, or a
    failure to build, drops the device). ``config`` names the device when a run is adopted
    (no "run" record comes)."""
    kind = record.get("kind")
    if kind == RUN:
        cfg = RunConfig.from_dict(record["config"])
        return replace(status, step=0, device=str(resolve_device(cfg.device)))
    if kind == STEP:
        return replace(status, step=int(record["step"]))
    if kind != STATE:
        return status
    state, message = record["state"], record.get("message", "")
    step = int(record.get("step", status.step))
    device = status.device
    if state == "idle" or message.startswith("could not"):
        device = None
    elif device is None and config is not None:
        device = str(resolve_device(config.device))
    return RunStatus(state=state, step=step, device=device, message=message)


@runtime_checkable
class Runner(Protocol):
    """What the page needs of a trainer runner (:class:`TrainerThread`,
    :class:`~explorer.runner_process.TrainerProcess`): commands, records, status."""

    config: RunConfig
    knobs: Knobs
    state: str
    message: str

    @property
    def alive(self) -> bool: ...

    def status(self) -> RunStatus: ...

    def start(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step_once(self) -> None: ...

    def stop(self) -> None: ...

    def reset(self, config: RunConfig | None = None, dataset: Any = None) -> None: ...

    def capture(self, history: Any = None) -> Future: ...

    def adopt(self, trainer: Any) -> None: ...

    def drain(self, limit: int | None = None) -> list[dict]: ...

    def close(self, timeout: float = 10.0, wait: bool = True) -> None: ...


class RunnerCommands(abc.ABC):
    """What both runners share: the run's settings, state and status, the commands as
    methods and the non-blocking ``drain``. Each command goes through the runner's ``send``;
    records wait in its ``out`` queue."""

    def __init__(
        self,
        config: RunConfig,
        knobs: Knobs | None,
        dataset=None,
        max_steps: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.config = config
        self.knobs = knobs if knobs is not None else knobs_for(config.method, config.knobs)
        self.dataset, self.max_steps, self.threads = dataset, max_steps, threads
        self.out: queue.Queue = queue.Queue()
        self.state, self.message = "idle", ""
        self._status = RunStatus()
        self._closed = False

    @abc.abstractmethod
    def send(self, command: str, **kwargs) -> None:
        """Deliver one command to the trainer (a queue for the thread, a pipe for the process)."""

    def status(self) -> RunStatus:
        """State, steps taken and device, folded from the records this runner emitted."""
        return self._status

    def start(self) -> None:
        self.send("start")

    def pause(self) -> None:
        self.send("pause")

    def resume(self) -> None:
        self.send("resume")

    def step_once(self) -> None:
        self.send("step")

    def stop(self) -> None:
        self.send("stop")

    def drain(self, limit: int | None = None) -> list[dict]:
        """Records waiting in ``out`` (at most ``limit``), oldest first, without blocking."""
        out = self.out
        with out.mutex:  # taken at once under the queue's own lock (one get_nowait each cost
            # the page's refresh ~1.5 us a record, a few hundred records a refresh: issue 17)
            waiting = out.queue
            n = len(waiting) if limit is None else max(0, min(limit, len(waiting)))
            records = [waiting.popleft() for _ in range(n)]
            if n:
                out.not_full.notify_all()
        return records


class TrainerThread(RunnerCommands):
    """Owns one Trainer on one daemon thread.

    ``config`` says what to train; ``dataset`` (optional) is an already loaded
    :class:`~explorer.data.Dataset` (an uploaded file); ``max_steps`` (default
    ``config.steps``) ends the run with state "finished". Any exception while building or
    stepping (a NaN loss raises ``TrainingError``) ends the run with an "error" state record;
    what was recorded stays recorded and the thread waits for the next command.

    ``threads`` sets torch's intra-op threads from the trainer thread (process-wide). On a
    small CPU leave one core to the web server: two OpenMP threads spinning against the
    server's thread measured 5 steps/s against 70 with one (2-core machine, digits).
    """

    #: what ``send`` accepts
    commands: tuple[str, ...] = COMMANDS

    def __init__(
        self,
        config: RunConfig,
        knobs: Knobs | None = None,
        dataset=None,
        max_steps: int | None = None,
        name: str = "trainer",
        threads: int | None = None,
        start: bool = True,
    ) -> None:
        super().__init__(config, knobs, dataset, max_steps, threads)
        self.trainer: Trainer | None = None
        self._commands: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        if start:  # False: the caller runs ``_loop`` itself (a child process does)
            self._thread.start()

    # -- commands (any thread) -------------------------------------------------------------
    def send(self, command: str, **kwargs) -> None:
        if command not in self.commands:
            raise ValueError(f"unknown command '{command}'; accepted: {', '.join(self.commands)}")
        if self._closed:
            raise RuntimeError("this trainer thread is closed; build a new one")
        self._commands.put((command, kwargs))

    def reset(self, config: RunConfig | None = None, dataset=None) -> None:
        """Drop the current run (and its model); the next start builds a fresh one."""
        self.send("reset", config=config, dataset=dataset)

    def capture(self, history=None) -> Future:
        """Snapshot data of the run, taken on the trainer thread between two steps, so a
        save stalls training by one capture (milliseconds), never mid-step."""
        future: Future = Future()
        self.send("capture", future=future, history=history)
        return future

    def adopt(self, trainer) -> None:
        """Continue from an existing Trainer (one restored from a snapshot), paused."""
        self.send("adopt", trainer=trainer)

    def close(self, timeout: float = 10.0, wait: bool = True) -> None:
        """Stop the run and free the model; with ``wait``, join the thread (at most
        ``timeout`` s; never wait on a server's event loop: pass ``wait=False`` there)."""
        if not self._closed:
            self._commands.put(("close", {}))
            self._closed = True
        if wait:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _emit(self, record: dict) -> None:
        """Every record leaves through here: the status follows it, then ``out``."""
        self._status = fold_status(self._status, record, self.config)
        self.out.put(record)

    # -- the thread -------------------------------------------------------------------------
    def _set_state(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        step = self.trainer.step_count if self.trainer is not None else 0
        self._emit(
            {"kind": STATE, "state": state, "message": message, "step": step, "time": time.time()}
        )

    def _build(self) -> bool:
        from explorer.trainer import Trainer

        self._emit({"kind": RUN, "config": self.config.to_dict(), "time": time.time()})
        try:
            self.trainer = Trainer(self.config, self.knobs, sink=self._emit, dataset=self.dataset)
        except Exception as exc:  # a bad data set or option: say so, keep the thread
            log.exception("could not start a %s run", self.config.method)
            self.trainer = None
            self._set_state("error", f"could not start: {exc}")
            return False
        return True

    def _step(self) -> bool:
        """One step; False when the run ended (finished or error)."""
        assert self.trainer is not None  # built by _build before any step
        try:
            self.trainer.step()
        except Exception as exc:
            log.exception("the run stopped at step %d", self.trainer.step_count)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._set_state("error", detail)
            return False
        limit = self.max_steps if self.max_steps is not None else self.config.steps
        if self.trainer.step_count >= limit:
            self._set_state("finished", f"reached {limit} steps")
            return False
        return True

    def _free(self) -> None:
        was_cuda = self.trainer is not None and self.trainer.device.type == "cuda"
        self.trainer = None
        gc.collect()
        if was_cuda:
            import torch

            torch.cuda.empty_cache()

    def _loop(self) -> None:
        if self.threads is not None:
            import torch

            torch.set_num_threads(max(1, int(self.threads)))
        while True:
            running = self.state == "running"
            try:
                command, kwargs = self._commands.get_nowait() if running else self._commands.get()
            except queue.Empty:
                self._step()
                continue
            if command == "close":
                if self.state in ("running", "paused"):
                    self._set_state("stopped", "closed")
                self._free()
                return
            self._handle(command, kwargs)

    def _handle(self, command: str, kwargs: dict) -> None:
        state = self.state
        if command == "start":
            if state in ("running", "paused"):
                return
            if self.trainer is None or state in ("finished", "stopped", "error"):
                self._free()
                if not self._build():
                    return
            self._set_state("running")
        elif command == "pause" and state == "running":
            self._set_state("paused")
        elif command == "resume" and state == "paused":
            self._set_state("running")
        elif command == "step":
            if state == "running":
                self._set_state("paused")
            if self.trainer is None or state in ("idle", "finished", "stopped", "error"):
                self._free()
                if not self._build():
                    return
                self._set_state("paused", "stepping")
            self._step()
        elif command == "stop" and state in ("running", "paused"):
            self._set_state("stopped", "stopped by the user")
        elif command == "capture":
            future = kwargs["future"]
            if self.trainer is None:
                future.set_exception(RuntimeError("nothing to save yet: start a run first"))
                return
            try:
                from explorer.snapshot import capture

                future.set_result(capture(self.trainer, kwargs.get("history")))
            except Exception as exc:  # a failed capture must not end the run
                future.set_exception(exc)
        elif command == "adopt":
            self._free()
            self.trainer = kwargs["trainer"]
            self.trainer.sink = self._emit
            self.config = self.trainer.config
            self._set_state("paused", f"resumed from a snapshot at step {self.trainer.step_count}")
        elif command == "reset":
            if kwargs.get("config") is not None:
                self.config = kwargs["config"]
            if kwargs.get("dataset") is not None or kwargs.get("config") is not None:
                self.dataset = kwargs.get("dataset")
            self._free()
            self._set_state("idle", "reset")
