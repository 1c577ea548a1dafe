"""Switches as a relaxation of group sparsity on one layer (ShrinkNets sec. 3.4, 4.3, fig. 1).

Multi-target linear regression and multi-class logistic regression with weights W (p inputs
x k outputs; row j of W is input j's group, the paper's column (A^T)_j) are fitted two ways:

* **group lasso** (eq. 5, 7): ``min_W L(XW + b) + lam * sum_j ||W_j||_2`` -- convex, solved by
  accelerated proximal gradient with the block soft-threshold
  :func:`kernels.prox.group_shrink_` on the rows;
* **switch relaxation** (eq. 6, 8, 9): ``W = diag(beta) A`` and
  ``min_{A, beta} L(X diag(beta) A + b) + lam * ||beta||_1 + lam2 * ||A||_2^2`` -- not
  convex (prop. A.2); lam2 > 0 gives it minima (prop. A.3, A.4). Solved by proximal gradient
  with the soft-threshold :func:`kernels.prox.soft_threshold_` on beta. With
  ``unit_rows=True`` and lam2 = 0 each A_j is kept on the unit sphere (projected after each
  step): then it is the same problem as the group lasso (prop. A.1).

Both use the same solver (momentum with restart and backtracking) and start from the same
least-squares/unregularised fit. Losses are means over examples: ``0.5 * ||Y - pred||^2 / n``
for regression, cross-entropy for logistic regression. The normalised loss divides by the
loss of the intercept-only model, so it lies in [0, 1] (sec. 4.3); sparsity is the share of
inputs whose weights are all below 1e-3 in absolute value (sec. 4.3). No data loading here:
the runner lives in :mod:`explorer.group_sparsity`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from kernels.prox import group_shrink_, soft_threshold_

LOSSES = ("squared", "logistic")
SPARSITY_TOL = 1e-3


def data_loss(pred: torch.Tensor, Y: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss over examples: 0.5 * squared error summed over targets, or cross-entropy."""
    if loss == "squared":
        return 0.5 * (Y - pred).pow(2).sum() / len(Y)
    if loss == "logistic":
        return F.cross_entropy(pred, Y)
    raise ValueError(f"unknown loss '{loss}'; accepted: {', '.join(LOSSES)}")


def null_loss(Y: torch.Tensor, loss: str, k: int | None = None) -> float:
    """Loss of the best intercept-only model (the normaliser of sec. 4.3)."""
    if loss == "squared":
        return float(data_loss(Y.mean(0, keepdim=True).expand_as(Y), Y, loss))
    counts = torch.bincount(Y, minlength=k or int(Y.max()) + 1).double()
    prior = counts / counts.sum()
    return float(-(torch.log(prior[Y])).mean())


def group_lasso_objective(X, Y, W, b, lam, loss="squared") -> torch.Tensor:
    """L(XW + b) + lam * sum_j ||W_j||_2 (eq. 5, 7; sqrt of group size folded into lam)."""
    return data_loss(X @ W + b, Y, loss) + lam * W.norm(dim=1).sum()


def switch_objective(X, Y, A, beta, b, lam, lam2=0.0, loss="squared") -> torch.Tensor:
    """L(X diag(beta) A + b) + lam * ||beta||_1 + lam2 * ||A||_2^2 (eq. 6, 8, 9)."""
    return data_loss((X * beta) @ A + b, Y, loss) + lam * beta.abs().sum() + lam2 * A.pow(2).sum()


def sparsity(W: torch.Tensor, tol: float = SPARSITY_TOL) -> float:
    """Share of inputs (rows of W) whose weights are all below ``tol`` in absolute value."""
    return float((W.abs() < tol).all(dim=1).double().mean())


def selected(W: torch.Tensor, tol: float = SPARSITY_TOL) -> np.ndarray:
    """Indices of the inputs a fit keeps (some weight at least ``tol``)."""
    return torch.nonzero(~(W.abs() < tol).all(dim=1)).flatten().cpu().numpy()


def _solve(
    params: list[torch.Tensor],
    smooth: Callable[[], torch.Tensor],
    prox: Callable[[float], object],
    nonsmooth: Callable[[], float],
    max_iter: int,
    tol: float,
) -> int:
    """Proximal gradient with momentum, adaptive restart and backtracking, in place.

    Minimises smooth(params) + nonsmooth(params); ``prox(t)`` applies the prox of
    t * nonsmooth to the params (and any projection). Returns the iterations used.
    """
    step, prev = 1.0, [p.detach().clone() for p in params]
    momentum, objective = 1.0, None
    for it in range(max_iter):
        # extrapolated point y = x + (t_k - 1) / t_{k+1} (x - x_prev)
        t_next = 0.5 * (1 + (1 + 4 * momentum**2) ** 0.5)
        coef = (momentum - 1) / t_next
        x = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, xp, pp in zip(params, x, prev, strict=True):
                p.copy_(xp + coef * (xp - pp))
        y = [p.detach().clone() for p in params]
        for p in params:
            p.grad = None
        smooth_y = smooth()
        grads = torch.autograd.grad(smooth_y, params)
        f_y = float(smooth_y.detach())
        while True:
            with torch.no_grad():
                for p, yp, g in zip(params, y, grads, strict=True):
                    p.copy_(yp - step * g)
                prox(step)
                f_new = float(smooth())
                lin = sum(
                    float((g * (p - yp)).sum()) for p, yp, g in zip(params, y, grads, strict=True)
                )
                quad = sum(float((p - yp).pow(2).sum()) for p, yp in zip(params, y, strict=True))
            if f_new <= f_y + lin + quad / (2 * step) + 1e-12 or step < 1e-12:
                break
            step *= 0.5
        new_objective = f_new + nonsmooth()
        if objective is not None and new_objective > objective:  # restart the momentum
            with torch.no_grad():
                for p, xp in zip(params, x, strict=True):
                    p.copy_(xp)
            momentum, prev = 1.0, x
            continue
        prev, momentum = x, t_next
        if objective is not None and abs(objective - new_objective) <= tol * max(
            abs(objective), 1e-12
        ):
            return it + 1
        objective = new_objective
        step *= 1.2
    return max_iter


@dataclass
class Fit:
    """One regularised fit: the effective weights W (p, k), intercept b and its figures."""

    method: str
    lam: float
    W: torch.Tensor
    b: torch.Tensor
    objective: float
    loss: float  # data loss (mean over examples)
    normalised_loss: float  # loss / intercept-only loss, clipped to [0, 1]
    sparsity: float
    iterations: int


def _targets(Y: torch.Tensor, loss: str) -> tuple[torch.Tensor, int]:
    if loss == "squared":
        Y = Y.double()
        return (Y[:, None] if Y.ndim == 1 else Y), (1 if Y.ndim == 1 else Y.shape[1])
    if loss == "logistic":
        Y = Y.long()
        return Y, int(Y.max()) + 1
    raise ValueError(f"unknown loss '{loss}'; accepted: {', '.join(LOSSES)}")


def unregularised_fit(X, Y, loss="squared", max_iter=3000, tol=1e-10):
    """Least-squares (or unpenalised logistic) weights and intercept: the common start."""
    X = X.double()
    Y, k = _targets(Y, loss)
    if loss == "squared":
        Xc, Yc = X - X.mean(0), Y - Y.mean(0)
        W = torch.linalg.lstsq(Xc, Yc, driver="gelsd").solution
        return W, Y.mean(0) - X.mean(0) @ W
    W = torch.zeros(X.shape[1], k, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    _solve(
        [W, b],
        lambda: data_loss(X @ W + b, Y, loss) + 1e-4 * W.pow(2).sum(),
        lambda t: None,
        lambda: 0.0,
        max_iter,
        tol,
    )
    return W.detach(), b.detach()


def _finish(method, lam, W, b, objective, X, Y, loss, iterations) -> Fit:
    with torch.no_grad():
        value = float(data_loss(X @ W + b, Y, loss))
        k = W.shape[1]
        norm = min(max(value / max(null_loss(Y, loss, k), 1e-300), 0.0), 1.0)
    return Fit(method, float(lam), W, b, float(objective), value, norm, sparsity(W), iterations)


def fit_group_lasso(X, Y, lam, loss="squared", start=None, max_iter=5000, tol=1e-9) -> Fit:
    """Group lasso (eq. 5, 7) by accelerated proximal gradient with row-wise group shrink."""
    X = X.double()
    Y, k = _targets(Y, loss)
    W0, b0 = start if start is not None else unregularised_fit(X, Y, loss)
    W = W0.clone().double().requires_grad_(True)
    b = b0.clone().double().requires_grad_(True)
    its = _solve(
        [W, b],
        lambda: data_loss(X @ W + b, Y, loss),
        lambda t: group_shrink_(W.data, t * lam),
        lambda: lam * float(W.detach().norm(dim=1).sum()),
        max_iter,
        tol,
    )
    W, b = W.detach(), b.detach()
    return _finish(
        "group lasso", lam, W, b, group_lasso_objective(X, Y, W, b, lam, loss), X, Y, loss, its
    )


def fit_switch(
    X, Y, lam, lam2=1e-3, loss="squared", start=None, unit_rows=False, max_iter=5000, tol=1e-9
) -> Fit:
    """Switch relaxation (eq. 6, 8/9): W = diag(beta) A, L1 on the switches beta.

    Starts from A = W0, beta = 1 (``unit_rows``: A_j = W0_j / ||W0_j||, beta_j = ||W0_j||,
    the map of prop. A.1's proof).
    """
    X = X.double()
    Y, k = _targets(Y, loss)
    W0, b0 = start if start is not None else unregularised_fit(X, Y, loss)
    W0 = W0.double()
    if unit_rows:
        norms = W0.norm(dim=1).clamp_min(1e-12)
        A0, beta0 = W0 / norms[:, None], norms
    else:
        A0, beta0 = W0.clone(), torch.ones(W0.shape[0], dtype=torch.float64)
    A = A0.clone().requires_grad_(True)
    beta = beta0.clone().requires_grad_(True)
    b = b0.clone().double().requires_grad_(True)

    def prox(t: float) -> None:
        soft_threshold_(beta.data.view(-1, 1), t * lam)
        if unit_rows:  # projection onto the constraint of prop. A.1
            A.data.div_(A.data.norm(dim=1, keepdim=True).clamp_min(1e-12))

    its = _solve(
        [A, beta, b],
        lambda: data_loss((X * beta) @ A + b, Y, loss) + lam2 * A.pow(2).sum(),
        prox,
        lambda: lam * float(beta.detach().abs().sum()),
        max_iter,
        tol,
    )
    A, beta, b = A.detach(), beta.detach(), b.detach()
    W = beta[:, None] * A
    return _finish(
        "switch", lam, W, b, switch_objective(X, Y, A, beta, b, lam, lam2, loss), X, Y, loss, its
    )


def lambda_max(X, Y, loss="squared") -> float:
    """Smallest lam at which the group lasso keeps no input: max_j ||grad_j L(0, b*)||_2."""
    X = X.double()
    Y, k = _targets(Y, loss)
    W = torch.zeros(X.shape[1], k, dtype=torch.float64, requires_grad=True)
    if loss == "squared":
        b = Y.mean(0)
    else:
        counts = torch.bincount(Y, minlength=k).double().clamp_min(1e-12)
        b = torch.log(counts / counts.sum())
    (grad,) = torch.autograd.grad(data_loss(X @ W + b, Y, loss), [W])
    return float(grad.norm(dim=1).max())


def sweep(
    X,
    Y,
    lams_group: Sequence[float],
    lams_switch: Sequence[float],
    loss="squared",
    lam2=1e-3,
    max_iter=5000,
) -> list[Fit]:
    """Fit both methods along their lambda grids, all from the same unregularised start."""
    start = unregularised_fit(X, Y, loss)
    fits = [fit_group_lasso(X, Y, lam, loss, start, max_iter) for lam in lams_group]
    fits += [fit_switch(X, Y, lam, lam2, loss, start, max_iter=max_iter) for lam in lams_switch]
    return fits


def frontier_area(fits: Sequence[Fit], n_inputs: int) -> float:
    """Mean over sparsity levels s = 0, 1/p, ..., 1 of the best normalised loss reached at
    sparsity >= s (1 where none is): lower means a better loss/sparsity trade-off."""
    levels = np.arange(n_inputs + 1) / n_inputs
    best = []
    for s in levels:
        losses = [f.normalised_loss for f in fits if f.sparsity >= s - 1e-12]
        best.append(min(losses + [1.0]))
    return float(np.mean(best))
