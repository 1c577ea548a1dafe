"""ShrinkNets: learn a network's size while training, with switch layers.

Every hidden unit (or conv channel) is multiplied by a real switch (sec. 3.2, eq. 1,
:class:`kernels.switch.Switch`, initialised N(0, 1)). The objective (eq. 2 with the penalty
of eq. 9) is::

    L'(x, y; W, theta) = L(x, y; W) + lam * ||theta||_1 + lam2 * ||W||_p^p

theta being all switches and W the weights of every Linear/Conv layer (biases and BatchNorm
parameters are not penalised). The penalty is differentiable almost everywhere and trained
by Adam with the task loss. lam2 > 0 removes the scale symmetry that leaves the bare problem
without a minimum (prop. A.3, A.4).

Neuron killing (sec. 3.5.1) sets a unit's switch to exactly 0 once it looks useless; neural
garbage collection (sec. 3.5.2) then removes every unit whose switch is 0 through
:mod:`kernels.surgery`, which slices its fan-in, bias, BatchNorm statistics, switch, fan-out
(H*W columns after a flatten) and the optimizer's state in the same step. With option
``collect=False`` dead units are instead kept, masked: their switch stays exactly 0 and its
gradient is zeroed before every optimizer step (the "does garbage collection pay" baseline;
their compute is still spent, so the trainer's cost does not drop).

Killing strategies (option ``kill``: ``threshold``, ``sign_change``, ``sign_variance``) and
the live knob gamma in [0, 1] are described in :mod:`kernels.methods.neuron_killing`.

At least ``min_units`` units per layer are never killed (the ones with the largest |theta|
are spared), so no layer becomes empty.

Records. Besides the unit events ("died" with cause "killed: switch below threshold",
"killed: sign change", "killed: sign variance", or "switch reached zero"; in masked mode
the same causes with " (masked)"), ``records`` returns every ``record_every`` steps and at
every kill one record::

    {"kind": "switch", "step": int,                 # training steps done (as "step" records)
     "layer": int64[n], "unit_id": int64[n],        # one entry per unit of the network
     "value": float32[n],                           # the switch theta
     "live": bool[n],                               # False for killed (masked) units
     "sign_variance": float32[n],                   # 1 - mean(sign)^2 over the window, NaN
                                                    #   until the window is full
     "sign_changes": int64[n],                      # sign changes within the window
     "input_neurons": int}                          # the cost of this step (sec. 4.4)

The trainer's step records carry ``cost``: the input neurons summed over steps (sec. 4.4).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from kernels.dynamic_cnn import DynamicCNN
from kernels.dynamic_mlp import DynamicMLP
from kernels.methods.base import (
    Proposal,
    Removal,
    SizingMethod,
    StepContext,
    unit_event,
)
from kernels.methods.neuron_killing import (
    CAUSES,
    KILL_STRATEGIES,
    ZERO_CAUSE,
    SignWindow,
    kill_decisions,
    sign_change_bar,
    sign_changes,
    sign_variance,
    sign_variance_bar,
)
from kernels.methods.registry import register
from kernels.methods.shrinknets_options import NETWORKS, ShrinkNetsOptions
from kernels.records import SWITCH
from kernels.switch import Switch


def switches(model: nn.Module) -> list[torch.Tensor]:
    """Every switch parameter of a network (theta of eq. 2)."""
    return [m.switch for m in model.modules() if isinstance(m, Switch)]


def penalised_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights W of eq. 2/9: every Linear and Conv weight (not biases, not BatchNorm)."""
    return [
        m.weight
        for m in model.modules()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
    ]


def shrinknets_penalty(model: nn.Module, lam: float, lam2: float, p: int) -> torch.Tensor:
    """lam * ||theta||_1 + lam2 * ||W||_p^p (eq. 2, eq. 9), differentiable."""
    device = next(model.parameters()).device
    total = torch.zeros((), device=device)
    if lam:
        total = total + lam * sum(s.abs().sum() for s in switches(model))
    if lam2:
        total = total + lam2 * sum(
            (w.abs() ** p).sum() if p != 2 else w.pow(2).sum() for w in penalised_weights(model)
        )
    return total


@register
class ShrinkNets(SizingMethod):
    """Options: see :class:`ShrinkNetsOptions` (and ``optimizer_state``). A method that only
    shrinks must start large: its default starting sizes are [100, 100]."""

    name = "shrinknets"
    description = (
        "Switch per unit with L1 (lambda) and Lp weight penalty (lambda_2); "
        "neurons killed by threshold/sign change/sign variance (gamma) and "
        "garbage-collected; switches folded away for inference."
    )
    knobs = ("lam", "lam2", "gamma", "lr")
    record_kinds = (SWITCH,)
    Options = ShrinkNetsOptions
    opts: ShrinkNetsOptions
    default_hidden = (100, 100)
    #: lambda (switch L1) = 2e-2, lambda_2 = 1e-4: the paper fixes no lambda (sec. 4 samples
    #: it "from a range of reasonable values"; fig. 2 uses 0.1); 2e-2 is what sizes the
    #: ``teacher`` set (right width 16) within [16, 32] in 3000 steps, where 1e-3 left ~90
    #: of 100 units (measured: see ``scripts/teacher_table.py``)
    default_knobs = {"lam": 2e-2, "lam2": 1e-4}

    def __init__(self, **options) -> None:
        super().__init__(**options)
        o = self.opts
        kill, collect, window, threshold = o.kill, o.collect, o.window, o.threshold
        warmup, p, min_units, record_every = o.warmup, o.p, o.min_units, o.record_every
        network = o.network
        channels = [o.channels] if isinstance(o.channels, int) else list(o.channels)
        self.kill, self.collect = kill, bool(collect)
        self.window, self.threshold, self.p = int(window), float(threshold), int(p)
        self.warmup = self.window if warmup is None else int(warmup)
        self.min_units, self.record_every = int(min_units), int(record_every)
        self.network, self.channels = network, [int(c) for c in channels]
        self._windows: dict[int, SignWindow] = {}
        self._causes: dict[int, str] = {}  # unit id -> why it died (until it is collected)
        self._dead: set[int] = set()  # masked units (collect=False)
        self._pending_events: list[dict] = []
        self._killed_now = False

    # -- network --------------------------------------------------------------------------
    def build(self, in_features, out_features, hidden, *, image_shape=None, generator=None):
        post = lambda n: [Switch(n, generator)]  # noqa: E731
        use_cnn = self.network == "cnn" or (self.network == "auto" and image_shape is not None)
        if use_cnn:
            if image_shape is None:
                raise ValueError(
                    "network=cnn needs a data set with an image shape (C, H, W); "
                    "this one has flat features. Use network=mlp or auto."
                )
            return DynamicCNN(
                image_shape, self.channels, hidden, out_features, post=post, generator=generator
            )
        return DynamicMLP(in_features, hidden, out_features, post=post, generator=generator)

    # -- the verbs ------------------------------------------------------------------------
    def regularize(self, model, knobs) -> torch.Tensor:
        """lam * ||theta||_1 + lam2 * ||W||_p^p (eq. 2, 9), with gradient (trained by Adam)."""
        return shrinknets_penalty(model, float(knobs.lam), float(knobs.lam2), self.p)

    def configure(self, optimizer, knobs, ctx: StepContext) -> None:
        super().configure(optimizer, knobs, ctx)
        if self._dead:  # masked units learn nothing (collect=False)
            for _layer, switch, dead in self._masks(ctx.model):
                if switch.grad is not None and dead.any():
                    switch.grad[dead] = 0.0

    def after_step(self, ctx: StepContext) -> None:
        """Record each switch's sign, then kill (set theta = 0) the units the strategy picks."""
        model, gamma = ctx.model, float(ctx.knobs.gamma)
        self._killed_now = False
        for layer, switch, dead in self._masks(model):
            with torch.no_grad():
                switch[dead] = 0.0  # masked units stay exactly 0 after Adam's step
            win = self._window(model, layer)
            win.push(switch, ~dead)
            if ctx.step + 1 < self.warmup or gamma <= 0:
                continue
            kill = kill_decisions(
                self.kill,
                gamma,
                switch.detach(),
                win.signs.to(switch.device),
                win.counts.to(switch.device),
                self.threshold,
            )
            kill &= ~dead & (switch.detach() != 0)
            kill = self._spare(kill, switch.detach(), dead)
            if not kill.any():
                continue
            self._killed_now = True
            with torch.no_grad():
                switch[kill] = 0.0
            ids = model.unit_ids[layer][kill.cpu().numpy()]
            if self.collect:
                self._causes.update({int(u): CAUSES[self.kill] for u in ids})
            else:
                self._dead.update(int(u) for u in ids)
                self._pending_events += [
                    unit_event(ctx.step, layer, int(u), "died", CAUSES[self.kill] + " (masked)")
                    for u in ids
                ]

    def propose(self, ctx: StepContext) -> Proposal:
        """Neural garbage collection (sec. 3.5.2): remove every unit whose switch is 0."""
        proposal = Proposal()
        if not self.collect:
            return proposal
        model = ctx.model
        for layer in range(model.n_hidden):
            switch = model.switch_values(layer)
            if switch is None:  # a layer without a switch module has nothing to collect
                continue
            zero = torch.nonzero(switch == 0).flatten().cpu().numpy()
            if zero.size == 0:
                continue
            if zero.size >= model.hidden_sizes[layer]:
                zero = zero[1:]  # never empty a layer
            by_cause: dict[str, list[int]] = {}
            for pos in zero:
                cause = self._causes.pop(int(model.unit_ids[layer][pos]), ZERO_CAUSE)
                by_cause.setdefault(cause, []).append(int(pos))
            proposal.removals += [
                Removal(layer, np.asarray(pos, dtype=np.int64), cause)
                for cause, pos in by_cause.items()
            ]
        return proposal

    def apply(self, ctx: StepContext, proposal: Proposal) -> list[dict]:
        events = super().apply(ctx, proposal)
        events, self._pending_events = events + self._pending_events, []
        return events

    def records(self, ctx: StepContext) -> list[dict]:
        done = ctx.step + 1
        if done % self.record_every and not self._killed_now:
            return []
        return [self.switch_record(ctx.model, done)]

    def switch_record(self, model, step: int) -> dict:
        """The "switch" record (fields in the module docstring)."""
        cols: dict[str, list] = {
            k: [] for k in ("layer", "unit_id", "value", "live", "sign_variance", "sign_changes")
        }
        for layer in range(model.n_hidden):
            ids = model.unit_ids[layer]
            win = self._window(model, layer)
            var = sign_variance(win.signs).numpy().astype(np.float32)
            var[win.counts.numpy() < self.window] = np.nan
            cols["layer"].append(np.full(len(ids), layer, dtype=np.int64))
            cols["unit_id"].append(ids.copy())
            cols["value"].append(model.switch_values(layer).cpu().numpy().astype(np.float32))
            cols["live"].append(np.array([int(u) not in self._dead for u in ids], dtype=bool))
            cols["sign_variance"].append(var)
            cols["sign_changes"].append(sign_changes(win.signs).numpy().astype(np.int64))
        return {
            "kind": SWITCH,
            "step": int(step),
            **{k: np.concatenate(v) for k, v in cols.items()},
            "input_neurons": int(model.input_neurons()),
        }

    # -- helpers --------------------------------------------------------------------------
    def _masks(self, model):
        """(layer, switch parameter, bool mask of masked-dead units) for every hidden layer."""
        for layer in range(model.n_hidden):
            switch = next((m.switch for m in model.post[layer] if isinstance(m, Switch)), None)
            if switch is None:
                raise ValueError(
                    f"hidden layer {layer} has no Switch; ShrinkNets needs the "
                    "network it builds (DynamicMLP/DynamicCNN with switches)"
                )
            dead = torch.from_numpy(
                np.isin(model.unit_ids[layer], np.fromiter(self._dead, dtype=np.int64))
            )
            yield layer, switch, dead.to(switch.device)

    def _window(self, model, layer: int) -> SignWindow:
        win = self._windows.setdefault(layer, SignWindow(self.window))
        win.align(model.unit_ids[layer])
        return win

    def _spare(self, kill: torch.Tensor, switch: torch.Tensor, dead: torch.Tensor) -> torch.Tensor:
        """Leave at least ``min_units`` live units: spare the candidates with largest |theta|."""
        live_after = int((~dead & ~kill).sum())
        short = self.min_units - live_after
        if short <= 0:
            return kill
        candidates = torch.nonzero(kill).flatten()
        order = torch.argsort(switch[candidates].abs(), descending=True)
        kill = kill.clone()
        kill[candidates[order[:short]]] = False
        return kill

    # -- snapshots ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "windows": {str(k): w.state_dict() for k, w in self._windows.items()},
            "causes": {str(k): v for k, v in self._causes.items()},
            "dead": sorted(self._dead),
        }

    def load_state_dict(self, state: dict) -> None:
        self._windows = {}
        for key, value in state.get("windows", {}).items():
            win = SignWindow(self.window)
            win.load_state_dict(value)
            self._windows[int(key)] = win
        self._causes = {int(k): v for k, v in state.get("causes", {}).items()}
        self._dead = set(int(u) for u in state.get("dead", []))


__all__ = [
    "CAUSES",
    "KILL_STRATEGIES",
    "NETWORKS",
    "ZERO_CAUSE",
    "ShrinkNets",
    "ShrinkNetsOptions",
    "kill_decisions",
    "penalised_weights",
    "shrinknets_penalty",
    "sign_change_bar",
    "sign_changes",
    "sign_variance",
    "sign_variance_bar",
    "switches",
]
