"""The switch layer of ShrinkNets: one real-valued on/off switch per unit or channel.

ShrinkNets sec. 3.2, eq. 1: ``Switch(I; theta) = diag(theta) I`` on an input of shape
(B, C, D_1, ..., D_n); theta (C,) is broadcast over every dimension but the feature one.
A unit whose switch is exactly 0 has no influence on the output and can be removed
(sec. 3.5.2). Switches are initialised from N(0, 1) (sec. 3.3).
"""

from __future__ import annotations

import torch
from torch import nn


class Switch(nn.Module):
    """Multiplies feature ``c`` (dim 1 of (N, C) or (N, C, H, W)) by ``switch[c]``.

    The parameter is named ``switch`` so that networks find it (``switch_values``) and
    surgery resizes it along dim 0 with the unit it belongs to.
    """

    def __init__(
        self, num_features: int, generator: torch.Generator | None = None, init: str = "normal"
    ) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"a switch layer needs >= 1 feature, got {num_features}")
        if init == "normal":  # sec. 3.3: sampled from N(0, 1)
            values = torch.randn(num_features, generator=generator)
        elif init == "ones":
            values = torch.ones(num_features)
        else:
            raise ValueError(f"unknown switch init '{init}'; accepted: normal, ones")
        self.switch = nn.Parameter(values)

    @property
    def num_features(self) -> int:
        return self.switch.shape[0]

    def extra_repr(self) -> str:
        return f"{self.num_features}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"Switch of {self.num_features} features got input of shape "
                f"{tuple(x.shape)}; accepted: (N, {self.num_features}, ...)"
            )
        return x * self.switch.view(1, -1, *([1] * (x.ndim - 2)))
