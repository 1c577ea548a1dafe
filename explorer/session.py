"""One page's training session, with no Panel in it: the runner, the History, the drain.

:class:`Session` owns the runner (a trainer thread or a child process), the
:class:`~explorer.history.History` of the current run and what the status line needs (the
state, the last "step" and "eval" records). :meth:`Session.drain` moves the runner's records
into the History and hands them on, in order, through three callbacks: a new run began, a
batch of records (grouped by kind), a state change. The page turns those into plots and
messages; a script or a test can use the session alone.
"""

from __future__ import annotations

import atexit
import os
import weakref
from collections.abc import Callable

from explorer.config import RunConfig
from explorer.history import History
from explorer.knobs import Knobs
from explorer.runner import Runner, TrainerThread

#: record kinds that change the run or its state rather than add to the History
_CONTROL = ("run", "state")
#: the most records one drain moves (the rest wait for the next one)
DRAIN_LIMIT = 20_000
#: torch threads of the trainer: one core stays free for the web server (see runner.py)
TORCH_THREADS = max(1, (os.cpu_count() or 2) - 1)
#: states after which the next start builds a new run
ENDED = ("idle", "finished", "stopped", "error")
#: every session not yet closed (closed at interpreter exit, or by ``serve`` on SIGTERM)
_LIVE: weakref.WeakSet = weakref.WeakSet()


def close_all(timeout: float = 5.0) -> int:
    """Close every live session's trainer and wait for it (at most ``timeout`` s each);
    returns how many. Registered with ``atexit``: a trainer thread must not outlive the
    interpreter (a script that never called ``close()`` aborted with "terminate called
    without an active exception")."""
    sessions = list(_LIVE)
    for session in sessions:
        session.close(wait=True, timeout=timeout)
    return len(sessions)


atexit.register(close_all)


class Session:
    """The trainer side of one page.

    ``trainer_in`` is "thread" (a :class:`~explorer.runner.TrainerThread` of this process)
    or "process" (a :class:`~explorer.runner_process.TrainerProcess`). ``replay`` is a
    recorded History: the session then shows it and refuses to train.
    """

    def __init__(
        self,
        config: RunConfig,
        knobs: Knobs,
        trainer_in: str = "thread",
        replay: History | None = None,
        threads: int | None = TORCH_THREADS,
    ) -> None:
        if trainer_in not in ("thread", "process"):
            raise ValueError(f"trainer_in must be 'thread' or 'process', got '{trainer_in}'")
        self.config = config
        self.knobs = knobs
        self.trainer_in = trainer_in
        self.threads = threads
        self.runner: Runner | None = None
        self.replay = replay is not None
        self.history = replay if replay is not None else History()
        self.status = "replay" if self.replay else "idle"
        self.last: dict[str, dict | None] = {
            "step": None,
            "eval": None,
            "state": None,
            "run_started": None,
        }
        if replay is not None:
            self.note(history_records(replay))
        _LIVE.add(self)

    # -- the runner ------------------------------------------------------------------------
    def ensure_runner(self):
        """The session's runner, built (or rebuilt after it died) on first use."""
        if self.runner is None or not self.runner.alive:
            if self.trainer_in == "process":
                from explorer.runner_process import TrainerProcess as Runner
            else:
                Runner = TrainerThread  # noqa: N806 (a class picked at run time)
            self.runner = Runner(self.config, self.knobs, threads=self.threads)
        return self.runner

    def training_runner(self):
        """The runner, refusing on a replay (it has nothing to train)."""
        if self.replay:
            raise RuntimeError("this page replays a recorded run; it does not train")
        return self.ensure_runner()

    @property
    def state(self) -> str:
        return self.runner.state if self.runner is not None else self.status

    @property
    def device(self) -> str | None:
        """The device of the run, as the runner's records tell (None before a run)."""
        return self.runner.status().device if self.runner is not None else None

    def start(self, fresh: Callable[[], tuple[RunConfig, object]]) -> None:
        """Resume a paused run; otherwise start a new one from ``fresh()`` (the config and
        an optional loaded data set), which is called only then."""
        runner = self.training_runner()
        if runner.state == "paused":
            runner.resume()
            return
        if runner.state == "running":
            return
        self._load(runner, *fresh())
        runner.start()

    def step(self, fresh: Callable[[], tuple[RunConfig, object]]) -> None:
        """One step: a paused run goes on by one; an ended one is replaced by ``fresh()``'s
        run (paused after its first step)."""
        runner = self.training_runner()
        if runner.state in ENDED:
            self._load(runner, *fresh())
        runner.step_once()

    def _load(self, runner, config: RunConfig, dataset=None) -> None:
        self.config = config
        runner.reset(config, dataset)

    def pause(self) -> None:
        if self.runner is not None:
            self.runner.pause()

    def resume(self) -> None:
        if self.runner is not None:
            self.runner.resume()

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def reset(self) -> bool:
        """Drop the run; True when the runner will confirm it (an "idle" state record),
        False when there was no runner (the caller clears at once)."""
        if self.runner is None:
            self.new_run()
            return False
        self.runner.reset()
        return True

    def adopt(self, trainer, history: History) -> None:
        """Continue from a restored Trainer (paused) with its recorded History (the caller
        has cleared the plots)."""
        self.new_run(history)
        self.note(history_records(history))
        self.config = trainer.config
        self.ensure_runner().adopt(trainer)

    def capture(self, timeout: float = 60.0):
        """Snapshot data of the run, taken between two steps by the runner."""
        if self.runner is None or self.runner.status().device is None:
            raise RuntimeError("nothing to save yet: start a run first")
        return self.runner.capture(self.history).result(timeout)

    def close(self, wait: bool = True, timeout: float = 10.0) -> None:
        """Stop the trainer; ``wait=False`` (a server's event loop) returns at once."""
        _LIVE.discard(self)
        if self.runner is not None:
            self.runner.close(timeout=timeout, wait=wait)

    # -- records ---------------------------------------------------------------------------
    def new_run(self, history: History | None = None) -> None:
        self.history = history if history is not None else History()
        self.last.update(step=None, eval=None)

    def note(self, by_kind: dict[str, list[dict]]) -> None:
        """Keep what the status line shows from a batch of records."""
        if by_kind.get("step"):
            self.last["step"] = by_kind["step"][-1]
        if by_kind.get("eval"):
            self.last["eval"] = by_kind["eval"][-1]

    def last_method(self) -> str:
        started = self.last.get("run_started")
        return started["config"]["method"] if started else self.config.method

    def drain(
        self,
        on_new_run: Callable[[], None],
        on_records: Callable[[dict], object],
        on_state: Callable[[dict], None],
        limit: int = DRAIN_LIMIT,
    ) -> int:
        """Move waiting records into the History and pass them on in order; returns how
        many. A "run" record or an "idle" state (a reset) starts a new History; records
        after it belong to the new run."""
        if self.runner is None:
            return 0
        records = self.runner.drain(limit)
        start = 0
        # the run and state records split the batch; the records between them are added to
        # the History and handed on a stretch at a time (grouped once, issue 17)
        for i in [i for i, r in enumerate(records) if r.get("kind") in _CONTROL]:
            self._deliver(records[start:i], on_records)
            start = i + 1
            rec = records[i]
            if rec["kind"] == "run":
                self.new_run()
                on_new_run()
                self.last["run_started"] = rec
                continue
            if rec["state"] == "idle":
                self.new_run()
                on_new_run()
            self.status = rec["state"]
            self.last["state"] = rec
            on_state(rec)
        self._deliver(records[start:], on_records)
        return len(records)

    def _deliver(self, records: list[dict], on_records: Callable[[dict], object]) -> None:
        """Add a stretch of records (no run or state record among them) to the History and
        hand them on grouped by kind."""
        if records:
            by_kind = group_records(records)
            self.history.add_grouped(by_kind)
            self.note(by_kind)
            on_records(by_kind)


def status_line(status: str, device: str | None, step: dict | None, evaluation: dict | None) -> str:
    """The page's one-line status (markdown)."""
    parts = [f"**{status}**"]
    if device is not None:
        parts.append(f"device {device}")
    if step is not None:
        parts += [
            f"step {step['step']}",
            f"epoch {step['epoch']:.1f}",
            f"sizes {step['sizes']}",
            f"loss {step['loss']:.4g}",  # 3.1e-05, not 0.0000
        ]
    if evaluation is not None:
        ev = evaluation
        total = sum(ev.get(f"time_{k}", 0.0) for k in ("train", "surgery", "eval")) or 1.0
        parts += [
            f"val acc {ev['val_acc']:.3f}",
            f"{ev['samples_per_s']:,.0f} samples/s",
            "time "
            + " / ".join(
                f"{k} {100 * ev.get(f'time_{k}', 0.0) / total:.0f}%"
                for k in ("train", "surgery", "eval")
            ),
        ]
    return " · ".join(parts)


def progress_percent(step: dict | None, total_steps: int) -> int:
    """How far the run is, in percent of ``total_steps`` (0 before the first step)."""
    if step is None:
        return 0
    return int(min(100, 100 * step["step"] / max(total_steps, 1)))


def group_records(records) -> dict[str, list[dict]]:
    """Records grouped by kind, oldest first within a kind (what views take)."""
    out: dict[str, list[dict]] = {}
    for r in records:
        kind = r.get("kind", "")
        rows = out.get(kind)
        if rows is None:
            out[kind] = [r]
        else:
            rows.append(r)
    return out


def history_records(history: History) -> dict[str, list[dict]]:
    """All of a History as one increment by kind (replaying a recorded run)."""
    out = {kind: list(rows) for kind, rows in history.rows.items() if rows}
    if history.tables:
        out["units"] = list(history.tables)
    return out
