"""Options of nonparametric networks (Philipp & Carbonell, ICLR 2017) and the unit lifetime.

The radial step alpha_r follows lambda by default (knob ``radial_auto``): Table 3 sets
alpha_r = 1 / (50 lambda), so a new unit whose fan-in has length 1 shrinks to zero in
1 / (alpha_r lambda) = 50 epochs unless the loss keeps it (sec. 4.1): its *lifetime*
(:func:`unit_lifetime_epochs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.methods.base import MethodOptions

OPTIMIZERS = ("adarad", "adarad-m", "adam", "sgd")
REGULARIZERS = ("fan_in", "fan_out")
PHASES = ("grow", "drain", "settle", "anneal", "done")
#: Table 3: alpha_r = 1 / (LIFETIME_EPOCHS * lambda), a new unit's lifetime in epochs
LIFETIME_EPOCHS = 50.0
#: the angular step is divided by this at every annealing step (sec. 4.1, 7.4.1)
ANNEAL_DIVISOR = 3.0
#: anneal-phase patience as a share of P (7.4.1: 100 -> 5 epochs; 7.4.2: 10 -> 0.5)
ANNEAL_SHARE = 1.0 / 20.0
#: patience in epochs when the lifetime is infinite (lambda = 0) and no patience is given
FALLBACK_PATIENCE = 10.0


def auto_radial_lr(lam: float, lifetime_epochs: float = LIFETIME_EPOCHS) -> float:
    """alpha_r = 1 / (lifetime * lambda) (Table 3, sec. 4.1); 0 when lambda = 0."""
    return 1.0 / (lifetime_epochs * lam) if lam > 0 else 0.0


def radial_lr_of(knobs) -> float:
    """The radial step in use: Table 3's rule when the knob ``radial_auto`` is on (it then
    follows the lambda slider live), else the ``radial_lr`` knob."""
    if getattr(knobs, "radial_auto", False):
        return auto_radial_lr(float(knobs.lam))
    return float(knobs.radial_lr)


def unit_lifetime_epochs(radial_lr: float, lam: float) -> float:
    """Epochs for AdaRad's shrinkage alone to take a fan-in of length 1 to zero:
    1 / (alpha_r lambda) (sec. 4.1: the shrink threshold per epoch is alpha_r lambda, the
    batch shares summing to 1); inf when either is 0."""
    rate = float(radial_lr) * float(lam)
    return 1.0 / rate if rate > 0 else math.inf


@dataclass
class NonparametricOptions(MethodOptions):
    """``optimizer`` in {adarad, adarad-m, adam, sgd}; ``p`` in {1, 2} (eq. 2-3);
    ``regularizer`` in {fan_in, fan_out}; ``capnorm`` (sec. 3.2); ``protocol`` (sec. 7.4,
    see the module docstring) with ``patience`` (epochs, at least one unit lifetime; 0 = one
    lifetime) and ``tolerance`` (validation-loss change that counts as an improvement)."""

    optimizer: str = "adarad"
    p: int = 2
    regularizer: str = "fan_in"
    capnorm: bool = True
    protocol: bool = False
    patience: float = 0.0
    tolerance: float = 1e-4

    def problems(self) -> list[str]:
        out = super().problems()
        if self.optimizer not in OPTIMIZERS:
            out.append(f"unknown optimizer '{self.optimizer}'; accepted: {', '.join(OPTIMIZERS)}")
        if self.p not in (1, 2):
            out.append(f"p must be 1 or 2 (eq. 2-3), got {self.p}")
        if self.regularizer not in REGULARIZERS:
            out.append(f"regularizer must be 'fan_in' or 'fan_out', got '{self.regularizer}'")
        if self.optimizer in ("adarad", "adarad-m") and (
            self.p != 2 or self.regularizer != "fan_in"
        ):
            out.append(
                f"{self.optimizer} is defined for the fan-in l2 regularizer only "
                f"(Algorithm 1 line 17 shrinks fan-ins by alpha_r lambda), got "
                f"p={self.p}, regularizer={self.regularizer}; accepted with it: p=2, "
                "regularizer=fan_in (or use optimizer=adam or sgd)"
            )
        if not isinstance(self.capnorm, bool) or not isinstance(self.protocol, bool):
            out.append(
                f"capnorm and protocol must be true or false, got {self.capnorm!r} "
                f"and {self.protocol!r}"
            )
        if not float(self.patience) >= 0 or not float(self.tolerance) >= 0:
            out.append(
                f"patience and tolerance must be >= 0, got {self.patience} and {self.tolerance}"
            )
        return out
