"""An MLP whose hidden layers gain and lose units while it trains.

Layer l maps ``d_{l-1} -> d_l`` with ``nn.Linear`` (torch layout: weight is (out, in), so a
unit's fan-in is a ROW of its layer's weight and its fan-out a COLUMN of the next layer's).
After each hidden Linear come optional unit-wise modules (CapNorm, a switch layer, ...) and a
ReLU, which is self-similar and has relu(0) = 0, so zero units can be added and removed
without changing the output (Philipp & Carbonell 2017, sec. 3 and 3.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from kernels.sizable import ModuleSeq
from kernels.switch import Switch
from kernels.touch import Touch
from kernels.unit_id import UnitIds

PostFactory = Callable[[int], Sequence[nn.Module]]


def init_fan_in(
    count: int,
    fan_in_dim: int,
    generator: torch.Generator | None = None,
    device=None,
    dtype=torch.float32,
) -> torch.Tensor:
    """Random fan-ins of expected length ~1: W(i, j) ~ N(0, 1/sqrt(d_{l-1})).

    Philipp & Carbonell 2017, Table 3 (initial weights and the fan-in of a newly added unit).
    """
    w = torch.randn(count, fan_in_dim, generator=generator, dtype=dtype)
    return (w / max(fan_in_dim, 1) ** 0.5).to(device)


def switch_of(modules: Iterable[nn.Module]) -> torch.Tensor | None:
    """The switch values of the first :class:`~kernels.switch.Switch` module, else None."""
    for m in modules:
        if isinstance(m, Switch):
            return m.switch.detach()
    return None


class DynamicMLP(nn.Module):
    """Fully connected network with resizable hidden layers and stable unit ids; a
    :class:`~kernels.sizable.SizableNet`.

    ``post`` builds, for a hidden layer of n units, the unit-wise modules applied between the
    Linear and the ReLU. Such modules must hold only per-unit tensors (dim 0 = unit) so that
    surgery can resize them; ``running_var`` buffers are filled with 1 for new units.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        bias: bool = True,
        post: PostFactory | None = None,
        generator: torch.Generator | None = None,
        ids: UnitIds | None = None,
    ):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(
                f"in_features and out_features must be >= 1, got {in_features} and {out_features}"
            )
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden sizes must all be >= 1, got {list(hidden)}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.has_bias = bias
        dims = [self.in_features, *[int(h) for h in hidden], self.out_features]
        self.linears: ModuleSeq[nn.Linear] = ModuleSeq()
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            lin = nn.Linear(d_in, d_out, bias=bias)
            with torch.no_grad():
                lin.weight.copy_(init_fan_in(d_out, d_in, generator))
                if bias:
                    lin.bias.zero_()
            self.linears.append(lin)
        self.post: ModuleSeq[ModuleSeq[nn.Module]] = ModuleSeq(
            ModuleSeq(post(h) if post else []) for h in dims[1:-1]
        )
        self.ids = ids or UnitIds()
        self.unit_ids: list[np.ndarray] = [self.ids.new(h) for h in dims[1:-1]]
        self.birth_step: list[np.ndarray] = [np.zeros(h, dtype=np.int64) for h in dims[1:-1]]

    # ---- shape -------------------------------------------------------------------------
    @property
    def n_hidden(self) -> int:
        return len(self.linears) - 1

    @property
    def hidden_sizes(self) -> list[int]:
        # not self.linears[:-1]: slicing a ModuleList builds a new Module (~0.5 ms a step)
        return [self.linears[i].out_features for i in range(len(self.linears) - 1)]

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def input_neurons(self) -> int:
        """Sum of input neurons over all layers: the per-step cost of ShrinkNets sec. 4.4."""
        return sum(lin.in_features for lin in self.linears)

    # ---- forward -----------------------------------------------------------------------
    def activation(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden activation: ReLU (subclasses such as TINY's GrowingMLP override it)."""
        return torch.relu(z)

    def hidden_forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Apply hidden block ``layer`` (Linear, unit-wise modules, activation)."""
        z = self.linears[layer](x)
        for m in self.post[layer]:
            z = m(z)
        return self.activation(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in range(self.n_hidden):
            x = self.hidden_forward(x, layer)
        return self.linears[-1](x)

    # ---- per-unit quantities -----------------------------------------------------------
    def fan_in_norm(self, layer: int) -> torch.Tensor:
        """l2 length of each unit's fan-in (a row of layer ``layer``'s weight)."""
        return self.linears[layer].weight.detach().norm(dim=1)

    def fan_out_norm(self, layer: int) -> torch.Tensor:
        """l2 length of each unit's fan-out (a column of the next layer's weight)."""
        return self.linears[layer + 1].weight.detach().norm(dim=0)

    def switch_values(self, layer: int) -> torch.Tensor | None:
        """The switch of each unit when the layer has a switch module, else None."""
        return switch_of(self.post[layer])

    # ---- the layer graph for surgery ---------------------------------------------------
    def unit_touches(self, layer: int) -> list[Touch]:
        """Every tensor slice owned by the units of hidden layer ``layer``."""
        if not 0 <= layer < self.n_hidden:
            raise IndexError(
                f"hidden layer {layer} does not exist; the network has "
                f"{self.n_hidden} hidden layers (0..{self.n_hidden - 1})"
            )
        lin, nxt = self.linears[layer], self.linears[layer + 1]
        touches = [Touch(lin.weight, 0, "fan_in")]
        if lin.bias is not None:
            touches.append(Touch(lin.bias, 0, "bias"))
        for m in self.post[layer]:
            for name, t in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]:
                if t is not None and t.ndim >= 1:
                    touches.append(Touch(t, 0, "unit", fill=1.0 if name == "running_var" else 0.0))
        touches.append(Touch(nxt.weight, 1, "fan_out"))
        return touches

    def sync_shapes(self, layer: int) -> None:
        """Update the Linear modules' size attributes after surgery resized their tensors."""
        lin, nxt = self.linears[layer], self.linears[layer + 1]
        lin.out_features = lin.weight.shape[0]
        nxt.in_features = nxt.weight.shape[1]
