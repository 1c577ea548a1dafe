"""Convergence runs of cell networks (Shu, Wang & Cai 2020, sec. 4.1, figs. 3-4; training as in
appendix A.3, scaled down): SGD with momentum 0.9 and cosine annealing to zero, no
regularisation (appendix A.4), the same budget for every cell; test loss and accuracy recorded
every ``eval_every`` steps as the explorer's usual "step" and "eval" records.

Convergence speed is summarised two ways (sec. 4.1 reads it off the curves):
``test_loss_auc``, the mean test loss over the evaluations (lower = faster), and
``steps_to_target``, the first evaluated step whose test accuracy reaches ``target_acc``
(None if never).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from kernels.cells.cell import Cell
from kernels.cells.network import CellNetwork

Sink = Callable[[dict], None] | None


@dataclass
class TrainResult:
    model: CellNetwork
    records: list[dict]
    final_test_loss: float
    final_test_acc: float
    test_loss_auc: float
    steps_to_target: int | None
    diverged: bool


def _evaluate(model, X, y) -> tuple[float, float]:
    with torch.no_grad():
        logits = model(X)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def train_cell(
    cell: Cell,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    c: int = 16,
    n_cells: int = 2,
    steps: int = 600,
    lr: float = 0.025,
    batch_size: int = 80,
    momentum: float = 0.9,
    eval_every: int = 25,
    seed: int = 0,
    target_acc: float = 0.9,
    sink: Sink = None,
    cancel=None,
    tag: dict | None = None,
) -> TrainResult:
    """Train a network of ``cell`` for ``steps`` SGD steps; records go to ``sink`` and into the
    result. ``tag`` (e.g. variant, lr, seed) is copied into every record."""
    torch.manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    Xtr, ytr = torch.as_tensor(X_train, dtype=torch.float32), torch.as_tensor(y_train)
    Xte, yte = torch.as_tensor(X_test, dtype=torch.float32), torch.as_tensor(y_test)
    model = CellNetwork(cell, Xtr.shape[1], int(n_classes), c, n_cells)
    opt = torch.optim.SGD(model.parameters(), lr=float(lr), momentum=float(momentum))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, int(steps)))
    tag = dict(tag or {})
    records: list[dict] = []

    def emit(rec):
        rec = {**rec, **tag}
        records.append(rec)
        if sink:
            sink(rec)

    n = len(ytr)
    order, pos, diverged = rng.permutation(n), 0, False
    for step in range(1, int(steps) + 1):
        if cancel is not None and cancel():
            raise InterruptedError("training cancelled")
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        idx = torch.as_tensor(order[pos : pos + batch_size])
        pos += batch_size
        loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if not math.isfinite(loss.item()):
            diverged = True
        if step % eval_every == 0 or step == steps:
            test_loss, test_acc = _evaluate(model, Xte, yte)
            emit(
                {
                    "kind": "step",
                    "step": step,
                    "loss": loss.item(),
                    "lr": float(opt.param_groups[0]["lr"]),
                }
            )
            emit({"kind": "eval", "step": step, "test_loss": test_loss, "test_acc": test_acc})
        if diverged:
            break
    evals = [r for r in records if r["kind"] == "eval"]
    losses = np.array([r["test_loss"] for r in evals], dtype=float)
    reached = [r["step"] for r in evals if r["test_acc"] >= target_acc]
    final_loss, final_acc = _evaluate(model, Xte, yte)
    return TrainResult(
        model,
        records,
        final_loss,
        final_acc,
        float(np.nanmean(np.where(np.isfinite(losses), losses, np.nan)))
        if len(losses)
        else float("nan"),
        int(reached[0]) if reached else None,
        diverged,
    )
