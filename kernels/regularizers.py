"""Fan-in and fan-out regularizers of nonparametric networks.

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 2, eq. 2 (fan-in) and
eq. 3 (fan-out).  The paper's fan-in of unit j is column j of W_l (shape
d_{l-1} x d_l); torch stores weights as (out, in, *kernel), so a fan-in is a ROW
of the torch weight with all trailing dims flattened, and a fan-out of an input
unit i is the flattened slice ``W[:, i, ...]`` of the NEXT layer's weight.
"""

from __future__ import annotations

import torch

ACCEPTED_P = (1, 2)


def fan_ins(W: torch.Tensor) -> torch.Tensor:
    """View of ``W`` as (units, fan-in length): one fan-in per row (eq. 2's inner vector)."""
    if W.ndim < 2:
        raise ValueError(f"fan-ins need a weight with ndim >= 2, got shape {tuple(W.shape)}")
    return W.reshape(W.shape[0], -1)


def fan_outs(W_next: torch.Tensor) -> torch.Tensor:
    """(inputs, fan-out length): the fan-out of input unit i is ``W_next[:, i, ...]`` (eq. 3)."""
    if W_next.ndim < 2:
        raise ValueError(f"fan-outs need a weight with ndim >= 2, got shape {tuple(W_next.shape)}")
    return W_next.transpose(0, 1).reshape(W_next.shape[1], -1)


def _check_p(p: int) -> None:
    if p not in ACCEPTED_P:
        raise ValueError(f"p must be one of {ACCEPTED_P} (eq. 2-3 with shrinkage), got {p!r}")


def _group_penalty(groups: torch.Tensor, lam: float, p: int) -> torch.Tensor:
    _check_p(p)
    if p == 1:
        return lam * groups.abs().sum()
    # vector_norm has a zero subgradient at the zero vector, so dead units give no NaN.
    return lam * torch.linalg.vector_norm(groups, ord=2, dim=1).sum()


def fan_in_norm(W: torch.Tensor) -> torch.Tensor:
    """l2 length of each fan-in, shape (rows,) (eq. 2 with p=2, per unit)."""
    return torch.linalg.vector_norm(fan_ins(W), ord=2, dim=1)


def fan_out_norm(W_next: torch.Tensor) -> torch.Tensor:
    """l2 length of each fan-out, shape (cols,): columns of the next layer's weight (eq. 3)."""
    return torch.linalg.vector_norm(fan_outs(W_next), ord=2, dim=1)


def fan_in_penalty(W: torch.Tensor, lam: float, p: int) -> torch.Tensor:
    """Omega_in of one layer (eq. 2): lam * sum_j ||fan-in_j||_p; differentiable.

    p=1 sums |w| over all weights, p=2 sums the row l2 lengths.
    """
    return _group_penalty(fan_ins(W), lam, p)


def fan_out_penalty(W: torch.Tensor, lam: float, p: int) -> torch.Tensor:
    """Omega_out of one layer (eq. 3): lam * sum_i ||fan-out_i||_p over the columns of ``W``."""
    return _group_penalty(fan_outs(W), lam, p)
