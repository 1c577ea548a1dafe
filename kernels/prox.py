"""Proximal (shrinkage) operators for the fan-in regularizer.

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 2 (p=1 shrinkage and p=2
group shrinkage, after eq. 3) and Algorithm 1 line 17 / Algorithm 2 line 21
(``shrink(w, alpha_r * lam * |D^t|/|D|)``).  Rows of the torch weight are fan-ins;
trailing dims (conv kernels) are flattened.  All operators act in place under
no_grad and return the tensor.
"""

from __future__ import annotations

import torch

from kernels.regularizers import ACCEPTED_P, fan_ins


def _as_row_threshold(threshold, rows: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(threshold, dtype=rows.dtype, device=rows.device)
    return t.reshape(-1, 1) if t.ndim == 1 else t


@torch.no_grad()
def group_shrink_(W: torch.Tensor, threshold) -> torch.Tensor:
    """Block soft-threshold of each fan-in: w <- w * max(0, 1 - threshold / ||w||).

    The prox of ``threshold * ||w||_2`` (sec. 2, p=2; Alg. 1 line 17).  Rows with
    ``||w|| <= threshold`` become exactly zero; longer rows lose exactly ``threshold``
    in length and keep their direction.  ``threshold`` is a scalar or a (rows,) tensor.
    """
    rows = fan_ins(W)
    t = _as_row_threshold(threshold, rows)
    norm = torch.linalg.vector_norm(rows, ord=2, dim=1, keepdim=True)
    # clamp_min guards 0/0 on zero rows; their factor is 0 anyway.
    factor = torch.clamp(1.0 - t / norm.clamp_min(torch.finfo(rows.dtype).tiny), min=0.0)
    # Write the exact zero rather than relying on w * 0.0 (which would keep -0.0/NaN).
    factor = torch.where(norm > t, factor, torch.zeros_like(factor))
    W.copy_((rows * factor).reshape(W.shape))
    return W


@torch.no_grad()
def soft_threshold_(W: torch.Tensor, threshold) -> torch.Tensor:
    """Elementwise shrinkage w <- sign(w) * max(|w| - threshold, 0): the prox of the p=1
    fan-in regularizer (sec. 2, after eq. 3).  Scalar or (rows,) threshold."""
    rows = fan_ins(W)
    t = _as_row_threshold(threshold, rows)
    W.copy_((torch.sign(rows) * torch.clamp(rows.abs() - t, min=0.0)).reshape(W.shape))
    return W


@torch.no_grad()
def proximal_step_(W: torch.Tensor, lam: float, lr: float, p: int) -> torch.Tensor:
    """Proximal-gradient shrinkage by ``lr * lam`` for the fan-in regularizer (eq. 2)."""
    if p == 1:
        return soft_threshold_(W, lr * lam)
    if p == 2:
        return group_shrink_(W, lr * lam)
    raise ValueError(f"p must be one of {ACCEPTED_P}, got {p!r}")


@torch.no_grad()
def zero_rows(W: torch.Tensor, atol: float = 0.0) -> torch.Tensor:
    """Bool (rows,): which fan-ins are zero (every |w| <= atol) -- the paper's zero units
    (sec. 3; removable per Alg. 1 line 18)."""
    return (fan_ins(W).abs() <= atol).all(dim=1)
