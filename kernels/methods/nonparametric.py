"""Nonparametric neural networks (Philipp & Carbonell, ICLR 2017).

The objective is the task loss plus a fan-in (eq. 2) or fan-out (eq. 3) Lp regularizer;
zero units are removed and ``nu`` new units (random fan-in of expected length 1, zero
fan-out) are added every ``nu_freq`` steps (sec. 3, Algorithm 1 lines 18-24). The network is
bias-free with ReLU (self-similar, sec. 3.1) and optional CapNorm (sec. 3.2), trained with
AdaRad / AdaRad-M (sec. 3.3, Algorithms 1-2) or, for comparison, Adam/SGD followed by the
proximal step of the regularizer.
"""

from __future__ import annotations

import torch

from kernels.adarad import AdaRad
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP, init_fan_in
from kernels.methods.base import Addition, Proposal, Removal, SizingMethod, StepContext
from kernels.methods.registry import register
from kernels.prox import proximal_step_
from kernels.records import PHASE
from kernels.regularizers import fan_in_penalty, fan_out_penalty

OPTIMIZERS = ("adarad", "adarad-m", "adam", "sgd")
PHASES = ("grow", "drain", "settle", "anneal")


@register
class Nonparametric(SizingMethod):
    """Options: ``optimizer`` in {adarad, adarad-m, adam, sgd}; ``p`` in {1, 2};
    ``regularizer`` in {fan_in, fan_out}; ``capnorm`` (bool); ``growth_every`` (steps between
    unit additions, default one epoch as in Table 3); ``protocol`` (sec. 4 / 7.4: stop adding
    units once validation stops improving, then set lambda to zero, then anneal the angular
    step) with ``patience`` evaluations per phase.
    """

    name = "nonparametric"
    description = ("Fan-in l2 penalty (lambda) shrinks whole units to zero; new units are "
                   "added at the growth rate; CapNorm + AdaRad (Philipp & Carbonell 2017).")
    knobs = ("lam", "growth_rate", "growth_every", "angular_lr", "radial_lr", "lr")
    record_kinds = ("phase",)
    dynamic = True

    def __init__(self, optimizer: str = "adarad", p: int = 2, regularizer: str = "fan_in",
                 capnorm: bool = True, protocol: bool = False, patience: int = 5,
                 **options) -> None:
        super().__init__(**options)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer '{optimizer}'; accepted: {', '.join(OPTIMIZERS)}")
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2 (eq. 2-3), got {p}")
        if regularizer not in ("fan_in", "fan_out"):
            raise ValueError(f"regularizer must be 'fan_in' or 'fan_out', got '{regularizer}'")
        self.optimizer_name, self.p, self.regularizer = optimizer, p, regularizer
        self.capnorm, self.protocol, self.patience = capnorm, protocol, int(patience)
        self.phase = "grow"
        self._best_val, self._since_best, self._seen_evals = float("inf"), 0, 0
        self._anneal = 1.0  # angular step multiplier of the annealing phase
        self._pending: list[dict] = []

    # -- network and optimizer --------------------------------------------------------
    def build(self, in_features, out_features, hidden, *, image_shape=None, generator=None):
        post = (lambda n: [CapNorm(n)]) if self.capnorm else None
        return DynamicMLP(in_features, hidden, out_features, bias=False, post=post,
                          generator=generator)

    def make_optimizer(self, model, knobs):
        weights = [lin.weight for lin in model.linears]
        if self.optimizer_name.startswith("adarad"):
            return AdaRad(weights, radial_lr=knobs.radial_lr, angular_lr=knobs.angular_lr,
                          lam=knobs.lam, momentum=self.optimizer_name == "adarad-m")
        if self.optimizer_name == "adam":
            return torch.optim.Adam(weights, lr=knobs.lr)
        return torch.optim.SGD(weights, lr=knobs.lr, momentum=0.9)

    def effective_lam(self, knobs) -> float:
        return 0.0 if self.phase in ("settle", "anneal") else float(knobs.lam)

    def configure(self, optimizer, knobs, ctx: StepContext) -> None:
        lam = self.effective_lam(knobs)
        for group in optimizer.param_groups:
            if isinstance(optimizer, AdaRad):
                group["lam"] = lam
                group["radial_lr"] = knobs.radial_lr
                group["angular_lr"] = knobs.angular_lr * self._anneal
                group["batch_fraction"] = len(ctx.y) / ctx.n_train
            else:
                group["lr"] = knobs.lr

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
            lengths = (model.fan_in_norm(layer) if self.regularizer == "fan_in"
                       else model.fan_out_norm(layer))
            dead = torch.nonzero(lengths == 0).flatten().cpu().numpy()
            # never empty a layer (a zero-width layer cannot grow back through a Linear of
            # width 0): keep one unit, which stays a harmless zero unit until it regrows
            if dead.size == model.hidden_sizes[layer]:
                dead = dead[1:]
            if dead.size:
                cause = "fan-in shrunk to zero" if self.regularizer == "fan_in" \
                    else "fan-out shrunk to zero"
                proposal.removals.append(Removal(layer, dead, cause))
        every = int(ctx.knobs.growth_every) or ctx.steps_per_epoch
        if self.phase == "grow" and ctx.step > 0 and ctx.step % every == 0:
            # top layer first, as Algorithm 1 (l = L..1): a lower layer's new units then pad
            # the fan-ins just drawn above with zero columns
            for layer in reversed(range(model.n_hidden)):
                k = self._draw_count(float(ctx.knobs.growth_rate), ctx.generator)
                if k:
                    proposal.additions.append(self._new_units(model, layer, k, ctx.generator))
        return proposal

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
        way round for the fan-out regularizer; either keeps the output unchanged."""
        lin, nxt = model.linears[layer], model.linears[layer + 1]
        dev = lin.weight.device
        if self.regularizer == "fan_in":
            fan_in = init_fan_in(k, lin.in_features, generator, device=dev)
            return Addition(layer, fan_in, None, "added at random (growth rate)")
        fan_in = torch.zeros(k, lin.in_features, device=dev)
        fan_out = init_fan_in(k, nxt.out_features, generator, device=dev).T.contiguous()
        return Addition(layer, fan_in, fan_out, "added at random (growth rate)")

    def _advance_protocol(self, ctx: StepContext) -> None:
        """Sec. 4 and 7.4: grow until validation stops improving, then stop adding units
        (drain), then lambda = 0 (settle), then halve the angular step on every plateau."""
        if not self.protocol or len(ctx.val_history) == self._seen_evals:
            return
        self._seen_evals = len(ctx.val_history)
        val = ctx.val_history[-1]
        if val < self._best_val - 1e-4:
            self._best_val, self._since_best = val, 0
            return
        self._since_best += 1
        if self._since_best < self.patience:
            return
        self._since_best = 0
        if self.phase == "anneal":
            self._anneal = self._anneal * 0.5
        else:
            self.phase = PHASES[PHASES.index(self.phase) + 1]
        self._pending.append({"kind": PHASE, "step": ctx.step, "phase": self.phase,
                              "angular_factor": self._anneal})

    def state_dict(self) -> dict:
        return {"phase": self.phase, "best_val": self._best_val, "since_best": self._since_best,
                "seen_evals": self._seen_evals, "anneal": self._anneal}

    def load_state_dict(self, state: dict) -> None:
        self.phase = state["phase"]
        self._best_val, self._since_best = state["best_val"], state["since_best"]
        self._seen_evals, self._anneal = state["seen_evals"], state["anneal"]
