"""Random directions in weight space with the filter-wise normalisation of Li et al. 2018
(*Visualizing the Loss Landscape of Neural Nets*, sec. 4), as used for the loss contours of
Shu, Wang & Cai 2020 (sec. 4.2.1).

For every weight tensor W with d ~ N(0, I) of the same shape, each filter (each output unit: a
row of a linear layer, an output channel of a convolution) is rescaled to the norm of the same
filter of W: ``d_i <- d_i / ||d_i|| * ||W_i||``. Biases (1-D tensors) get a zero direction, as
in Li et al.'s default (they ignore biases and batch-norm parameters); ``include_1d=True``
normalises a 1-D tensor as a single filter instead.
"""

from __future__ import annotations

import torch

Params = dict[str, torch.Tensor]


def filter_normalized_direction(
    params: Params, generator: torch.Generator | None = None, include_1d: bool = False
) -> Params:
    """One random direction, filter-normalised against ``params`` (Li et al. 2018, sec. 4)."""
    out: Params = {}
    for name, w in params.items():
        w = w.detach()
        d = torch.randn(w.shape, generator=generator, dtype=w.dtype).to(w.device)
        if w.dim() <= 1:
            if not include_1d:
                out[name] = torch.zeros_like(w)
                continue
            out[name] = d * (w.norm() / d.norm().clamp_min(1e-12))
            continue
        w_rows, d_rows = w.reshape(w.shape[0], -1), d.reshape(d.shape[0], -1)
        scale = w_rows.norm(dim=1) / d_rows.norm(dim=1).clamp_min(1e-12)
        out[name] = (d_rows * scale[:, None]).reshape(w.shape)
    return out


def perturbed(params: Params, d1: Params, d2: Params, alpha, beta) -> Params:
    """``w* + alpha d1 + beta d2``; alpha, beta are numbers or 1-D tensors (a batch of grid
    points, which becomes the leading dimension of every tensor)."""
    a = torch.as_tensor(alpha, dtype=next(iter(params.values())).dtype)
    b = torch.as_tensor(beta, dtype=a.dtype)
    out = {}
    for n, w in params.items():
        if a.dim() == 0:
            out[n] = w + a * d1[n] + b * d2[n]
        else:
            shape = (-1,) + (1,) * w.dim()
            out[n] = w[None] + a.reshape(shape) * d1[n][None] + b.reshape(shape) * d2[n][None]
    return out
