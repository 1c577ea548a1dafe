"""``python -m explorer groupsparsity``: the loss/sparsity trade-off of switches vs the group
lasso (ShrinkNets sec. 4.3, fig. 1) on three data sets, printed as a table.

* ``synthetic``: multi-target linear regression, n=200 examples, p=30 inputs of which the
  first 5 are relevant, 5 targets, Gaussian noise; the table adds the recovery of the
  relevant inputs (precision/recall of the kept inputs).
* ``linnerud``: scikit-learn's Linnerud multi-target regression (3 exercises -> 3
  physiological measurements, 20 people).
* ``digits``: multi-class logistic regression on the 8x8 digits (64 pixel inputs, 10 classes).

The paper's data sets (scm1d, oes97, gina_prior2, gas sensor drift) are OpenML downloads and
not available offline; these stand in for them. Inputs are standardised; regression targets too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from kernels.group_sparsity import Fit, frontier_area, lambda_max, selected, sweep
from kernels.records import GROUPSPARSITY, GROUPSPARSITY_DONE, GROUPSPARSITY_ERROR

DATASETS = ("synthetic", "linnerud", "digits")


@dataclass
class Problem:
    name: str
    X: torch.Tensor
    Y: torch.Tensor
    loss: str
    relevant: np.ndarray | None = None


def _standardise(a: np.ndarray) -> np.ndarray:
    std = a.std(0)
    return (a - a.mean(0)) / np.where(std > 0, std, 1.0)


def load_problem(name: str, seed: int = 0) -> Problem:
    if name == "synthetic":
        rng = np.random.default_rng(seed)
        n, p, k, relevant = 200, 30, 5, 5
        X = rng.standard_normal((n, p))
        W = np.zeros((p, k))
        W[:relevant] = rng.standard_normal((relevant, k))
        Y = X @ W + 1.0 * rng.standard_normal((n, k))
        return Problem(
            name,
            torch.tensor(_standardise(X)),
            torch.tensor(_standardise(Y)),
            "squared",
            np.arange(relevant),
        )
    if name == "linnerud":
        from sklearn.datasets import load_linnerud

        d = load_linnerud()
        return Problem(
            name,
            torch.tensor(_standardise(d.data.astype(float))),
            torch.tensor(_standardise(d.target.astype(float))),
            "squared",
        )
    if name == "digits":
        from explorer.data.digits import _digits

        X, y = _digits()
        return Problem(
            name,
            torch.tensor(_standardise(np.asarray(X, dtype=float))),
            torch.tensor(np.asarray(y)),
            "logistic",
        )
    raise ValueError(f"unknown group-sparsity data set '{name}'; accepted: {', '.join(DATASETS)}")


def run_problem(
    problem: Problem, points: int = 10, lam2: float = 1e-3, max_iter: int = 3000
) -> list[Fit]:
    """Sweep both methods over lambda grids wide enough to go from dense to empty."""
    top = lambda_max(problem.X, problem.Y, problem.loss)
    lams_group = top * np.logspace(0, -3, points)
    lams_switch = top * np.logspace(0.5, -3.5, points)
    return sweep(
        problem.X, problem.Y, list(lams_group), list(lams_switch), problem.loss, lam2, max_iter
    )


def recovery(fit: Fit, relevant: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the inputs a fit keeps against the known relevant ones."""
    kept = set(selected(fit.W).tolist())
    hits = len(kept & set(relevant.tolist()))
    return (hits / len(kept) if kept else 1.0), hits / len(relevant)


def table(names=DATASETS, points: int = 10, lam2: float = 1e-3) -> str:
    lines = [
        f"{'data set':10s} {'method':12s} {'lambda':>10s} {'loss':>7s} {'sparsity':>8s}"
        f" {'recovery (prec/rec)':>20s}"
    ]
    summary = []
    for name in names:
        problem = load_problem(name)
        fits = run_problem(problem, points, lam2)
        for fit in fits:
            rec = ""
            if problem.relevant is not None:
                prec, rec_ = recovery(fit, problem.relevant)
                rec = f"{prec:.2f}/{rec_:.2f}"
            lines.append(
                f"{name:10s} {fit.method:12s} {fit.lam:10.3g} "
                f"{fit.normalised_loss:7.4f} {fit.sparsity:8.3f} {rec:>20s}"
            )
        p = problem.X.shape[1]
        for method in ("group lasso", "switch"):
            mine = [f for f in fits if f.method == method]
            extra = ""
            if problem.relevant is not None:
                exact = any(recovery(f, problem.relevant) == (1.0, 1.0) for f in mine)
                extra = f", exact support recovered: {'yes' if exact else 'no'}"
            summary.append(
                f"{name:10s} {method:12s} frontier area {frontier_area(mine, p):.4f}"
                f" (lower = closer fit at equal sparsity){extra}"
            )
    return "\n".join(lines + ["", *summary])


def main(names=DATASETS, points: int = 10, lam2: float = 1e-3) -> int:
    print(table(names, points, lam2))
    return 0


def sweep_records(
    name: str, points: int = 10, lam2: float = 1e-3, max_iter: int = 3000, seed: int = 0
):
    """The sweep of :func:`run_problem` one fit at a time, as plain dict records (kind
    "groupsparsity": method, dataset, lam, loss, sparsity), the two methods interleaved so a
    live plot fills both curves together. ``loss`` is the normalised loss of sec. 4.3, in
    [0, 1]; ``sparsity`` the share of inputs dropped, in [0, 1]."""
    from kernels.group_sparsity import fit_group_lasso, fit_switch, unregularised_fit

    if points < 1:
        raise ValueError(f"a sweep needs at least 1 point per method; got {points}")
    problem = load_problem(name, seed)
    X, Y, loss = problem.X, problem.Y, problem.loss
    top = lambda_max(X, Y, loss)
    lams_group = top * np.logspace(0, -3, points)
    lams_switch = top * np.logspace(0.5, -3.5, points)
    start = unregularised_fit(X, Y, loss)
    for lam_g, lam_s in zip(lams_group, lams_switch, strict=True):
        for fit in (
            fit_group_lasso(X, Y, lam_g, loss, start, max_iter),
            fit_switch(X, Y, lam_s, lam2, loss, start, max_iter=max_iter),
        ):
            yield {
                "kind": GROUPSPARSITY,
                "method": fit.method,
                "dataset": name,
                "lam": fit.lam,
                "loss": fit.normalised_loss,
                "sparsity": fit.sparsity,
            }


class SweepThread:
    """Runs :func:`sweep_records` on a background thread, putting its records on a
    ``queue.Queue``; the page drains them on its own thread (the thread never touches
    Bokeh/Panel objects). The last record is kind "groupsparsity_done" or, when the sweep
    raised, "groupsparsity_error" with the message."""

    def __init__(self) -> None:
        import queue

        self.queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, name: str, points: int = 10, lam2: float = 1e-3, max_iter: int = 3000) -> bool:
        """Start a sweep; False (and nothing started) while one still runs."""
        if self.running:
            return False
        thread = threading.Thread(
            target=self._run,
            args=(name, points, lam2, max_iter),
            name=f"group-sparsity-{name}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        return True

    def _run(self, name, points, lam2, max_iter) -> None:
        n = 0
        try:
            for rec in sweep_records(name, points, lam2, max_iter):
                self.queue.put(rec)
                n += 1
        except Exception as exc:  # noqa: BLE001 -- any failure becomes a message in the page
            self.queue.put(
                {
                    "kind": GROUPSPARSITY_ERROR,
                    "dataset": name,
                    "message": f"group-sparsity sweep on {name} failed: "
                    f"{type(exc).__name__}: {exc}",
                }
            )
            return
        self.queue.put({"kind": GROUPSPARSITY_DONE, "dataset": name, "fits": n})

    def drain(self, limit: int = 1000) -> list[dict]:
        import queue

        out: list[dict] = []
        while len(out) < limit:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return out

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
