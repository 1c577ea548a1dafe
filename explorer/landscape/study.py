"""The cell width/depth study of Shu, Wang & Cai (ICLR 2020), headless: for the widest-shallowest
cell, the chain and random variants (sec. 3.2, appendix A.2), train a network of each at every
learning rate and seed with the same budget (sec. 4.1), then measure the loss contour, the
gradient-variance map (sec. 4.2) and the top Hessian eigenvalue at the trained weights (at the
first learning rate). One task per (cell, seed): a pure function of plain values, so it runs
in this process, on a thread, or on a Dask worker alike.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import param

from explorer.atomic import atomic_write
from kernels.cells import Cell, study_cells
from kernels.landscape import analyse_network, train_cell


class StudyConfig(param.Parameterized):
    """What to study; each parameter is a control of the landscape page."""

    dataset = param.String(default="digits", doc="Data set name (see `python -m explorer list`).")
    n_nodes = param.Integer(default=7, bounds=(3, 9), doc="N: nodes of a cell (sec. 3.1).")
    n_inputs = param.Integer(default=2, bounds=(1, 3), doc="M: input nodes of a cell.")
    n_variants = param.Integer(
        default=6, bounds=(0, 24), doc="Random variants of the widest cell (appendix A.2)."
    )
    variant_seed = param.Integer(default=0, bounds=(0, None), doc="Seed of the variant sampling.")
    seeds = param.Integer(default=1, bounds=(1, 10), doc="Training seeds per cell.")
    steps = param.Integer(default=600, bounds=(10, 100_000), doc="SGD steps per run (budget).")
    learning_rates = param.List(
        default=[0.025],
        item_type=float,
        doc="Initial learning rates (cosine-annealed, sec. 4.1); the "
        "landscape is measured after training at the first.",
    )
    batch_size = param.Integer(default=80, bounds=(1, 4096), doc="Batch size (appendix A.3).")
    width = param.Integer(default=16, bounds=(1, 512), doc="c: width of every node.")
    n_cells = param.Integer(default=2, bounds=(1, 20), doc="L: cells stacked in the network.")
    eval_every = param.Integer(default=25, bounds=(1, None), doc="Steps between evaluations.")
    grid = param.Integer(default=31, bounds=(3, 101), doc="Loss-contour grid points a side.")
    variance_grid = param.Integer(
        default=15, bounds=(0, 101), doc="Gradient-variance grid points a side (0: skip)."
    )
    span = param.Number(
        default=1.0,
        bounds=(0.01, 10.0),
        doc="Grid half-width in units of the filter-normalised directions.",
    )
    target_acc = param.Number(
        default=0.9,
        bounds=(0.0, 1.0),
        doc="Test accuracy that counts as converged (steps to target).",
    )

    def cells(self) -> list[Cell]:
        return study_cells(self.n_nodes, self.n_inputs, self.n_variants, self.variant_seed)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.param.values().items() if k != "name"}


def study_task(
    cell: dict,
    config: dict,
    seed: int,
    cancel=None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Train ``cell`` at each learning rate with ``seed``; landscape after the first rate.

    Returns plain values: ``runs`` (one summary per rate), ``records`` (eval/step records),
    ``surface`` (the contour and variance grids as lists, measured after the first rate).
    """
    import torch

    from explorer.data.registry import load_dataset

    torch.set_num_threads(1)
    c = Cell.from_dict(cell)
    data = load_dataset(config["dataset"], seed=0)
    say = progress or (lambda stage, frac: None)
    out: dict[str, Any] = {
        "cell": c.name,
        "seed": int(seed),
        "runs": [],
        "records": [],
        "surface": None,
    }
    lrs = list(config["learning_rates"])
    for k, lr in enumerate(lrs):
        slot = k if k == 0 else k + 1  # slots: train lr0, landscape, train the other rates
        say(f"train lr={lr:g}", slot / (len(lrs) + 1))
        tag = {"variant": c.name, "lr": float(lr), "seed": int(seed)}
        res = train_cell(
            c,
            data.X_train,
            data.y_train,
            data.X_test,
            data.y_test,
            data.n_classes,
            c=config["width"],
            n_cells=config["n_cells"],
            steps=config["steps"],
            lr=lr,
            batch_size=config["batch_size"],
            eval_every=config["eval_every"],
            seed=seed,
            target_acc=config["target_acc"],
            cancel=cancel,
            tag=tag,
        )
        out["records"] += res.records
        run = {
            **tag,
            "width": c.width(),
            "depth": c.depth(),
            "final_test_acc": res.final_test_acc,
            "final_test_loss": res.final_test_loss,
            "test_loss_auc": res.test_loss_auc,
            "steps_to_target": res.steps_to_target,
            "diverged": res.diverged,
        }
        if k == 0:
            land = analyse_network(
                res.model,
                data.X_test,
                data.y_test,
                grid=config["grid"],
                variance_grid=config["variance_grid"],
                span=config["span"],
                seed=seed,
                X_hessian=data.X_train,
                y_hessian=data.y_train,
                cancel=cancel,
                progress=lambda stage, f: say(stage, (1 + f) / (len(lrs) + 1)),
            )
            run.update(land.summary())
            out["surface"] = {k2: v.tolist() for k2, v in land.to_arrays().items()}
        out["runs"].append(run)
    say("done", 1.0)
    return out


@dataclass
class StudyResult:
    """Everything the page and the note need; JSON + npz on disk."""

    config: dict
    cells: list[dict]
    runs: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    surfaces: dict = field(default_factory=dict)  # "cell/seed" -> arrays

    def add(self, task_out: dict) -> None:
        self.runs += task_out["runs"]
        self.records += task_out["records"]
        if task_out.get("surface") is not None:
            key = f"{task_out['cell']}/{task_out['seed']}"
            self.surfaces[key] = {k: np.asarray(v) for k, v in task_out["surface"].items()}

    def table(self) -> list[dict]:
        """One row per cell: means over seeds (at each cell's first learning rate for the
        landscape, every rate for convergence)."""
        rows = []
        for cell in self.cells:
            mine = [r for r in self.runs if r["variant"] == cell["name"]]
            if not mine:
                continue
            row = {"variant": cell["name"], "width": cell["width"], "depth": cell["depth"]}
            for lr in sorted({r["lr"] for r in mine}):
                at = [r for r in mine if r["lr"] == lr]
                row[f"acc@{lr:g}"] = _mean(r["final_test_acc"] for r in at)
                row[f"auc@{lr:g}"] = _mean(r["test_loss_auc"] for r in at)
                row[f"steps@{lr:g}"] = _mean(r["steps_to_target"] for r in at)
            for key in ("top_eigenvalue", "variance_at_optimum", "loss_at_optimum"):
                vals = [r[key] for r in mine if key in r]
                row[key] = _mean(vals)
                row[key + "_sd"] = float(np.std(vals)) if len(vals) > 1 else float("nan")
            rise, near = [], []
            for seed in sorted({r["seed"] for r in mine}):
                surf = self.surfaces.get(f"{cell['name']}/{seed}")
                if surf is not None:
                    a, b = surface_measures(surf)
                    rise.append(a)
                    near.append(b)
            row["contour_rise"] = _mean(rise)
            row["variance_near_optimum"] = _mean(near)
            row["seeds"] = len({r["seed"] for r in mine})
            rows.append(row)
        return rows

    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "schema": 1,
            "config": self.config,
            "cells": self.cells,
            "runs": self.runs,
            "records": self.records,
            "surfaces": sorted(self.surfaces),
        }
        atomic_write(folder / "landscape.json", json.dumps(meta, default=_plain).encode())
        arrays = {
            f"{key}|{name}": arr for key, d in self.surfaces.items() for name, arr in d.items()
        }
        atomic_write(folder / "landscape_surfaces.npz", lambda f: np.savez(f, **arrays))
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> StudyResult:
        folder = Path(folder)
        meta = json.loads((folder / "landscape.json").read_text())
        if meta.get("schema") != 1:
            raise ValueError(f"{folder}: landscape schema {meta.get('schema')!r}; accepted: 1")
        out = cls(meta["config"], meta["cells"], meta["runs"], meta["records"])
        with np.load(folder / "landscape_surfaces.npz", allow_pickle=False) as z:
            for name in z.files:
                key, arr = name.split("|", 1)
                out.surfaces.setdefault(key, {})[arr] = z[name]
        return out


def surface_measures(surface: dict) -> tuple[float, float]:
    """Two numbers read off the grids (sec. 4.2): the mean rise of the loss over the inner half
    of the contour grid (|alpha|, |beta| <= span/2) above its centre w* (larger = sharper), and
    the mean gradient variance over the central 5 x 5 points of the variance grid ("near the
    optimum"; nan without a variance grid)."""
    loss = np.asarray(surface["loss"], dtype=float)
    n = loss.shape[0]
    m, q = n // 2, n // 4
    rise = float(loss[m - q : m + q + 1, m - q : m + q + 1].mean() - loss[m, m])
    if "variance" not in surface:
        return rise, float("nan")
    var = np.asarray(surface["variance"], dtype=float)
    k, h = var.shape[0] // 2, min(2, var.shape[0] // 2)
    return rise, float(var[k - h : k + h + 1, k - h : k + h + 1].mean())


def _mean(values) -> float:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else float("nan")


def _plain(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"cannot store {type(x).__name__} in landscape.json")


def plan(config: StudyConfig) -> list[tuple[dict, int]]:
    """The study's tasks: (cell as dict, seed) for every cell and seed."""
    return [(cell.to_dict(), seed) for seed in range(config.seeds) for cell in config.cells()]


def run_study(
    config: StudyConfig,
    on_task: Callable[[dict], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel=None,
    client=None,
) -> StudyResult:
    """Run every task of ``plan(config)``: on ``client`` (a ``dask.distributed.Client``) when
    given, else one after another here. ``on_task`` sees each finished task's output;
    ``progress(fraction, message)`` is called as tasks advance; ``cancel()`` True stops it
    (InterruptedError)."""
    cfg = config.to_dict()
    cells = [c.to_dict() for c in config.cells()]
    result = StudyResult(cfg, cells)
    tasks = plan(config)
    say = progress or (lambda frac, msg: None)
    if client is not None:
        futures = [client.submit(study_task, cell, cfg, seed, pure=False) for cell, seed in tasks]
        from dask.distributed import as_completed

        try:
            for done, fut in enumerate(as_completed(futures), 1):
                if cancel is not None and cancel():
                    raise InterruptedError("study cancelled")
                out = fut.result()
                result.add(out)
                if on_task:
                    on_task(out)
                say(done / len(tasks), f"{out['cell']} seed {out['seed']} done (Dask)")
        finally:
            client.cancel([f for f in futures if not f.done()])
        return result
    for k, (cell, seed) in enumerate(tasks):

        def step(stage, frac, k=k, cell=cell, seed=seed):
            say((k + frac) / len(tasks), f"{cell['name']} seed {seed}: {stage}")

        out = study_task(cell, cfg, seed, cancel=cancel, progress=step)
        result.add(out)
        if on_task:
            on_task(out)
    say(1.0, "done")
    return result


def format_table(rows: list[dict]) -> str:
    """The study table as Markdown."""
    if not rows:
        return "(no finished runs)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.4g}"
    return str(v)
