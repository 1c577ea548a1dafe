"""Nonparametric neural networks (Philipp & Carbonell, ICLR 2017).

The objective is the task loss plus a fan-in (eq. 2) or fan-out (eq. 3) Lp regularizer;
zero units are removed and ``nu`` new units (random fan-in of expected length 1, zero
fan-out) are added every ``nu_freq`` steps (sec. 3, Algorithm 1 lines 18-24). The network is
bias-free with ReLU (self-similar, sec. 3.1) and optional CapNorm (sec. 3.2), trained with
AdaRad / AdaRad-M (sec. 3.3, Algorithms 1-2) or, for comparison, Adam/SGD followed by the
proximal step of the regularizer.

AdaRad and AdaRad-M are defined for the fan-in l2 regularizer only (Algorithm 1 line 17
shrinks each fan-in by alpha_r * lambda); ``p=1`` or ``regularizer=fan_out`` with them is
refused (use ``optimizer=adam`` or ``sgd``, whose proximal step handles every case).

The radial step alpha_r follows lambda by default (knob ``radial_auto``): alpha_r =
1 / (T lambda), T the unit lifetime in epochs, set per data set as Table 3 does (50 epochs for
mnist-like sets, 5 where the data set declares none); the options, the lifetime and why are in
:mod:`kernels.methods.nonparametric_options`, the rewind of the protocol in
:mod:`kernels.methods.rewind`.

Training protocol (``protocol=true``, the default), sec. 7.4.1 with patience P in epochs;
"validation" is the validation classification error (VCE, sec. 4 and 7.4.1; option
``criterion=loss`` watches the validation loss instead):

1. grow: add units until validation has not improved for P epochs; rewind to the best
   validation state; stop adding units (drain);
2. drain: train on until a whole window of P epochs has seen no unit eliminated *and* no
   validation improvement; rewind to the best state of that window; lambda = 0 (settle);
3. settle: until validation has not improved for P epochs; rewind; divide the angular step
   by 3 (anneal);
4. anneal: until validation has not improved for P/20 epochs (the paper's 100 -> 5 and
   10 -> 0.5); rewind; divide by 3 again; stop annealing (phase ``done``) after a round in
   which the smaller step did not change the best validation loss.

P (option ``patience``, epochs) is at least one unit lifetime, so a unit added just before
the plateau has time to die; 0 (default) means two lifetimes, the paper's ratio (7.4.1:
100 epochs for 50; 7.4.2: 10 for 5). ``protocol=false`` grows for the whole run (units are
still removed when their fan-in reaches zero).

Departures from the paper, said here: "rewind" restores the weights, the network's
structure and the optimizer's state to the best validation state that the run has seen in
the current phase, not exactly P epochs back (in the drain phase the best since the last
unit death, so a rewind never brings an eliminated unit back); the step counter is not
rewound (a rewound run spends steps, as a wall clock would); a rewind is reported as
"died"/"born" events with cause "removed by rewind" / "restored by rewind", and a "phase"
record. Validation is only seen at the trainer's evaluation steps, so every window is
rounded up to the next evaluation.
"""

from __future__ import annotations

import math

import torch

from kernels.adarad import AdaRad
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP, init_fan_in
from kernels.methods.base import (
    Addition,
    Proposal,
    Removal,
    SizingMethod,
    StepContext,
    unit_event,
)
from kernels.methods.nonparametric_options import (
    ANNEAL_DIVISOR,
    ANNEAL_SHARE,
    FALLBACK_PATIENCE,
    LIFETIME_EPOCHS,
    OPTIMIZERS,
    PATIENCE_LIFETIMES,
    PHASES,
    REGULARIZERS,
    NonparametricOptions,
    auto_radial_lr,
    radial_lr_of,
    unit_lifetime_epochs,
)
from kernels.methods.registry import register
from kernels.methods.rewind import restore_checkpoint, take_checkpoint
from kernels.prox import proximal_step_
from kernels.records import PHASE
from kernels.regularizers import fan_in_penalty, fan_out_penalty


@register
class Nonparametric(SizingMethod):
    """Options: see :class:`NonparametricOptions` (and ``optimizer_state``)."""

    name = "nonparametric"
    description = (
        "Fan-in l2 penalty (lambda) shrinks whole units to zero; new units are "
        "added at the growth rate; CapNorm + AdaRad (Philipp & Carbonell 2017)."
    )
    knobs = ("lam", "growth_rate", "growth_every", "angular_lr", "radial_lr", "lr")
    record_kinds = (PHASE,)
    Options = NonparametricOptions
    opts: NonparametricOptions
    #: Table 3 starts with 10 units per hidden layer; growth does the rest
    default_hidden = (10, 10)
    #: lambda = 3e-3, the paper's largest mnist value (sec. 4.1); the lifetime and the
    #: protocol that go with it: :mod:`kernels.methods.nonparametric_options`
    default_knobs = {"lam": 3e-3}
    #: Table 3 sets the lifetime per data set: a registry entry may declare its own
    data_options = {"lifetime": "paper_lifetime_epochs"}

    def __init__(self, **options) -> None:
        super().__init__(**options)
        o = self.opts
        self.optimizer_name, self.p, self.regularizer = o.optimizer, int(o.p), o.regularizer
        self.capnorm, self.protocol = bool(o.capnorm), bool(o.protocol)
        self.patience, self.tolerance = float(o.patience), float(o.tolerance)
        self.criterion = o.criterion
        #: epochs a new unit lives under shrinkage alone when alpha_r is automatic
        self.lifetime = float(o.lifetime) or LIFETIME_EPOCHS
        self.phase = "grow"
        self._anneal = 1.0  # angular step multiplier of the annealing phase
        self._best_val = math.inf  # best validation loss of the current phase (window)
        self._best_epoch = 0.0  # when it was seen (epochs)
        self._round_start_val = math.inf  # anneal: the best when this round began
        self._last_death_epoch = 0.0
        self._seen_evals = 0
        self._checkpoint: dict | None = None
        self._pending: list[dict] = []
        self._pending_events: list[dict] = []

    # -- network and optimizer --------------------------------------------------------
    def build(self, in_features, out_features, hidden, *, image_shape=None, generator=None):
        post = (lambda n: [CapNorm(n)]) if self.capnorm else None
        return DynamicMLP(
            in_features, hidden, out_features, bias=False, post=post, generator=generator
        )

    def make_optimizer(self, model, knobs):
        weights = [lin.weight for lin in model.linears]
        if self.optimizer_name.startswith("adarad"):
            return AdaRad(
                weights,
                radial_lr=radial_lr_of(knobs, self.lifetime),
                angular_lr=knobs.angular_lr,
                lam=knobs.lam,
                momentum=self.optimizer_name == "adarad-m",
            )
        if self.optimizer_name == "adam":
            return torch.optim.Adam(weights, lr=knobs.lr)
        return torch.optim.SGD(weights, lr=knobs.lr, momentum=0.9)

    def effective_lam(self, knobs) -> float:
        return 0.0 if self.phase in ("settle", "anneal", "done") else float(knobs.lam)

    def lifetime_epochs(self, knobs, steps_per_epoch: int) -> float:
        """A new unit's lifetime under shrinkage alone, in epochs: 1/(alpha_r lambda) with
        AdaRad; 1/(lr lambda steps_per_epoch) with the proximal step of Adam/SGD."""
        if self.optimizer_name.startswith("adarad"):
            return unit_lifetime_epochs(radial_lr_of(knobs, self.lifetime), float(knobs.lam))
        return unit_lifetime_epochs(float(knobs.lr) * steps_per_epoch, float(knobs.lam))

    def patience_epochs(self, knobs, steps_per_epoch: int) -> float:
        """P: the ``patience`` option, at least one unit lifetime; 0 = two lifetimes (sec.
        7.4.1 uses 100 epochs with lifetimes of 50, 7.4.2 10 epochs with lifetimes of 5)."""
        life = self.lifetime_epochs(knobs, steps_per_epoch)
        if math.isinf(life):
            return self.patience or FALLBACK_PATIENCE
        return max(self.patience, life) if self.patience else PATIENCE_LIFETIMES * life

    def configure(self, optimizer, knobs, ctx: StepContext) -> None:
        lam = self.effective_lam(knobs)
        for group in optimizer.param_groups:
            if isinstance(optimizer, AdaRad):
                group["lam"] = lam
                group["radial_lr"] = radial_lr_of(knobs, self.lifetime)
                group["angular_lr"] = knobs.angular_lr * self._anneal
                group["batch_fraction"] = len(ctx.y) / ctx.n_train
            else:
                group["lr"] = knobs.lr * (self._anneal if self.protocol else 1.0)

    # -- the verbs ------------------------------------------------------------------------
    def regularize(self, model, knobs) -> torch.Tensor:
        """Omega_in / Omega_out (eq. 2-3). Applied through a proximal step, so the value is
        returned detached: it is reported in the objective but adds no gradient."""
        lam = self.effective_lam(knobs)
        penalty = fan_in_penalty if self.regularizer == "fan_in" else fan_out_penalty
        with torch.no_grad():
            zero = torch.zeros((), device=model.linears[0].weight.device)
            return sum((penalty(lin.weight, lam, self.p) for lin in model.linears), zero)

    def after_step(self, ctx: StepContext) -> None:
        """Proximal step of the regularizer for Adam/SGD (AdaRad shrinks inside its step,
        Algorithm 1 line 17). Threshold lr * lambda: the prox of lr * Omega."""
        self._advance_protocol(ctx)
        if isinstance(ctx.optimizer, AdaRad):
            return
        lam = self.effective_lam(ctx.knobs)
        if lam <= 0:
            return
        for lin in ctx.model.linears:
            w = lin.weight.data if self.regularizer == "fan_in" else lin.weight.data.T
            proximal_step_(w, lam, ctx.knobs.lr, self.p)

    def propose(self, ctx: StepContext) -> Proposal:
        model, proposal = ctx.model, Proposal()
        for layer in range(model.n_hidden):
            lengths = (
                model.fan_in_norm(layer)
                if self.regularizer == "fan_in"
                else model.fan_out_norm(layer)
            )
            dead = torch.nonzero(lengths == 0).flatten().cpu().numpy()
            # never empty a layer (a zero-width layer cannot grow back through a Linear of
            # width 0): keep one unit, which stays a harmless zero unit until it regrows
            if dead.size == model.hidden_sizes[layer]:
                dead = dead[1:]
            if dead.size:
                cause = (
                    "fan-in shrunk to zero"
                    if self.regularizer == "fan_in"
                    else "fan-out shrunk to zero"
                )
                proposal.removals.append(Removal(layer, dead, cause))
                self._on_death(ctx)
        every = int(ctx.knobs.growth_every) or ctx.steps_per_epoch
        if self.phase == "grow" and ctx.step > 0 and ctx.step % every == 0:
            # top layer first, as Algorithm 1 (l = L..1): a lower layer's new units then pad
            # the fan-ins just drawn above with zero columns
            for layer in reversed(range(model.n_hidden)):
                k = self._draw_count(float(ctx.knobs.growth_rate), ctx.generator)
                if k:
                    proposal.additions.append(self._new_units(model, layer, k, ctx.generator))
        return proposal

    def apply(self, ctx: StepContext, proposal: Proposal) -> list[dict]:
        events, self._pending_events = self._pending_events, []
        return events + super().apply(ctx, proposal)

    def records(self, ctx: StepContext) -> list[dict]:
        out, self._pending = self._pending, []
        return out

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _draw_count(rate: float, generator: torch.Generator) -> int:
        """nu' = nu, or Poisson(nu) when nu is fractional (Algorithm 1 line 23)."""
        if rate <= 0:
            return 0
        if float(rate).is_integer():
            return int(rate)
        return int(torch.poisson(torch.tensor([rate]), generator=generator).item())

    def _new_units(self, model, layer, k, generator) -> Addition:
        """Random fan-in and zero fan-out for the fan-in regularizer (sec. 3), or the other
        way round for the fan-out regularizer; either keeps the output unchanged. A random
        fan-out is drawn when the addition is applied (``make_fan_out``): the layer above
        may have grown by then (layers are applied top down)."""
        lin = model.linears[layer]
        dev = lin.weight.device
        if self.regularizer == "fan_in":
            fan_in = init_fan_in(k, lin.in_features, generator, device=dev)
            return Addition(layer, fan_in, None, "added at random (growth rate)")
        fan_in = torch.zeros(k, lin.in_features, device=dev)

        def make_fan_out(m) -> torch.Tensor:
            nxt = m.linears[layer + 1]
            return init_fan_in(k, nxt.out_features, generator, device=dev).T.contiguous()

        return Addition(
            layer, fan_in, None, "added at random (growth rate)", make_fan_out=make_fan_out
        )

    # -- the protocol of sec. 7.4 ---------------------------------------------------------
    def _on_death(self, ctx: StepContext) -> None:
        self._last_death_epoch = float(ctx.epoch)
        if self.protocol and self.phase == "drain":
            # the drain window restarts: its best state must be one without the dead unit
            self._best_val, self._best_epoch = math.inf, float(ctx.epoch)
            self._checkpoint = None

    def _advance_protocol(self, ctx: StepContext) -> None:
        """One look at the newest validation error or loss (sec. 7.4.1; module docstring)."""
        history = ctx.val_error_history if self.criterion == "error" else ctx.val_history
        if not self.protocol or not history or len(history) == self._seen_evals:
            return
        self._seen_evals = len(history)
        if self.phase == "done":
            return
        val, epoch = float(history[-1]), float(ctx.epoch)
        if val < self._best_val - self.tolerance:
            self._best_val, self._best_epoch = val, epoch
            self._checkpoint = take_checkpoint(ctx.model, ctx.optimizer, val)
            return
        patience = self.patience_epochs(ctx.knobs, ctx.steps_per_epoch)
        if self.phase == "anneal":
            patience *= ANNEAL_SHARE
        if epoch - self._best_epoch < patience:
            return
        if self.phase == "drain" and epoch - self._last_death_epoch < patience:
            return
        self._rewind(ctx)
        if self.phase == "anneal" and not self._best_val < self._round_start_val - self.tolerance:
            self.phase = "done"  # the smaller step no longer changes validation
        elif self.phase in ("settle", "anneal"):
            self.phase = "anneal"
            self._anneal /= ANNEAL_DIVISOR
        else:
            self.phase = PHASES[PHASES.index(self.phase) + 1]
        self._round_start_val, self._best_epoch = self._best_val, epoch
        self._last_death_epoch = epoch
        self._pending.append(
            {
                "kind": PHASE,
                "step": int(ctx.step),
                "phase": self.phase,
                "angular_factor": self._anneal,
                "best_val": self._best_val,
                "patience_epochs": patience,
                "sizes": list(ctx.model.hidden_sizes),
            }
        )

    def _rewind(self, ctx: StepContext) -> None:
        if self._checkpoint is None:
            return
        before = {(layer, int(u)) for layer, ids in enumerate(ctx.model.unit_ids) for u in ids}
        restore_checkpoint(ctx.model, ctx.optimizer, self._checkpoint)
        after = {(layer, int(u)) for layer, ids in enumerate(ctx.model.unit_ids) for u in ids}
        self._pending_events += [
            unit_event(ctx.step, layer, u, "died", "removed by rewind")
            for layer, u in sorted(before - after)
        ]
        self._pending_events += [
            unit_event(ctx.step, layer, u, "born", "restored by rewind")
            for layer, u in sorted(after - before)
        ]
        self._best_val = self._checkpoint["val"]

    def state_dict(self) -> dict:
        return {
            "phase": self.phase,
            "best_val": self._best_val,
            "best_epoch": self._best_epoch,
            "round_start_val": self._round_start_val,
            "last_death_epoch": self._last_death_epoch,
            "seen_evals": self._seen_evals,
            "anneal": self._anneal,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores the protocol's clock; the rewind checkpoint is not part of a snapshot
        (after a resume the phase's next improvement takes a new one)."""
        self.phase = state["phase"]
        self._best_val = state["best_val"]
        self._best_epoch = state.get("best_epoch", 0.0)
        self._round_start_val = state.get("round_start_val", math.inf)
        self._last_death_epoch = state.get("last_death_epoch", 0.0)
        self._seen_evals, self._anneal = state["seen_evals"], state["anneal"]


__all__ = [
    "ANNEAL_DIVISOR",
    "ANNEAL_SHARE",
    "LIFETIME_EPOCHS",
    "OPTIMIZERS",
    "PHASES",
    "REGULARIZERS",
    "Nonparametric",
    "NonparametricOptions",
    "auto_radial_lr",
    "radial_lr_of",
    "restore_checkpoint",
    "take_checkpoint",
    "unit_lifetime_epochs",
]
