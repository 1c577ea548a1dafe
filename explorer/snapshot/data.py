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
from kernels.records import EVENT


@dataclass
class SnapshotData:
    """A whole session: configuration, trainer state (CPU tensors), history, unit table.

    ``trainer`` is the dict of :meth:`explorer.trainer.Trainer.capture_state`: model weights,
    optimizer state, method state, unit ids and birth steps, the unit id counter, RNG states,
    the epoch order and cursor, step count, cost, validation history, phase times, knob
    values. ``history_rows`` maps each record kind to its records; ``history_tables`` holds the
    "units" records (per-unit arrays at one step). ``landscape`` holds the session's landscape
    results, set by the page after ``capture`` (the trainer knows nothing of them).
    """

    config: dict
    trainer: dict
    history_rows: dict[str, list[dict]] = field(default_factory=dict)
    history_tables: list[dict] = field(default_factory=list)
    history_limits: dict = field(default_factory=lambda: {"max_rows": 20_000, "max_tables": 400})
    unit_table: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    created: str = ""
    #: landscape results (:mod:`explorer.snapshot.landscape`): "study" (a StudyResult) and/or
    #: "network" (the last "landscape of this network now", a LandscapeResult)
    landscape: dict = field(default_factory=dict)
    #: why a part of the loaded snapshot was left out (the rest loaded): one line each
    problems: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return str(self.config.get("method", ""))

    @property
    def step(self) -> int:
        return int(self.trainer.get("step_count", 0))

    def history(self) -> History:
        """A fresh History holding the snapshot's records (the views replay from it)."""
        h = History(**self.history_limits)
        h.rows = defaultdict(list, {k: [dict(r) for r in v] for k, v in self.history_rows.items()})
        h.tables = [dict(t) for t in self.history_tables]
        return h

    def unit_events(self) -> dict:
        events = self.history_rows.get(EVENT, [])
        born = sum(e.get("event") == "born" for e in events)
        return {"born": born, "died": len(events) - born}


def capture(trainer, history: History | None = None, summary: dict | None = None) -> SnapshotData:
    """Copy a session's state, fast: call it between steps (the trainer's thread, or paused).

    ``summary`` defaults to cheap figures (no evaluation pass); the CLI passes
    ``trainer.summary()`` for the final val/test figures.
    """
    state = trainer.capture_state()
    if summary is None:
        model = trainer.model
        summary = {
            "steps": trainer.step_count,
            "epochs": trainer.epoch,
            "sizes": list(model.hidden_sizes),
            "params": model.n_params(),
            "val_loss": None,
            "val_acc": None,
            "cost": trainer.cost,
            "device": str(trainer.device),
            "seconds": state["elapsed"],
            "phase_time": dict(trainer.phase_time),
        }
    data = SnapshotData(
        config=trainer.config.to_dict(),
        trainer=state,
        unit_table=trainer.unit_table(),
        summary=dict(summary),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return attach_history(data, history) if history is not None else data


def attach_history(data: SnapshotData, history: History) -> SnapshotData:
    """Put a copy of ``history``'s records into ``data`` (taken where the History lives:
    a trainer in another process captures its state alone), and the last validation
    figures into the summary where it has none."""
    # records are never mutated after History.add, so copying the lists is enough
    with history._lock:
        data.history_rows = {k: list(v) for k, v in history.rows.items() if v}
        data.history_tables = list(history.tables)
    data.history_limits = {"max_rows": history.max_rows, "max_tables": history.max_tables}
    last_eval = data.history_rows.get("eval", [{}])[-1]
    for key in ("val_loss", "val_acc"):
        if data.summary.get(key) is None:
            data.summary[key] = last_eval.get(key)
    return data


def restore(data: SnapshotData, sink=None, dataset=None, device: str | None = None, knobs=None):
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
        trainer = Trainer.from_state(
            config, data.trainer, knobs=knobs, sink=sink or history.add, dataset=dataset
        )
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise SnapshotError(
            f"the snapshot's state does not fit a {config.method} trainer on "
            f"{config.dataset}: {exc}"
        ) from exc
    return trainer, history
