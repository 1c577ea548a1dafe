"""Structural surgery: add and remove hidden units, keeping the optimizer's state in step.

Removing unit j of hidden layer l deletes row j of W_l (and its bias, switch, normalisation
statistics) and column j of W_{l+1}; adding a unit appends a fan-in row and a fan-out column
(Philipp & Carbonell 2017, Algorithm 1 lines 19 and 24; ShrinkNets sec. 3.5.2). Every
optimizer state tensor that is shaped like a touched parameter (Adam's moments, momentum
buffers, AdaRad's per-fan-in averages) is sliced or padded along the same axis in the same
step, so training continues as if the unit had never existed or had always been there with
zero state. Tensors keep their identity (``t.data`` is replaced), so optimizers that hold
references to the parameters need no rebuilding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kernels.sizable import SizableNet
from kernels.touch import Touch


def _expand(units: torch.Tensor, block: int) -> torch.Tensor:
    """Unit positions -> tensor indices when each unit owns ``block`` consecutive entries."""
    if block == 1:
        return units
    offsets = torch.arange(block, device=units.device)
    return (units[:, None] * block + offsets[None, :]).reshape(-1)


def _state_slices(optimizer, t: torch.Tensor, dim: int):
    """Yield (state dict, key, value) for the optimizer state tensors that follow ``t``'s axis."""
    if optimizer is None or t not in optimizer.state:
        return
    state = optimizer.state[t]
    for key, value in list(state.items()):
        if not torch.is_tensor(value) or value.ndim == 0:
            continue
        if value.shape == t.shape or (
            dim == 0 and value.ndim >= 1 and value.shape[0] == t.shape[0] and value.ndim < t.ndim
        ):
            yield state, key, value


def _select(t: torch.Tensor, dim: int, index: torch.Tensor) -> torch.Tensor:
    return t.index_select(dim, index.to(t.device))


def _pad(t: torch.Tensor, dim: int, extra: torch.Tensor) -> torch.Tensor:
    return torch.cat([t, extra.to(device=t.device, dtype=t.dtype)], dim=dim)


def prune(
    model: SizableNet,
    layer: int,
    positions: Sequence[int] | np.ndarray,
    optimizer: torch.optim.Optimizer | None = None,
) -> np.ndarray:
    """Remove the units at ``positions`` (indices into the layer) and return their ids."""
    n = model.hidden_sizes[layer]
    pos = np.unique(np.asarray(positions, dtype=np.int64))
    if pos.size == 0:
        return np.zeros(0, dtype=np.int64)
    if pos.min() < 0 or pos.max() >= n:
        raise IndexError(
            f"unit positions {pos.tolist()} out of range for layer {layer} of {n} units"
        )
    keep = torch.from_numpy(np.setdiff1d(np.arange(n), pos))
    touches: list[Touch] = model.unit_touches(layer)
    for touch in touches:
        t, index = touch.tensor, _expand(keep, touch.block)
        for state, key, value in _state_slices(optimizer, t, touch.dim):
            state[key] = _select(value, touch.dim, index)
        t.data = _select(t.data, touch.dim, index)
        if t.grad is not None:
            t.grad = _select(t.grad, touch.dim, index)
    model.sync_shapes(layer)
    _after_surgery(optimizer, touches)
    removed = model.unit_ids[layer][pos]
    keep_np = keep.numpy()
    model.unit_ids[layer] = model.unit_ids[layer][keep_np]
    model.birth_step[layer] = model.birth_step[layer][keep_np]
    return removed


def grow(
    model: SizableNet,
    layer: int,
    fan_in: torch.Tensor,
    fan_out: torch.Tensor | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    bias: torch.Tensor | None = None,
) -> np.ndarray:
    """Append ``k = fan_in.shape[0]`` units to hidden layer ``layer``; return their new ids.

    ``fan_in`` has the shape of k rows of the layer's weight; ``fan_out`` the shape of the
    next weight's k new columns (default zeros, which leaves the output unchanged).
    """
    touches: list[Touch] = model.unit_touches(layer)
    k = int(fan_in.shape[0])
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    for touch in touches:
        t = touch.tensor
        shape = list(t.shape)
        shape[touch.dim] = k * touch.block
        if touch.role == "fan_in":
            if tuple(fan_in.shape[1:]) != tuple(t.shape[1:]):
                raise ValueError(
                    f"fan_in must have shape (k, {', '.join(map(str, t.shape[1:]))})"
                    f", got {tuple(fan_in.shape)}"
                )
            extra = fan_in
        elif touch.role == "fan_out" and fan_out is not None:
            if tuple(fan_out.shape) != tuple(shape):
                raise ValueError(
                    f"fan_out must have shape {tuple(shape)}, got {tuple(fan_out.shape)}"
                )
            extra = fan_out
        elif touch.role == "bias" and bias is not None:
            extra = bias
        else:
            extra = torch.full(shape, touch.fill, dtype=t.dtype)
        for state, key, value in _state_slices(optimizer, t, touch.dim):
            vshape = list(value.shape)
            vshape[touch.dim] = k * touch.block
            state[key] = _pad(value, touch.dim, torch.zeros(vshape, dtype=value.dtype))
        t.data = _pad(t.data, touch.dim, extra.detach())
        if t.grad is not None:
            t.grad = None
    model.sync_shapes(layer)
    _after_surgery(optimizer, touches)
    new_ids = model.ids.new(k)
    model.unit_ids[layer] = np.concatenate([model.unit_ids[layer], new_ids])
    model.birth_step[layer] = np.concatenate(
        [model.birth_step[layer], np.full(k, step, dtype=np.int64)]
    )
    return new_ids


def _after_surgery(optimizer: torch.optim.Optimizer | None, touches: list[Touch]) -> None:
    """Let an optimizer repair invariants of its state (AdaRad-M re-orthogonalises, Alg. 2 l.33)."""
    hook = getattr(optimizer, "after_surgery", None)  # an optional optimizer method
    if optimizer is None or hook is None:
        return
    for touch in touches:
        if touch.dim != 0 and touch.tensor in optimizer.state:
            hook(touch.tensor)
