"""Capped batch normalization (CapNorm).

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 3.2: each pre-activation z
becomes (z - mu) / max(sigma, 1), mu and sigma being that unit's mean and standard
deviation over the mini-batch.  No free scale/shift: a learnable scale would let the
network undo the fan-in shrinkage and negate the regularizer (sec. 3.2).
"""

from __future__ import annotations

import torch
from torch import nn


class CapNorm(nn.Module):
    """CapNorm over dim 1 of inputs shaped (N, C) or (N, C, *) (sec. 3.2).

    Training: batch statistics, sigma = population std (as in the paper's "standard
    deviation across the current mini-batch"); running_mean / running_var updated with
    ``momentum`` like ``nn.BatchNorm1d`` (running_var uses the unbiased variance).
    Eval: the running statistics replace the batch ones.

    Units are added and removed during training (Alg. 1 lines 19, 24): surgery resizes
    the buffers in place (``buf.data = new``), so no feature count is stored; it is read
    from the input and checked against the buffers.
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, num_features: int, momentum: float = 0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    @property
    def num_features(self) -> int:
        return int(self.running_mean.shape[0])

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}"

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim < 2:
            raise ValueError(f"CapNorm expects (N, C) or (N, C, *), got shape {tuple(z.shape)}")
        units = z.shape[1]
        if units != self.running_mean.shape[0] or units != self.running_var.shape[0]:
            raise ValueError(
                f"CapNorm got {units} units but its buffers hold "
                f"{self.running_mean.shape[0]} / {self.running_var.shape[0]}; "
                "resize running_mean/running_var along dim 0 when units change"
            )
        stat_shape = (1, units) + (1,) * (z.ndim - 2)
        if self.training:
            dims = [0, *range(2, z.ndim)]
            mu = z.mean(dim=dims, keepdim=True)
            var = ((z - mu) ** 2).mean(dim=dims, keepdim=True)
            self._update_running(mu, var, z.numel() // units)
        else:
            mu = self.running_mean.view(stat_shape)
            var = self.running_var.view(stat_shape)
        # max(sigma, 1) == sqrt(max(var, 1)); clamping var first keeps the gradient finite
        # when var == 0 (batch of one, dead unit) and zero where sigma < 1.
        return (z - mu) / torch.sqrt(torch.clamp(var, min=1.0))

    @torch.no_grad()
    def _update_running(self, mu: torch.Tensor, var: torch.Tensor, n: int) -> None:
        m = self.momentum
        self.running_mean.mul_(1 - m).add_(m * mu.detach().flatten())
        if n > 1:  # the unbiased variance of one sample is undefined; keep the old estimate
            self.running_var.mul_(1 - m).add_(m * var.detach().flatten() * (n / (n - 1)))
