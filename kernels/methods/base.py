"""The few verbs every sizing method speaks, so the trainer and the views never ask which
method they hold.

Per training step the trainer calls, in order::

    loss = task_loss + method.regularize(model, knobs)      # penalty in the objective
    loss.backward(); method.configure(optimizer, knobs, ctx); optimizer.step()
    method.after_step(ctx)                                  # proximal steps, statistics
    proposal = method.propose(ctx)                          # which units to add / remove
    events = method.apply(ctx, proposal)                    # the surgery itself
    extra = method.records(ctx)                             # spectra, switch values, ...

``knobs`` is any object with the knob attributes (the explorer passes a param.Parameterized;
tests pass a SimpleNamespace). Knobs are read afresh every step, so a live slider acts on the
very next step.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import torch

from kernels import surgery
from kernels.dynamic_mlp import DynamicMLP
from kernels.records import EVENT
from kernels.sizable import SizableNet


@dataclass
class StepContext:
    """What a method may look at during one training step."""

    model: SizableNet
    optimizer: torch.optim.Optimizer
    knobs: Any
    step: int
    epoch: float
    x: torch.Tensor
    y: torch.Tensor
    n_train: int
    steps_per_epoch: int
    generator: torch.Generator
    loss_fn: Any = None
    val_history: list[float] = field(default_factory=list)
    #: validation classification error (1 - accuracy) at the same evaluations
    val_error_history: list[float] = field(default_factory=list)


@dataclass
class Addition:
    """Units to add to one layer, and why (the cause is shown on hover in the views)."""

    layer: int
    fan_in: torch.Tensor
    fan_out: torch.Tensor | None = None
    cause: str = "added at random"
    details: list[dict] | None = None  # one dict per unit, e.g. {"lambda_k": 0.3}
    #: builds the fan-out when the addition is applied, from the model as it is then (layers
    #: are applied top down, so the layer above may have grown since ``propose``)
    make_fan_out: Callable[[SizableNet], torch.Tensor] | None = None


@dataclass
class Removal:
    layer: int
    positions: np.ndarray
    cause: str


@dataclass
class Proposal:
    removals: list[Removal] = field(default_factory=list)
    additions: list[Addition] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.removals or self.additions)


OPTIMIZER_STATES = ("keep", "reset")


class OptionError(ValueError):
    """A method option that is unknown or out of range; the message says what is accepted."""


@dataclass
class MethodOptions:
    """Options every method accepts; each method subclasses this with its own fields.

    ``optimizer_state``: what happens to the optimizer's state (Adam's moments, AdaRad's
    running averages) at a structural change. ``keep`` (default): the surviving units keep
    theirs and new units start from zeros (:mod:`kernels.surgery`). ``reset``: the whole
    state is dropped after every step that adds or removes a unit, as growth libraries that
    rebuild the optimizer after each growth step do.
    """

    optimizer_state: str = "keep"

    def problems(self) -> list[str]:
        """Values out of range, one message each (empty when the options are valid)."""
        out = []
        if self.optimizer_state not in OPTIMIZER_STATES:
            out.append(
                f"optimizer_state must be one of {', '.join(OPTIMIZER_STATES)}, got "
                f"'{self.optimizer_state}'"
            )
        return out

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def parse(cls, options: dict[str, Any], method: str = "method") -> MethodOptions:
        """Options from a name -> value dict: unknown names are refused with the accepted
        names and a did-you-mean; values are checked by ``problems``."""
        names = cls.names()
        unknown = [k for k in options if k not in names]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, names, n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise OptionError(
                f"{method}: unknown option {', '.join(hints)}; accepted: {', '.join(names)}"
            )
        opts = cls(**options)
        problems = opts.problems()
        if problems:
            raise OptionError(f"{method}: " + "; ".join(problems))
        return opts


def reset_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Drop every per-parameter state (and AdaRad's global running maxima): the optimizer
    continues as if freshly built on the current parameters."""
    optimizer.state.clear()
    for group in optimizer.param_groups:
        for key in ("phi_max", "c_max"):
            if key in group:
                group[key] = torch.zeros_like(group[key])


class SizingMethod:
    """Base class: a fixed-size network trained with Adam (the static baseline)."""

    #: the options dataclass of this method (validated in ``__init__``)
    Options: type[MethodOptions] = MethodOptions
    #: starting hidden sizes the CLI and the page fill in when this method is chosen
    default_hidden: tuple[int, ...] = (10, 10)
    #: the method's own knob defaults (over :class:`explorer.knobs.Knobs`'s): a run of this
    #: method starts with them unless its config or a preset sets the knob; the page moves
    #: the sliders to them when the method is chosen
    default_knobs: ClassVar[dict[str, float]] = {}
    #: options whose default a data set may declare: option name -> the name of a property
    #: of the data set's registry entry (``explorer.data.registry.DataSpec``); a run whose
    #: config does not set the option takes the data set's value when it declares one
    data_options: ClassVar[dict[str, str]] = {}

    name = "base"
    description = ""
    #: knob names this method reads; the UI shows only these
    knobs: tuple[str, ...] = ("lr",)
    #: record kinds this method emits beyond the common ones (step, eval, units, event,
    #: knob, tradeoff); the page shows the cards of these kinds for this method
    record_kinds: tuple[str, ...] = ()

    def __init__(self, **options: Any) -> None:
        self.opts = self.Options.parse(options, self.name)
        self.options = options

    def after_surgery(self, ctx: StepContext, events: list[dict]) -> None:
        """Called by the trainer after ``apply``: with ``optimizer_state=reset`` a step that
        added or removed units drops the optimizer's state."""
        if events and self.opts.optimizer_state == "reset":
            reset_optimizer_state(ctx.optimizer)

    # -- network and optimizer --------------------------------------------------------
    def build(
        self,
        in_features: int,
        out_features: int,
        hidden: list[int],
        *,
        image_shape=None,
        generator: torch.Generator | None = None,
    ) -> SizableNet:
        return DynamicMLP(in_features, hidden, out_features, generator=generator)

    def make_optimizer(self, model: SizableNet, knobs) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=knobs.lr)

    def configure(self, optimizer: torch.optim.Optimizer, knobs, ctx: StepContext) -> None:
        """Copy live knob values into the optimizer before its step."""
        for group in optimizer.param_groups:
            group["lr"] = knobs.lr

    # -- the verbs ------------------------------------------------------------------------
    def regularize(self, model: SizableNet, knobs) -> torch.Tensor:
        return torch.zeros((), device=next(model.parameters()).device)

    def after_step(self, ctx: StepContext) -> None:
        """Non-structural updates after the optimizer step (proximal steps, statistics)."""

    def propose(self, ctx: StepContext) -> Proposal:
        return Proposal()

    def apply(self, ctx: StepContext, proposal: Proposal) -> list[dict]:
        """Carry out a proposal with :mod:`kernels.surgery`; return unit events.

        Layers are operated on from the top down, so every fan-in drawn by ``propose`` still
        has the width of the layer below when it is inserted; that layer's later changes then
        resize it (zero columns for new units, sliced columns for removed ones).
        """
        events: list[dict] = []
        layers = sorted(
            {r.layer for r in proposal.removals} | {a.layer for a in proposal.additions},
            reverse=True,
        )
        for layer in layers:
            for rem in (r for r in proposal.removals if r.layer == layer):
                ids = surgery.prune(ctx.model, layer, rem.positions, ctx.optimizer)
                events += [unit_event(ctx.step, layer, int(i), "died", rem.cause) for i in ids]
            for add in (a for a in proposal.additions if a.layer == layer):
                fan_out = add.make_fan_out(ctx.model) if add.make_fan_out else add.fan_out
                ids = surgery.grow(
                    ctx.model, layer, add.fan_in, fan_out, ctx.optimizer, step=ctx.step
                )
                details = add.details or [{}] * len(ids)
                events += [
                    unit_event(ctx.step, layer, int(i), "born", add.cause, d)
                    for i, d in zip(ids, details, strict=True)
                ]
        return events

    def records(self, ctx: StepContext) -> list[dict]:
        return []

    # -- snapshots ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def unit_event(
    step: int, layer: int, unit_id: int, event: str, cause: str, details: dict | None = None
) -> dict:
    """A unit's birth or death, as a plain record."""
    rec = {
        "kind": EVENT,
        "step": int(step),
        "layer": int(layer),
        "unit_id": int(unit_id),
        "event": event,
        "cause": cause,
    }
    if details:
        rec.update(
            {
                k: float(v) if isinstance(v, (int, float, np.floating)) else v
                for k, v in details.items()
            }
        )
    return rec
