"""Rewind of a training run to a saved state (nonparametric networks, sec. 7.4.1).

The protocol of Philipp & Carbonell (ICLR 2017) ends every phase by going back to the best
validation state: the weights, the network's structure (unit ids, birth steps) and the
optimizer's state (AdaRad's per-row state included) are saved when validation improves and
put back when the phase ends.
"""

from __future__ import annotations

import torch


def _optimizer_params(optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _clone(value):
    return value.detach().clone() if torch.is_tensor(value) else value


def take_checkpoint(model, optimizer, val: float) -> dict:
    """Weights, buffers, unit ids and the optimizer's state, for a rewind (sec. 7.4)."""
    tensors = {
        name: t.detach().clone() for name, t in [*model.named_parameters(), *model.named_buffers()]
    }
    opt_state = None
    if optimizer is not None:
        opt_state = {
            "state": [
                {k: _clone(v) for k, v in optimizer.state[p].items()}
                if p in optimizer.state
                else None
                for p in _optimizer_params(optimizer)
            ],
            "groups": [
                {k: _clone(v) for k, v in g.items() if k in ("phi_max", "c_max")}
                for g in optimizer.param_groups
            ],
        }
    return {
        "val": float(val),
        "tensors": tensors,
        "optimizer": opt_state,
        "unit_ids": [a.copy() for a in model.unit_ids],
        "birth_step": [a.copy() for a in model.birth_step],
    }


def restore_checkpoint(model, optimizer, checkpoint: dict) -> None:
    """Put a network (structure included) and its optimizer back to ``checkpoint``."""
    saved = checkpoint["tensors"]
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        t.data = saved[name].clone()
        if isinstance(t, torch.nn.Parameter):
            t.grad = None
    for layer in range(model.n_hidden):
        model.sync_shapes(layer)
    model.unit_ids = [a.copy() for a in checkpoint["unit_ids"]]
    model.birth_step = [a.copy() for a in checkpoint["birth_step"]]
    opt = checkpoint["optimizer"]
    if optimizer is None or opt is None:
        return
    optimizer.state.clear()
    for p, state in zip(_optimizer_params(optimizer), opt["state"], strict=True):
        if state is not None:
            optimizer.state[p] = {k: _clone(v) for k, v in state.items()}
    for group, extra in zip(optimizer.param_groups, opt["groups"], strict=True):
        group.update({k: _clone(v) for k, v in extra.items()})
