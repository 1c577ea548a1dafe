"""What a snapshot holds in memory, how it is taken from a live session and given back.

``capture`` is the fast half of saving: it copies the trainer's tensors to CPU and the
history's record lists on the calling thread, between two steps. ``write`` (in
:mod:`explorer.snapshot.save`) is the slow half and may run on another thread.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from explorer.config import RunConfig
from explorer.history import History
from explorer.snapshot.schema import SCHEMA_VERSION, SnapshotError


@dataclass
class SnapshotData:
    """A whole session: configuration, trainer state (CPU tensors), history, unit table.

    ``trainer`` is the dict of :meth:`explorer.trainer.Trainer.capture_state`: model weights,
    optimizer state, method state, unit ids and birth steps, the unit id counter, RNG states,
    the epoch order and cursor, step count, cost, validation history, phase times, knob
    values. ``history_rows`` maps each record kind to its records; ``history_tables`` holds the
    "units" records (per-unit arrays at one step).
    """

    config: dict
    trainer: dict
    history_rows: dict[str, list[dict]]
    history_tables: list[dict]
    history_limits: dict = field(default_factory=lambda: {"max_rows": 20_000,
                                                          "max_tables": 400})
    unit_table: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    created: str = ""

    @property
    def method(self) -> str:
        return str(self.config.get("method", ""))

    @property
    def step(self) -> int:
        return int(self.trainer.get("step_count", 0))

    def history(self) -> History:
        """A fresh History holding the snapshot's records (the views replay from it)."""
        h = History(**self.history_limits)
        h.rows = defaultdict(list, {k: [dict(r) for r in v]
                                    for k, v in self.history_rows.items()})
        h.tables = [dict(t) for t in self.history_tables]
        return h

    def unit_events(self) -> dict:
        events = self.history_rows.get("event", [])
        born = sum(e.get("event") == "born" for e in events)
        return {"born": born, "died": len(events) - born}


def capture(trainer, history: History | None = None, summary: dict | None = None
            ) -> SnapshotData:
    """Copy a session's state, fast: call it between steps (the trainer's thread, or paused).

    ``summary`` defaults to cheap figures (no evaluation pass); the CLI passes
    ``trainer.summary()`` for the final val/test figures.
    """
    state = trainer.capture_state()
    rows: dict[str, list[dict]] = {}
    tables: list[dict] = []
    limits = {"max_rows": 20_000, "max_tables": 400}
    if history is not None:
        # records are never mutated after History.add, so copying the lists is enough
        with history._lock:
            rows = {k: list(v) for k, v in history.rows.items() if v}
            tables = list(history.tables)
        limits = {"max_rows": history.max_rows, "max_tables": history.max_tables}
    if summary is None:
        model = trainer.model
        last_eval = rows.get("eval", [{}])[-1]
        summary = {"steps": trainer.step_count, "epochs": trainer.epoch,
                   "sizes": list(model.hidden_sizes), "params": model.n_params(),
                   "val_loss": last_eval.get("val_loss"), "val_acc": last_eval.get("val_acc"),
                   "cost": trainer.cost, "device": str(trainer.device),
                   "seconds": state["elapsed"], "phase_time": dict(trainer.phase_time)}
    return SnapshotData(config=trainer.config.to_dict(), trainer=state, history_rows=rows,
                        history_tables=tables, history_limits=limits,
                        unit_table=trainer.unit_table(), summary=dict(summary),
                        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def restore(data: SnapshotData, sink=None, dataset=None, device: str | None = None,
            knobs=None):
    """Rebuild ``(Trainer, History)`` from a snapshot; training continues where it stopped.

    The trainer's records go to ``sink``, by default into the returned History. The data set
    is loaded again from the config (pass ``dataset`` to reuse one in memory); ``device``
    overrides the saved device (a snapshot taken on CUDA resumes on CPU). ``knobs`` (e.g. the
    app's sliders) are set to the saved values and drive the trainer.
    """
    from explorer.trainer import Trainer

    config_dict = dict(data.config)
    if device is not None:
        config_dict["device"] = device
    try:
        config = RunConfig.from_dict(config_dict)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"session.json: the saved config is not valid: {exc}") from None
    history = data.history()
    try:
        trainer = Trainer.from_state(config, data.trainer, knobs=knobs,
                                     sink=sink or history.add, dataset=dataset)
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise SnapshotError(f"the snapshot's state does not fit a {config.method} trainer on "
                            f"{config.dataset}: {exc}") from exc
    return trainer, history
