"""Loss contour s(alpha, beta) and gradient-variance map g(alpha, beta) around trained weights
(Shu, Wang & Cai 2020, sec. 4.2.1 and 4.2.2):

    s(alpha, beta) = E_i f_i(w* + alpha w1 + beta w2)
    g(alpha, beta) = Var(grad f_i(w* + alpha w1 + beta w2))
                   = E_i || grad f_i - E_j grad f_j ||^2   (the trace of the covariance, the
                     quantity bounded in Theorem 4.3 / sigma^2 of Theorem 4.1)

with w1, w2 filter-normalised random directions (Li et al. 2018). The grid is evaluated in
chunks of grid points with ``torch.func.functional_call`` + ``vmap`` (one batched pass per
chunk instead of one pass per point); per-example gradients come from ``vmap(grad(...))``.
The ``*_loop`` functions are the plain references (a Python loop over grid points, and over
examples for the gradients) that the tests compare against and the benchmark times.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from kernels.landscape.directions import Params, perturbed

Progress = Callable[[int, int], None] | None


def model_params(model: nn.Module) -> Params:
    """Detached copies of a model's parameters (the w* of sec. 4.2.1)."""
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _loss(model: nn.Module):
    def loss(params: Params, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, params, (X,)), y)

    return loss


def _example_loss(model: nn.Module):
    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, params, (x[None],)), y[None])

    return loss


def grid_points(alphas, betas) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened grid (row-major over betas then alphas: index = i_beta * len(alphas) + i_a)."""
    a = torch.as_tensor(np.asarray(alphas, dtype=np.float32))
    b = torch.as_tensor(np.asarray(betas, dtype=np.float32))
    bb, aa = torch.meshgrid(b, a, indexing="ij")
    return aa.reshape(-1), bb.reshape(-1)


def _chunks(n: int, size: int):
    size = max(1, int(size))
    return [(i, min(n, i + size)) for i in range(0, n, size)]


def _variance(per_example: Params) -> torch.Tensor:
    """E_i ||g_i - mean g||^2 summed over all parameter tensors (population variance)."""
    terms = []
    for g in per_example.values():
        g = g.reshape(g.shape[0], -1)
        terms.append(((g - g.mean(0, keepdim=True)) ** 2).sum(1).mean())
    return sum(terms[1:], terms[0])


def _n_params(params: Params) -> int:
    return sum(p.numel() for p in params.values())


def _on_grid(
    batch: Callable[[Params], torch.Tensor],
    params: Params,
    d1: Params,
    d2: Params,
    alphas,
    betas,
    chunk: int,
    progress: Progress,
    cancel,
    what: str,
) -> np.ndarray:
    """``batch`` of the perturbed weights of each chunk of grid points (stacked along a first
    dimension), chunk after chunk; shape (len(betas), len(alphas))."""
    aa, bb = grid_points(alphas, betas)
    out = torch.empty(len(aa))
    parts = _chunks(len(aa), chunk)
    for k, (i, j) in enumerate(parts):
        if cancel is not None and cancel():
            raise InterruptedError(f"{what} cancelled")
        out[i:j] = batch(perturbed(params, d1, d2, aa[i:j], bb[i:j])).detach()
        if progress:
            progress(k + 1, len(parts))
    return out.reshape(len(betas), len(alphas)).numpy()


def _loop_on_grid(point: Callable[[Params], float], params, d1, d2, alphas, betas) -> np.ndarray:
    """The references' grid: ``point`` of the perturbed weights, one grid point at a time."""
    out = np.empty((len(betas), len(alphas)))
    for ib, b in enumerate(betas):
        for ia, a in enumerate(alphas):
            out[ib, ia] = point(perturbed(params, d1, d2, float(a), float(b)))
    return out


def loss_surface(
    model: nn.Module,
    params: Params,
    d1: Params,
    d2: Params,
    alphas,
    betas,
    X: torch.Tensor,
    y: torch.Tensor,
    chunk: int | None = None,
    progress: Progress = None,
    cancel=None,
) -> np.ndarray:
    """s(alpha, beta) on the grid, shape (len(betas), len(alphas)); vmap over grid points."""
    loss = vmap(_loss(model), in_dims=(0, None, None))

    def batch(points: Params) -> torch.Tensor:
        with torch.no_grad():
            return loss(points, X, y)

    chunk = int(chunk or 128)  # 128 points of a small net: a few MiB of weights/activations
    return _on_grid(batch, params, d1, d2, alphas, betas, chunk, progress, cancel, "loss surface")


def loss_surface_loop(
    model: nn.Module,
    params: Params,
    d1: Params,
    d2: Params,
    alphas,
    betas,
    X: torch.Tensor,
    y: torch.Tensor,
) -> np.ndarray:
    """The reference: one forward pass per grid point, in a Python loop."""
    loss = _loss(model)

    def point(p: Params) -> float:
        return float(loss(p, X, y))

    with torch.no_grad():
        return _loop_on_grid(point, params, d1, d2, alphas, betas)


def gradient_variance(model: nn.Module, params: Params, X: torch.Tensor, y: torch.Tensor) -> float:
    """g at one point: per-example gradients by ``vmap(grad(.))`` (sec. 4.2.2)."""
    per_ex = vmap(grad(_example_loss(model)), in_dims=(None, 0, 0))(params, X, y)
    return float(_variance(per_ex))


def gradient_variance_loop(
    model: nn.Module, params: Params, X: torch.Tensor, y: torch.Tensor
) -> float:
    """The reference for one point: a backward pass per example, in a Python loop."""
    loss = _example_loss(model)
    grads = [torch.func.grad(loss)(params, X[i], y[i]) for i in range(X.shape[0])]
    stacked = {n: torch.stack([g[n] for g in grads]) for n in params}
    return float(_variance(stacked))


def variance_surface(
    model: nn.Module,
    params: Params,
    d1: Params,
    d2: Params,
    alphas,
    betas,
    X: torch.Tensor,
    y: torch.Tensor,
    chunk: int | None = None,
    progress: Progress = None,
    cancel=None,
) -> np.ndarray:
    """g(alpha, beta) on the grid, shape (len(betas), len(alphas)): vmap over grid points of
    vmap(grad) over examples."""
    per_ex = vmap(grad(_example_loss(model)), in_dims=(None, 0, 0))
    batch = vmap(lambda p: _variance(per_ex(p, X, y)), in_dims=(0,))
    if chunk is None:  # per-example gradients of a chunk near 256 MiB
        per_point = 4 * X.shape[0] * _n_params(params) * 3
        n_points = len(alphas) * len(betas)
        chunk = int(max(1, min(n_points, (256 << 20) // max(1, per_point))))
    return _on_grid(
        batch, params, d1, d2, alphas, betas, chunk, progress, cancel, "gradient-variance map"
    )


def variance_surface_loop(
    model: nn.Module,
    params: Params,
    d1: Params,
    d2: Params,
    alphas,
    betas,
    X: torch.Tensor,
    y: torch.Tensor,
    per_example_loop: bool = False,
) -> np.ndarray:
    """The reference: a Python loop over grid points (each with vmap(grad) over examples, or
    with a loop over examples when ``per_example_loop``)."""
    at = gradient_variance_loop if per_example_loop else gradient_variance

    def point(p: Params) -> float:
        return at(model, p, X, y)

    return _loop_on_grid(point, params, d1, d2, alphas, betas)
