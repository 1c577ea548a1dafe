"""All landscape measures of one trained network in one call (Shu, Wang & Cai 2020, sec. 4.2):
loss contour and gradient-variance map on a grid along two filter-normalised random directions,
and the top Hessian eigenvalue at the weights. Works for any ``nn.Module`` mapping a batch of
inputs to logits (a cell network, or an explorer session's current net); it reads a deep copy of
the weights, so the caller may go on training the original.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from kernels.landscape.directions import filter_normalized_direction
from kernels.landscape.hessian import top_eigenvalue
from kernels.landscape.surface import loss_surface, model_params, variance_surface


@dataclass
class LandscapeResult:
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray  # s(alpha, beta), shape (len(betas), len(alphas))
    variance: np.ndarray | None  # g(alpha, beta) on the (possibly coarser) variance grid
    var_alphas: np.ndarray | None
    var_betas: np.ndarray | None
    top_eigenvalue: float
    hessian_iters: int
    loss_at_optimum: float
    variance_at_optimum: float
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "top_eigenvalue": self.top_eigenvalue,
            "loss_at_optimum": self.loss_at_optimum,
            "variance_at_optimum": self.variance_at_optimum,
            "hessian_iters": self.hessian_iters,
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"alphas": self.alphas, "betas": self.betas, "loss": self.loss}
        if self.variance is not None:
            assert self.var_alphas is not None and self.var_betas is not None  # set together
            out.update(variance=self.variance, var_alphas=self.var_alphas, var_betas=self.var_betas)
        return out


def analyse_network(
    model: nn.Module,
    X: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    grid: int = 31,
    span: float = 1.0,
    variance_grid: int | None = None,
    seed: int = 0,
    hessian_iters: int = 100,
    X_hessian=None,
    y_hessian=None,
    progress: Callable[[str, float], None] | None = None,
    cancel=None,
) -> LandscapeResult:
    """Contour, gradient-variance map (``variance_grid`` points a side, default ``grid``; 0
    skips it) and top Hessian eigenvalue of ``model`` on (X, y), on a copy of its weights.

    The Hessian is taken on (X_hessian, y_hessian), default (X, y).
    """
    if int(grid) < 2:
        raise ValueError(f"grid must have at least 2 points a side, got {grid}")
    net = copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    y = torch.as_tensor(np.asarray(y, dtype=np.int64))
    Xh = X if X_hessian is None else torch.as_tensor(np.asarray(X_hessian, dtype=np.float32))
    yh = y if y_hessian is None else torch.as_tensor(np.asarray(y_hessian, dtype=np.int64))
    params = model_params(net)
    g = torch.Generator().manual_seed(int(seed))
    d1 = filter_normalized_direction(params, g)
    d2 = filter_normalized_direction(params, g)
    alphas = np.linspace(-span, span, int(grid), dtype=np.float32)
    betas = alphas.copy()
    say = progress or (lambda stage, frac: None)

    say("loss contour", 0.0)
    loss = loss_surface(
        net,
        params,
        d1,
        d2,
        alphas,
        betas,
        X,
        y,
        progress=lambda k, n: say("loss contour", k / n),
        cancel=cancel,
    )
    vgrid = int(grid if variance_grid is None else variance_grid)
    variance = va = None
    if vgrid >= 2:
        va = np.linspace(-span, span, vgrid, dtype=np.float32)
        say("gradient variance", 0.0)
        variance = variance_surface(
            net,
            params,
            d1,
            d2,
            va,
            va,
            X,
            y,
            progress=lambda k, n: say("gradient variance", k / n),
            cancel=cancel,
        )
    from kernels.landscape.surface import gradient_variance

    var0 = gradient_variance(net, params, X, y)
    say("Hessian", 0.0)
    if cancel is not None and cancel():
        raise InterruptedError("landscape analysis cancelled")
    eig, iters = top_eigenvalue(
        lambda p: F.cross_entropy(functional_call(net, p, (Xh,)), yh),
        params,
        iters=hessian_iters,
        seed=seed,
    )
    say("done", 1.0)
    with torch.no_grad():
        loss0 = float(F.cross_entropy(net(X), y))
    return LandscapeResult(
        alphas,
        betas,
        loss,
        variance,
        va,
        None if va is None else va.copy(),
        eig,
        iters,
        loss0,
        var0,
    )
