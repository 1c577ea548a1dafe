"""The network TINY grows: a DynamicMLP with biases and a chosen activation.

The derivation of the best neurons linearises each new neuron around a zero fan-in, so it
assumes sigma(0) = 0 and sigma differentiable at 0 (TINY paper, sec. 2.1). ReLU (the
DynamicMLP default) is not differentiable at 0 and is positively homogeneous, so the first
order effect of a small new ReLU neuron is omega * relu(alpha^T b), not omega * alpha^T b,
and the eigen-solve would optimise the wrong quantity. ELU (alpha = 1) satisfies both
assumptions with sigma'(0) = 1 and is the default; SELU (the paper's experiments, sec. 4) and
ReLU are offered for comparison, with their right derivative at 0 as the slope.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

from kernels.dynamic_mlp import DynamicMLP

ACTIVATIONS = {"elu": F.elu, "selu": F.selu, "tanh": torch.tanh, "relu": torch.relu}
#: sigma'(0) (the right derivative where the two sides differ), the factor of Prop. 3.2 (11)
SLOPE_AT_ZERO = {"elu": 1.0, "selu": 1.0507009873554805, "tanh": 1.0, "relu": 1.0}


def activation_of(model: torch.nn.Module):
    """The hidden activation of ``model``: its ``activation`` method, else ReLU (DynamicMLP)."""
    return getattr(model, "activation", torch.relu)


class GrowingMLP(DynamicMLP):
    """DynamicMLP whose hidden activation is ``activation`` (one of ``ACTIVATIONS``)."""

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, *,
                 activation: str = "elu", bias: bool = True,
                 generator: torch.Generator | None = None) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; accepted: "
                             f"{', '.join(ACTIVATIONS)}")
        super().__init__(in_features, hidden, out_features, bias=bias, generator=generator)
        self.activation_name = activation

    def activation(self, z: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation_name](z)

    @property
    def slope_at_zero(self) -> float:
        return SLOPE_AT_ZERO[self.activation_name]

    def hidden_forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        z = self.linears[layer](x)
        for m in self.post[layer]:
            z = m(z)
        return self.activation(z)
