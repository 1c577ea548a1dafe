"""Fold switch layers into their neighbours for inference (ShrinkNets sec. 3.6).

After training, a switch only scales its unit: ``theta_j * (W_j x + b_j)`` for a Linear unit
and ``theta_c * BN_c(conv_c(x))`` for a conv channel. Multiplying the Linear row and bias, or
the BatchNorm scale and shift, by theta gives the same output without the switch layer; the
product never crosses the ReLU that follows, so the function is unchanged (up to rounding).
Units whose switch is exactly 0 (killed, or masked with ``collect=False``) output 0 after
the ReLU and are dropped with their fan-out. Optionally each BatchNorm (eval statistics) is
merged into its conv as well, leaving a plain Conv-ReLU-MaxPool / Linear-ReLU network.

``fold(model)`` accepts :class:`~kernels.dynamic_mlp.DynamicMLP` and
:class:`~kernels.dynamic_cnn.DynamicCNN` whose unit-wise modules are switches (or absent)
and returns an ``nn.Sequential`` taking the same (flat) input.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from kernels.dynamic_cnn import DynamicCNN
from kernels.dynamic_mlp import DynamicMLP
from kernels.sizable import ModuleSeq, SizableNet
from kernels.switch import Switch


def _switch_of(post: Iterable[nn.Module], n: int, device: torch.device) -> torch.Tensor:
    """The product of the layer's switches (ones when it has none); other modules refuse."""
    scale = torch.ones(n, device=device)
    for m in post:
        if not isinstance(m, Switch):
            raise ValueError(
                f"cannot fold a {type(m).__name__} layer; folding (sec. 3.6) "
                "accepts networks whose unit-wise modules are Switch layers"
            )
        scale = scale * m.switch.detach()
    return scale


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    lin = nn.Linear(
        weight.shape[1],
        weight.shape[0],
        bias=bias is not None,
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return lin


def _fold_fc(
    linears: ModuleSeq[nn.Linear],
    posts: ModuleSeq[ModuleSeq[nn.Module]],
    keep_in: torch.Tensor | None,
    block: int,
) -> list[nn.Module]:
    """Hidden Linear blocks then the output Linear. ``keep_in`` selects the input units kept
    from the layer below, each owning ``block`` input columns (H*W after a flatten)."""
    layers: list[nn.Module] = []
    for i, lin in enumerate(linears):
        w = lin.weight.detach()
        b = lin.bias.detach() if lin.bias is not None else None
        if keep_in is not None:
            cols = w.reshape(w.shape[0], -1, block)[:, keep_in].reshape(w.shape[0], -1)
            w = cols
        if i == len(linears) - 1:
            layers.append(_linear(w, b))
            break
        s = _switch_of(posts[i], w.shape[0], w.device)
        keep = s != 0
        w = (s[:, None] * w)[keep]
        b = (s * b)[keep] if b is not None else None
        layers += [_linear(w, b), nn.ReLU()]
        keep_in, block = keep, 1
    return layers


def _conv_like(conv: nn.Conv2d, c_in: int, c_out: int, bias: bool, like: torch.Tensor) -> nn.Conv2d:
    """A fresh Conv2d with ``conv``'s geometry and ``c_in`` -> ``c_out`` channels."""
    k, st, d, p = conv.kernel_size, conv.stride, conv.dilation, conv.padding
    return nn.Conv2d(
        c_in,
        c_out,
        (k[0], k[1]),
        (st[0], st[1]),
        p if isinstance(p, str) else (p[0], p[1]),
        (d[0], d[1]),
        conv.groups,
        bias=bias,
        device=like.device,
        dtype=like.dtype,
    )


@torch.no_grad()
def fold(model: SizableNet, fold_batchnorm: bool = True) -> nn.Sequential:
    """An inference copy of ``model`` without switch layers and without dead units.

    For a DynamicCNN the BatchNorm running statistics are used (eval mode), and with
    ``fold_batchnorm`` each BatchNorm is merged into its conv too.
    """
    if isinstance(model, DynamicMLP):
        return nn.Sequential(*_fold_fc(model.linears, model.post, None, 1)).eval()
    if not isinstance(model, DynamicCNN):
        raise ValueError(f"cannot fold a {type(model).__name__}; accepted: DynamicMLP, DynamicCNN")
    layers: list[nn.Module] = [nn.Unflatten(1, model.image_shape)]
    keep_in = None
    for layer, (conv, bn) in enumerate(zip(model.convs, model.norms, strict=True)):
        w = conv.weight.detach()
        if keep_in is not None:
            w = w[:, keep_in]
        s = _switch_of(model.post[layer], w.shape[0], w.device)
        keep = s != 0
        assert bn.running_mean is not None and bn.running_var is not None  # tracked stats
        # BN(z) * s = z * (s * gamma / sqrt(var + eps)) + s * (beta - gamma * mean / sqrt(..))
        inv_std = torch.rsqrt(bn.running_var + bn.eps)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(inv_std)
        if fold_batchnorm:
            scale = s * bn.weight * inv_std
            shift = s * (bn.bias + bn.weight * inv_std * (bias - bn.running_mean))
            new = _conv_like(conv, w.shape[1], int(keep.sum()), True, w)
            assert new.bias is not None
            new.weight.copy_((scale[:, None, None, None] * w)[keep])
            new.bias.copy_(shift[keep])
            layers.append(new)
        else:
            new = _conv_like(conv, w.shape[1], int(keep.sum()), conv.bias is not None, w)
            new.weight.copy_(w[keep])
            if new.bias is not None:
                new.bias.copy_(bias[keep])
            norm = nn.BatchNorm2d(int(keep.sum()), eps=bn.eps, device=w.device, dtype=w.dtype)
            assert norm.running_mean is not None and norm.running_var is not None
            norm.weight.copy_((s * bn.weight)[keep])
            norm.bias.copy_((s * bn.bias)[keep])
            norm.running_mean.copy_(bn.running_mean[keep])
            norm.running_var.copy_(bn.running_var[keep])
            layers += [new, norm]
        layers.append(nn.ReLU())
        if model.pools[layer]:
            layers.append(nn.MaxPool2d(2))
        keep_in = keep
    layers.append(nn.Flatten(1))
    h, w_ = model.spatial
    layers += _fold_fc(model.linears, model.post[model.n_conv :], keep_in, h * w_)
    return nn.Sequential(*layers).eval()


def has_switch(module: nn.Module) -> bool:
    return any(isinstance(m, Switch) for m in module.modules())
