"""One sweep point: a headless run of the ordinary trainer, its snapshot, its figures.

``run_point`` is what a Dask worker executes. It builds the same :class:`Trainer` the CLI's
``run`` uses, trains it, writes its snapshot (the CLI's ``run --out`` format) and returns one
flat row of plain values: the run's final trade-off point and what it cost.

Cost columns:

- ``wall_s``: seconds the run took on its worker (training, surgery and evaluation).
- ``param_steps``: parameters summed over training steps (steps x parameters for a static
  net; for a sizing run the parameter count of each step's network).
- ``cost``: the ShrinkNets cost model, input neurons summed over steps (ShrinkNets sec. 4.4).
- ``train_flops``: 6 x batch x ``param_steps``, the usual estimate of a dense network's
  training FLOPs (2 per weight and sample forward, 4 backward); biases are counted as
  weights, activations and surgery are left out.

A run that fails in a way that would fail again (NaN loss, a bad option) comes back as a row
with ``status = "failed"`` and the error; anything else (an OS error, a lost worker) is
raised, so Dask's retries can run the point again.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from pathlib import Path
from typing import Any

#: errors a rerun would meet again: recorded as a failed row, not retried
DETERMINISTIC = (ValueError, KeyError, TypeError, ArithmeticError)

#: the row's columns, in order, and the type the results table reads each back as
ROW_TYPES: dict[str, type] = {
    "key": str,
    "kind": str,
    "index": int,
    "status": str,
    "error": str,
    "method": str,
    "dataset": str,
    "seed": int,
    "hidden": str,
    "sizes": str,
    "units": int,
    "params": int,
    "val_loss": float,
    "val_acc": float,
    "test_loss": float,
    "test_acc": float,
    "wall_s": float,
    "steps": int,
    "param_steps": int,
    "cost": int,
    "train_flops": int,
    "lam": float,
    "gamma": float,
    "growth_rate": float,
    "tau": float,
    "snapshot": str,
    "worker": str,
    "finished": str,
    "config": str,
}
ROW_COLUMNS = tuple(ROW_TYPES)


def snapshot_path(out: str | Path, key: str) -> Path:
    return Path(out) / "snapshots" / f"{key}.zip"


def run_point(point: dict, out: str, torch_threads: int = 1) -> dict:
    """Train one point (``SweepPoint.to_dict()``), save its snapshot under ``out``."""
    import torch

    from explorer.cores import release

    release()  # a local worker started by a server that placed its trainer: every core again
    previous_threads = torch.get_num_threads()  # restored: an in-process worker shares it
    torch.set_num_threads(max(1, int(torch_threads)))
    try:
        row = _train(point, out)
        row["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return row
    finally:
        torch.set_num_threads(previous_threads)


def _train(point: dict, out: str) -> dict:
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.snapshot import save_snapshot
    from explorer.trainer import Trainer, TrainingError

    config_dict = point["config"]
    row = base_row(point)
    started = time.perf_counter()
    try:
        config = RunConfig.from_dict(config_dict)
        history = History()
        param_steps = 0

        def sink(record: dict) -> None:
            nonlocal param_steps
            if record.get("kind") == "step":
                param_steps += int(record["params"])
            history.add(record)

        trainer = Trainer(config, sink=sink)
        trainer.run()
        summary = trainer.summary()
        if not all(math.isfinite(summary[k]) for k in ("val_loss", "test_loss")):
            raise TrainingError(
                f"final loss is not finite (val {summary['val_loss']}, test {summary['test_loss']})"
            )
        path = snapshot_path(out, point["key"])
        save_snapshot(trainer, history, path, summary=summary)
    except (TrainingError, *DETERMINISTIC) as exc:
        row.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}"[:500],
            wall_s=time.perf_counter() - started,
        )
        return row
    row.update(
        status="ok",
        sizes=json.dumps(summary["sizes"]),
        units=int(sum(summary["sizes"])),
        params=int(summary["params"]),
        val_loss=summary["val_loss"],
        val_acc=summary["val_acc"],
        test_loss=summary["test_loss"],
        test_acc=summary["test_acc"],
        wall_s=time.perf_counter() - started,
        steps=int(summary["steps"]),
        param_steps=param_steps,
        cost=int(summary["cost"]),
        train_flops=6 * trainer.batch_size * param_steps,
        snapshot=str(path),
    )
    return row


def base_row(point: dict) -> dict:
    """The row's columns known before the run: what the point is."""
    config = point["config"]
    knobs = config.get("knobs", {})
    row: dict[str, Any] = dict.fromkeys(ROW_COLUMNS, math.nan)
    row.update(
        key=point["key"],
        kind=point["kind"],
        index=int(point["index"]),
        status="",
        error="",
        method=config["method"],
        dataset=str(config["dataset"]),
        seed=int(config["seed"]),
        hidden=json.dumps(config["hidden"]),
        sizes="",
        snapshot="",
        worker=f"{socket.gethostname()}:{os.getpid()}",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        config=json.dumps(config, sort_keys=True),
    )
    for knob in ("lam", "gamma", "growth_rate", "tau"):
        row[knob] = float(knobs[knob]) if knob in knobs else math.nan
    return row


def failed_row(point: dict, error: str) -> dict:
    """The row of a point whose task failed on Dask's side (retries used up, worker lost)."""
    row = base_row(point)
    row.update(status="failed", error=error[:500], worker="")
    return row
