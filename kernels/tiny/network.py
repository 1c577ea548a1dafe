"""The network TINY grows: a DynamicMLP with biases and a chosen activation.

The derivation of the best neurons linearises each new neuron around a zero fan-in, so it
assumes sigma(0) = 0 and sigma differentiable at 0 (TINY paper, sec. 2.1). ReLU (the
DynamicMLP default) is not differentiable at 0 and is positively homogeneous, so the first
order effect of a small new ReLU neuron is omega * relu(alpha^T b), not omega * alpha^T b,
and the eigen-solve would optimise the wrong quantity. ELU (alpha = 1) satisfies both
assumptions with sigma'(0) = 1 and is the default; SELU (the paper's experiments, sec. 4) and
ReLU are offered for comparison.

sigma'(0) enters only the first-order loss gain of prop. 3.2 (11), which no code predicts: the
bottleneck (10) has no sigma'(0) factor, and the amplitude line search evaluates the true
activation, so SELU's sigma'(0) = 1.0507 is accounted for there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

from kernels.dynamic_mlp import DynamicMLP

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "elu": F.elu,
    "selu": F.selu,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


class GrowingMLP(DynamicMLP):
    """DynamicMLP whose hidden activation is ``activation`` (one of ``ACTIVATIONS``)."""

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        activation: str = "elu",
        bias: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation '{activation}'; accepted: {', '.join(ACTIVATIONS)}"
            )
        super().__init__(in_features, hidden, out_features, bias=bias, generator=generator)
        self.activation_name = activation

    def activation(self, z: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation_name](z)
