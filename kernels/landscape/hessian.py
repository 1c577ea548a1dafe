"""The largest Hessian eigenvalue of the loss by power iteration on Hessian-vector products
(the curvature behind the Lipschitz constant L of Shu, Wang & Cai 2020, sec. 4.2.1 and
Theorem 4.1: for a twice-differentiable loss, L-smooth means ||H|| <= L).

Hessian-vector products are forward-over-reverse: ``jvp(grad(f), (w,), (v,))``; the Hessian is
never formed. Power iteration converges to the eigenvalue of largest magnitude; the Rayleigh
quotient ``v^T H v`` is returned (signed).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import grad, jvp

Params = dict[str, torch.Tensor]


def hvp(loss: Callable[[Params], torch.Tensor], params: Params, v: Params) -> Params:
    """H v for the Hessian H of ``loss`` at ``params``."""
    return jvp(grad(loss), (params,), (v,))[1]


def _dot(a: Params, b: Params) -> torch.Tensor:
    terms = [(a[n] * b[n]).sum() for n in a]
    return sum(terms[1:], terms[0])


def top_eigenvalue(
    loss: Callable[[Params], torch.Tensor],
    params: Params,
    iters: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
) -> tuple[float, int]:
    """(largest-magnitude Hessian eigenvalue, iterations used) by power iteration.

    Stops when the Rayleigh quotient changes by less than ``tol`` relative to its value.
    """
    g = torch.Generator().manual_seed(int(seed))
    params = {n: p.detach() for n, p in params.items()}
    v = {
        n: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) for n, p in params.items()
    }
    norm = _dot(v, v).sqrt()
    v = {n: x / norm for n, x in v.items()}
    lam = 0.0
    for it in range(1, int(iters) + 1):
        hv = hvp(loss, params, v)
        new = float(_dot(v, hv))
        norm = _dot(hv, hv).sqrt()
        if float(norm) == 0.0:
            return 0.0, it
        v = {n: x / norm for n, x in hv.items()}
        if it > 1 and abs(new - lam) <= tol * max(abs(new), 1e-12):
            return new, it
        lam = new
    return lam, int(iters)
