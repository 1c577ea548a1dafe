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

Killing strategies (option ``kill``) and the live knob gamma in [0, 1]. gamma = 0 turns
killing off (only switches that reach exactly 0 are collected: the paper's "no neuron
removal" baseline of sec. 4.4); for gamma > 0 a higher gamma never kills later, because each
test's bar only gets lower as gamma rises. The sign tests look at the last ``window`` signs
(+1/-1) of each switch, recorded once per step; no kill happens before ``warmup`` steps
(default: ``window``):

* ``threshold``: kill when ``|theta| <= gamma * threshold`` (option ``threshold``,
  default 0.1). Scale dependent, as the paper warns (the weights can grow as theta shrinks).
* ``sign_change``: kill when the switch changed sign at least
  ``c(gamma) = max(1, ceil((1 - gamma) * (window - 1)))`` times within the window: gamma = 1
  kills on the first sign change, gamma -> 0 asks for a switch that flips every step.
* ``sign_variance``: with a full window of signs s_t, kill when
  ``var(s) = 1 - mean(s)^2 >= v(gamma) = (1 - gamma) + gamma * v_min``, where
  ``v_min = 4 (window - 1) / window^2`` is the variance of a window holding a single
  minority sign: gamma = 1 kills any switch whose window holds both signs, gamma -> 0 asks
  for an evenly split window (variance 1).

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

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from kernels.dynamic_cnn import DynamicCNN
from kernels.dynamic_mlp import DynamicMLP
from kernels.methods.base import (
    MethodOptions,
    Proposal,
    Removal,
    SizingMethod,
    StepContext,
    unit_event,
)
from kernels.methods.registry import register
from kernels.records import SWITCH
from kernels.switch import Switch

KILL_STRATEGIES = ("threshold", "sign_change", "sign_variance")
NETWORKS = ("mlp", "cnn", "auto")
CAUSES = {
    "threshold": "killed: switch below threshold",
    "sign_change": "killed: sign change",
    "sign_variance": "killed: sign variance",
}
ZERO_CAUSE = "switch reached zero"


def sign_change_bar(gamma: float, window: int) -> int:
    """Sign changes within the window that kill a unit (``sign_change`` strategy)."""
    return max(1, math.ceil((1.0 - gamma) * (window - 1) - 1e-9))


def sign_variance_bar(gamma: float, window: int) -> float:
    """Sign variance at or above which a unit is killed (``sign_variance`` strategy)."""
    v_min = 4.0 * (window - 1) / window**2
    return (1.0 - gamma) + gamma * v_min


def kill_decisions(
    strategy: str,
    gamma: float,
    switch: torch.Tensor,
    signs: torch.Tensor,
    counts: torch.Tensor,
    threshold: float,
) -> torch.Tensor:
    """Which units to kill (bool, one per unit) by one of the strategies of sec. 3.5.1.

    ``signs`` (n, window) holds the last signs of each switch, oldest first, 0 where the
    unit has no record yet; ``counts`` (n,) how many entries are filled.
    """
    if strategy not in KILL_STRATEGIES:
        raise ValueError(
            f"unknown kill strategy '{strategy}'; accepted: {', '.join(KILL_STRATEGIES)}"
        )
    n, window = signs.shape
    if gamma <= 0 or n == 0:
        return torch.zeros(n, dtype=torch.bool, device=switch.device)
    if strategy == "threshold":
        return switch.abs() <= gamma * threshold
    if strategy == "sign_change":
        return sign_changes(signs) >= sign_change_bar(gamma, window)
    full = counts >= window
    return full & (sign_variance(signs) >= sign_variance_bar(gamma, window) - 1e-6)


def sign_changes(signs: torch.Tensor) -> torch.Tensor:
    """Number of sign changes between consecutive recorded signs, per unit."""
    s = signs.to(torch.int16)
    return ((s[:, 1:] * s[:, :-1]) < 0).sum(dim=1)


def sign_variance(signs: torch.Tensor) -> torch.Tensor:
    """Variance of the recorded signs (-1/+1) per unit, 1 - mean^2 (empty entries ignored)."""
    s = signs.to(torch.float32)
    filled = (s != 0).sum(dim=1).clamp_min(1)
    mean = s.sum(dim=1) / filled
    return 1.0 - mean**2


class _SignWindow:
    """The last ``window`` switch signs of each unit of one layer, keyed by unit id."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.ids = np.zeros(0, dtype=np.int64)
        self.signs = torch.zeros(0, window, dtype=torch.int8)
        self.counts = torch.zeros(0, dtype=torch.int64)

    def align(self, ids: np.ndarray) -> None:
        """Reorder rows to ``ids``: removed units' rows go, new units get empty rows."""
        if np.array_equal(ids, self.ids):
            return
        where = {int(u): i for i, u in enumerate(self.ids)}
        rows = [where.get(int(u), -1) for u in ids]
        signs = torch.zeros(len(ids), self.window, dtype=torch.int8)
        counts = torch.zeros(len(ids), dtype=torch.int64)
        for i, r in enumerate(rows):
            if r >= 0:
                signs[i], counts[i] = self.signs[r], self.counts[r]
        self.ids, self.signs, self.counts = np.asarray(ids, dtype=np.int64).copy(), signs, counts

    def push(self, switch: torch.Tensor, live: torch.Tensor) -> None:
        """Append the current signs (live units only; dead ones keep their last window)."""
        new = torch.sign(switch.detach()).to("cpu", torch.int8)
        live = live.cpu()
        shifted = torch.cat([self.signs[:, 1:], new[:, None]], dim=1)
        self.signs = torch.where(live[:, None], shifted, self.signs)
        self.counts = torch.where(live, (self.counts + 1).clamp_max(self.window), self.counts)

    def state_dict(self) -> dict:
        return {
            "ids": self.ids.tolist(),
            "signs": self.signs.tolist(),
            "counts": self.counts.tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.ids = np.asarray(state["ids"], dtype=np.int64)
        self.signs = torch.tensor(state["signs"], dtype=torch.int8).reshape(-1, self.window)
        self.counts = torch.tensor(state["counts"], dtype=torch.int64)


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


@dataclass
class ShrinkNetsOptions(MethodOptions):
    """``kill`` in {threshold, sign_change, sign_variance} (default sign_variance);
    ``collect`` (default true: remove dead units at once; false: keep them masked);
    ``window`` (signs kept per unit, default 20); ``threshold`` (scale of the threshold
    strategy, default 0.1); ``warmup`` (steps before any kill, default ``window``); ``p``
    (exponent of the weight penalty, 1 or 2, default 2); ``min_units`` (default 1);
    ``record_every`` (steps between "switch" records, default 10); ``network`` in
    {mlp, cnn, auto} (auto = cnn when the data set has an image shape) with ``channels``
    (conv block widths, default [16, 32]); the hidden sizes of the run are the fully
    connected layers."""

    kill: str = "sign_variance"
    collect: bool = True
    window: int = 20
    threshold: float = 0.1
    warmup: int | None = None
    p: int = 2
    min_units: int = 1
    record_every: int = 10
    network: str = "mlp"
    channels: Any = (16, 32)

    def problems(self) -> list[str]:
        out = super().problems()
        if self.kill not in KILL_STRATEGIES:
            out.append(
                f"unknown kill strategy '{self.kill}'; accepted: {', '.join(KILL_STRATEGIES)}"
            )
        if self.network not in NETWORKS:
            out.append(f"unknown network '{self.network}'; accepted: {', '.join(NETWORKS)}")
        if int(self.window) < 2:
            out.append(f"window must be >= 2 steps, got {self.window}")
        if self.p not in (1, 2):
            out.append(f"p must be 1 or 2 (eq. 9), got {self.p}")
        if float(self.threshold) < 0:
            out.append(f"threshold must be >= 0, got {self.threshold}")
        if int(self.min_units) < 1 or int(self.record_every) < 1:
            out.append(
                f"min_units and record_every must be >= 1, got {self.min_units} and "
                f"{self.record_every}"
            )
        channels = [self.channels] if isinstance(self.channels, int) else self.channels
        if not channels or any(int(c) < 1 for c in channels):
            out.append(f"channels must be a non-empty list of integers >= 1, got {self.channels}")
        return out


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
        self._windows: dict[int, _SignWindow] = {}
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

    def _window(self, model, layer: int) -> _SignWindow:
        win = self._windows.setdefault(layer, _SignWindow(self.window))
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
            win = _SignWindow(self.window)
            win.load_state_dict(value)
            self._windows[int(key)] = win
        self._causes = {int(k): v for k, v in state.get("causes", {}).items()}
        self._dead = set(int(u) for u in state.get("dead", []))
