"""A small VGG-style CNN whose channels and hidden units can be removed or added while it trains.

Blocks ``conv3x3 -> BatchNorm -> unit-wise modules (a ShrinkNets switch) -> ReLU -> max-pool``,
then flatten, then fully connected blocks ``Linear -> unit-wise modules -> ReLU``, then the
output Linear. ShrinkNets sec. 4.1.1 turns VGG into a ShrinkNet the same way: a switch layer
after each BatchNorm and after each hidden fully connected layer.

It is a :class:`~kernels.sizable.SizableNet` like DynamicMLP, so :mod:`kernels.surgery`, the
trainer and the sizing methods handle it unchanged. Hidden "layers" are the conv blocks (units
= channels) followed by the hidden fully connected layers. The last conv block's channel ``c``
owns the ``H*W`` consecutive columns ``c*H*W .. c*H*W + H*W - 1`` of the first Linear (row-
major flatten of (C, H, W)), hence ``Touch(block=H*W)``.

Inputs may come flattened, (N, C*H*W) as the data sets store them, or as (N, C, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from kernels.dynamic_mlp import PostFactory, init_fan_in, switch_of
from kernels.sizable import ModuleSeq
from kernels.touch import Touch
from kernels.unit_id import UnitIds


class DynamicCNN(nn.Module):
    """VGG-style network of resizable conv blocks and hidden fully connected layers.

    ``channels``: output channels of each conv block; ``hidden``: widths of the hidden fully
    connected layers (may be empty); a 2x2 max-pool follows every conv block while the image
    is at least 2x2. ``post`` builds the unit-wise modules of each hidden layer (applied to
    (N, C, H, W) in conv blocks and (N, n) in fully connected ones); they must hold only
    per-unit tensors (dim 0 = unit).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        channels: Sequence[int],
        hidden: Sequence[int],
        out_features: int,
        *,
        kernel_size: int = 3,
        post: PostFactory | None = None,
        generator: torch.Generator | None = None,
        ids: UnitIds | None = None,
    ):
        super().__init__()
        if image_shape is None or len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(
                f"image_shape must be (C, H, W) with positive sizes, got {image_shape}"
            )
        if not channels:
            raise ValueError("a CNN needs at least one conv block; channels is empty")
        if any(int(c) < 1 for c in channels) or any(int(h) < 1 for h in hidden):
            raise ValueError(
                f"channels and hidden sizes must be >= 1, got {list(channels)} and {list(hidden)}"
            )
        if out_features < 1:
            raise ValueError(f"out_features must be >= 1, got {out_features}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.out_features = int(out_features)
        self.in_features = int(np.prod(self.image_shape))
        c_in, h, w = self.image_shape
        self.convs: ModuleSeq[nn.Conv2d] = ModuleSeq()
        self.norms: ModuleSeq[nn.BatchNorm2d] = ModuleSeq()
        self.pools: list[bool] = []
        for c in channels:
            conv = nn.Conv2d(c_in, int(c), kernel_size, padding=kernel_size // 2, bias=False)
            with torch.no_grad():
                fan = init_fan_in(int(c), c_in * kernel_size**2, generator)
                conv.weight.copy_(fan.reshape(conv.weight.shape))
            self.convs.append(conv)
            self.norms.append(nn.BatchNorm2d(int(c)))
            pool = h >= 2 and w >= 2
            self.pools.append(pool)
            if pool:
                h, w = h // 2, w // 2
            c_in = int(c)
        self.spatial = (h, w)
        dims = [int(channels[-1]) * h * w, *[int(n) for n in hidden], self.out_features]
        self.linears: ModuleSeq[nn.Linear] = ModuleSeq()
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            lin = nn.Linear(d_in, d_out)
            with torch.no_grad():
                lin.weight.copy_(init_fan_in(d_out, d_in, generator))
                lin.bias.zero_()
            self.linears.append(lin)
        sizes = [int(c) for c in channels] + [int(n) for n in hidden]
        self.post: ModuleSeq[ModuleSeq[nn.Module]] = ModuleSeq(
            ModuleSeq(post(n) if post else []) for n in sizes
        )
        self.ids = ids or UnitIds()
        self.unit_ids: list[np.ndarray] = [self.ids.new(n) for n in sizes]
        self.birth_step: list[np.ndarray] = [np.zeros(n, dtype=np.int64) for n in sizes]

    # ---- shape -------------------------------------------------------------------------
    @property
    def n_conv(self) -> int:
        return len(self.convs)

    @property
    def n_hidden(self) -> int:
        return self.n_conv + len(self.linears) - 1

    @property
    def hidden_sizes(self) -> list[int]:
        return [conv.out_channels for conv in self.convs] + [
            self.linears[i].out_features for i in range(len(self.linears) - 1)
        ]

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def input_neurons(self) -> int:
        """Input neurons summed over layers (ShrinkNets sec. 4.4's cost per step): input
        channels of every conv and input features of every Linear."""
        return sum(conv.in_channels for conv in self.convs) + sum(
            lin.in_features for lin in self.linears
        )

    # ---- forward -----------------------------------------------------------------------
    def _as_image(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            if x.shape[1] != self.in_features:
                raise ValueError(
                    f"flat input has {x.shape[1]} features; the image shape "
                    f"{self.image_shape} needs {self.in_features}"
                )
            return x.reshape(-1, *self.image_shape)
        return x

    def activation(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden activation of every block: ReLU."""
        return torch.relu(z)

    def hidden_forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Apply hidden block ``layer`` (a conv block, or a fully connected block whose input
        is flattened when it follows the conv stack)."""
        if layer < self.n_conv:
            z = self.norms[layer](self.convs[layer](x))
            for m in self.post[layer]:
                z = m(z)
            z = self.activation(z)
            return nn.functional.max_pool2d(z, 2) if self.pools[layer] else z
        if x.ndim > 2:
            x = x.flatten(1)
        z = self.linears[layer - self.n_conv](x)
        for m in self.post[layer]:
            z = m(z)
        return self.activation(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._as_image(x)
        for layer in range(self.n_hidden):
            x = self.hidden_forward(x, layer)
        return self.linears[-1](x.flatten(1))

    # ---- per-unit quantities -----------------------------------------------------------
    def _fan_in_weight(self, layer: int) -> torch.Tensor:
        if layer < self.n_conv:
            return self.convs[layer].weight
        return self.linears[layer - self.n_conv].weight

    def _fan_out_touch(self, layer: int) -> Touch:
        if layer < self.n_conv - 1:
            return Touch(self.convs[layer + 1].weight, 1, "fan_out")
        if layer == self.n_conv - 1:
            h, w = self.spatial
            return Touch(self.linears[0].weight, 1, "fan_out", block=h * w)
        return Touch(self.linears[layer - self.n_conv + 1].weight, 1, "fan_out")

    def fan_in_norm(self, layer: int) -> torch.Tensor:
        """l2 length of each unit's fan-in (its conv filter or its Linear row)."""
        w = self._fan_in_weight(layer).detach()
        return w.reshape(w.shape[0], -1).norm(dim=1)

    def fan_out_norm(self, layer: int) -> torch.Tensor:
        """l2 length of each unit's fan-out (its slice of the next conv or Linear weight)."""
        touch = self._fan_out_touch(layer)
        w = touch.tensor.detach()
        if touch.block > 1:  # (out, C*H*W) -> (C, out*H*W)
            w = w.reshape(w.shape[0], -1, touch.block)
        return w.transpose(0, 1).reshape(w.shape[1], -1).norm(dim=1)

    def switch_values(self, layer: int) -> torch.Tensor | None:
        """The switch of each unit when the layer has a switch module, else None."""
        return switch_of(self.post[layer])

    # ---- the layer graph for surgery ---------------------------------------------------
    def unit_touches(self, layer: int) -> list[Touch]:
        """Every tensor slice owned by the units of hidden layer ``layer``: the conv filters
        (or Linear rows) and biases, the BatchNorm weight, bias and running statistics
        (a new unit's running variance is 1), the unit-wise modules' tensors, and the fan-out
        slice of the next layer (H*W columns per channel after the flatten)."""
        if not 0 <= layer < self.n_hidden:
            raise IndexError(
                f"hidden layer {layer} does not exist; the network has "
                f"{self.n_hidden} hidden layers (0..{self.n_hidden - 1})"
            )
        if layer < self.n_conv:
            conv, bn = self.convs[layer], self.norms[layer]
            touches = [Touch(conv.weight, 0, "fan_in")]
            if conv.bias is not None:
                touches.append(Touch(conv.bias, 0, "bias"))
            assert bn.running_mean is not None and bn.running_var is not None  # tracked stats
            touches += [
                Touch(bn.weight, 0, "unit", fill=1.0),
                Touch(bn.bias, 0, "unit"),
                Touch(bn.running_mean, 0, "unit"),
                Touch(bn.running_var, 0, "unit", fill=1.0),
            ]
        else:
            lin = self.linears[layer - self.n_conv]
            touches = [Touch(lin.weight, 0, "fan_in"), Touch(lin.bias, 0, "bias")]
        for m in self.post[layer]:
            for name, t in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]:
                if t is not None and t.ndim >= 1:
                    touches.append(Touch(t, 0, "unit", fill=1.0 if name == "running_var" else 0.0))
        touches.append(self._fan_out_touch(layer))
        return touches

    def sync_shapes(self, layer: int) -> None:
        """Update the modules' size attributes after surgery resized their tensors."""
        if layer < self.n_conv:
            conv, bn = self.convs[layer], self.norms[layer]
            conv.out_channels = conv.weight.shape[0]
            bn.num_features = bn.weight.shape[0]
        else:
            lin = self.linears[layer - self.n_conv]
            lin.out_features = lin.weight.shape[0]
        nxt = self._fan_out_touch(layer).tensor
        if layer < self.n_conv - 1:
            self.convs[layer + 1].in_channels = nxt.shape[1]
        else:
            self.linears[max(layer - self.n_conv + 1, 0)].in_features = nxt.shape[1]
