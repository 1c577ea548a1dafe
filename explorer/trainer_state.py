"""A live trainer's state as plain CPU values, and back: what a snapshot holds to continue a run.

:func:`capture_state` copies everything a run needs to go on exactly (weights, optimizer and
method state, unit ids and births, RNG states, the batch order and cursor, counters, knobs);
:func:`load_state` puts such a dict back into a freshly built
:class:`~explorer.trainer.Trainer` (``Trainer.from_state``). ``explorer.snapshot`` writes
and reads these dicts.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from explorer.trainer import Trainer


def capture_state(trainer: Trainer) -> dict:
    """Everything needed to continue this run exactly, with every tensor copied to CPU.

    Call it between steps (on the trainer's thread, or while the trainer is paused): it
    reads the model and the optimizer without a lock. Copies are taken here so the slow
    serialisation can run on another thread while training goes on.
    """
    model = trainer.model
    rng = {"generator": trainer.generator.get_state(), "torch": torch.get_rng_state()}
    if trainer.device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(trainer.device)
    return {
        "model": {
            k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()
        },
        "optimizer": copy_tree(trainer.optimizer.state_dict()),
        "method": copy_tree(trainer.method.state_dict()),
        "unit_ids": [np.array(a, dtype=np.int64) for a in model.unit_ids],
        "birth_step": [np.array(a, dtype=np.int64) for a in model.birth_step],
        "next_unit_id": int(model.ids.next_id),
        "rng": rng,
        "order": trainer._order.detach().to("cpu", copy=True),
        "cursor": int(trainer._cursor),
        "step_count": int(trainer.step_count),
        "cost": int(trainer.cost),
        "val_history": [float(v) for v in trainer.val_history],
        "val_error_history": [float(v) for v in trainer.val_error_history],
        "phase_time": {k: float(v) for k, v in trainer.phase_time.items()},
        "elapsed": time.perf_counter() - trainer._started,
        "knobs": trainer.knobs.values(),
        "knob_values_seen": dict(trainer._knob_values),
        "sizes": list(model.hidden_sizes),
    }


def load_state(trainer: Trainer, state: dict) -> None:
    """Put a :func:`capture_state` dict back into ``trainer`` (shapes may differ from now)."""
    model = trainer.model
    targets = model.state_dict(keep_vars=True)
    saved = state["model"]
    if set(targets) != set(saved):
        raise ValueError(
            f"saved weights do not fit the {trainer.config.method} model: missing "
            f"{sorted(set(targets) - set(saved))}, unexpected "
            f"{sorted(set(saved) - set(targets))}"
        )
    with torch.no_grad():
        for name, t in targets.items():
            t.data = saved[name].to(device=t.device, dtype=t.dtype).clone()
            t.grad = None
    if len(state["unit_ids"]) != model.n_hidden:
        raise ValueError(
            f"saved unit ids cover {len(state['unit_ids'])} hidden layers, the "
            f"model has {model.n_hidden}"
        )
    for layer in range(model.n_hidden):
        model.sync_shapes(layer)
    model.unit_ids = [np.array(a, dtype=np.int64) for a in state["unit_ids"]]
    model.birth_step = [np.array(a, dtype=np.int64) for a in state["birth_step"]]
    model.ids.load_state_dict({"next_id": state["next_unit_id"]})
    if list(model.hidden_sizes) != [len(a) for a in model.unit_ids]:
        raise ValueError(
            f"saved unit ids {[len(a) for a in model.unit_ids]} do not match "
            f"the saved layer sizes {model.hidden_sizes}"
        )
    trainer.optimizer.load_state_dict(copy_tree(state["optimizer"]))
    trainer.method.load_state_dict(copy_tree(state["method"]))
    rng = state["rng"]
    trainer.generator.set_state(rng["generator"].clone())
    torch.set_rng_state(rng["torch"].clone())
    if "cuda" in rng and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"].clone(), trainer.device)
    trainer._order = state["order"].clone().to(torch.long)
    trainer._cursor = int(state["cursor"])
    trainer.step_count, trainer.cost = int(state["step_count"]), int(state["cost"])
    trainer.val_history = [float(v) for v in state["val_history"]]
    # snapshots written before the error history existed: empty (the protocol then waits)
    trainer.val_error_history = [float(v) for v in state.get("val_error_history", [])]
    trainer.phase_time = {k: float(v) for k, v in state["phase_time"].items()}
    trainer._started = time.perf_counter() - float(state["elapsed"])
    trainer._knob_values = dict(state["knob_values_seen"])


def copy_tree(obj):
    """Deep copy of nested dicts/lists/tuples with every tensor copied to CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True).contiguous()
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, dict):
        return {k: copy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tree(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(copy_tree(v) for v in obj)
    return obj
