"""Options of nonparametric networks (Philipp & Carbonell, ICLR 2017) and the unit lifetime.

The radial step alpha_r follows lambda by default (knob ``radial_auto``): alpha_r =
1 / (T lambda), so a new unit whose fan-in has length 1 shrinks to zero in
1 / (alpha_r lambda) = T epochs unless the loss keeps it (sec. 4.1): its *lifetime*
(:func:`unit_lifetime_epochs`), T the option ``lifetime``.

The lifetime is set per data set, as Table 3 does: alpha_r = 1 / (50 lambda) for mnist,
rectangles and convex, 1 / (5 lambda) for poker. A registry entry declares its Table 3
lifetime (``explorer.data.registry``, ``paper_lifetime_epochs``; a run that does not set
``lifetime`` takes it, ``explorer.config.method_options_for``): 50 epochs for mnist,
rectangles, convex, and for MNIST-1D, the 1-D stand-in for mnist. A set the paper does not
cover (``teacher``, ``digits``, a file) gets LIFETIME_EPOCHS = 5, the poker value. Why not 50
everywhere: while units are added (one per layer per epoch, Table 3's nu), every unit younger
than one lifetime is alive whether or not it is useful, so a growing layer carries about
``lifetime x nu`` units of overhead, 50 units with 50 epochs, which the paper's runs (over
1000 epochs, layers of hundreds) drain only at the end. In this project's default budget
(3000 steps, about 100 epochs on the built-in sets) a 50-epoch lifetime leaves the net at
about 100 units whatever it needs: on ``teacher`` (right width 16) it ended at ~107; with 5
epochs the overhead is ~5 units and the protocol's windows (two lifetimes) fit several times
in the budget. Why not 5 everywhere: a new unit then has 5 epochs to become useful, and on a
set whose good nets are wide few do: MNIST-1D stopped at [26, 14] with test accuracy 0.53-0.54
(6000 steps, seed 0) where 50 epochs reach 0.673 and a static 100-100 net 0.645 (means of
seeds 0-2; README).
With 50 epochs the protocol's windows (two lifetimes, 100 epochs each) hardly fit in a
6000-step run (231 epochs): the MNIST-1D default grows for most of it; the
``nonparametric-mnist1d`` preset (P = one lifetime, 8000 steps) shows the drain.

The protocol of sec. 7.4 is on by default (option ``protocol``): the paper's results
(sec. 4.1, 4.3) all come from it ("after the validation error stopped improving, we ceased
adding units, allowing all remaining redundant units to be eliminated", sec. 4), and a net
that keeps adding units never ends at its size. It watches the validation classification
error, as the paper (option ``criterion``, "error"; "loss" watches the cross-entropy, which
on MNIST-1D stops improving earlier: with 5-epoch lifetimes the growth ended at step 1550 on
the loss, 2050 on the error, seed 0). Its patience P defaults to two
unit lifetimes, the paper's ratio in both protocols (7.4.1: P = 100 epochs for a 50-epoch
lifetime; 7.4.2: P = 10 epochs for a 5-epoch lifetime).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernels.methods.base import MethodOptions

OPTIMIZERS = ("adarad", "adarad-m", "adam", "sgd")
REGULARIZERS = ("fan_in", "fan_out")
PHASES = ("grow", "drain", "settle", "anneal", "done")
#: what the protocol watches on the validation set: the classification error (the paper's
#: VCE, sec. 4 and 7.4.1) or the cross-entropy loss
CRITERIA = ("error", "loss")
#: alpha_r = 1 / (LIFETIME_EPOCHS * lambda), a new unit's lifetime in epochs on a data set
#: that declares none: Table 3's poker value (1 / (5 lambda)); module docstring: why
LIFETIME_EPOCHS = 5.0
#: Table 3's lifetime for mnist, rectangles and convex (alpha_r = 1 / (50 lambda))
TABLE3_MNIST_LIFETIME_EPOCHS = 50.0
#: default patience P in unit lifetimes (7.4.1: 100 epochs / 50; 7.4.2: 10 epochs / 5)
PATIENCE_LIFETIMES = 2.0
#: the angular step is divided by this at every annealing step (sec. 4.1, 7.4.1)
ANNEAL_DIVISOR = 3.0
#: anneal-phase patience as a share of P (7.4.1: 100 -> 5 epochs; 7.4.2: 10 -> 0.5)
ANNEAL_SHARE = 1.0 / 20.0
#: patience in epochs when the lifetime is infinite (lambda = 0) and no patience is given
FALLBACK_PATIENCE = 10.0


def auto_radial_lr(lam: float, lifetime_epochs: float = LIFETIME_EPOCHS) -> float:
    """alpha_r = 1 / (lifetime * lambda) (Table 3, sec. 4.1); 0 when lambda = 0."""
    return 1.0 / (lifetime_epochs * lam) if lam > 0 else 0.0


def radial_lr_of(knobs, lifetime_epochs: float = LIFETIME_EPOCHS) -> float:
    """The radial step in use: 1 / (lifetime_epochs lambda) when the knob ``radial_auto`` is
    on (it then follows the lambda slider live), else the ``radial_lr`` knob."""
    if getattr(knobs, "radial_auto", False):
        return auto_radial_lr(float(knobs.lam), lifetime_epochs)
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
    ``regularizer`` in {fan_in, fan_out}; ``capnorm`` (sec. 3.2); ``lifetime`` (epochs a new
    unit lives when alpha_r is automatic; 0 = the data set's declared Table 3 lifetime, else
    LIFETIME_EPOCHS); ``protocol`` (sec. 7.4, default on, see the module docstrings) with
    ``criterion`` ("error": the validation classification error, the paper's; or "loss"),
    ``patience`` (epochs, at least one unit lifetime; 0 = two lifetimes, the paper's ratio)
    and ``tolerance`` (the change of the criterion that counts as an improvement)."""

    optimizer: str = "adarad"
    p: int = 2
    regularizer: str = "fan_in"
    capnorm: bool = True
    protocol: bool = True
    criterion: str = "error"
    lifetime: float = 0.0
    patience: float = 0.0
    tolerance: float = 1e-4

    def problems(self) -> list[str]:
        out = super().problems()
        if self.optimizer not in OPTIMIZERS:
            out.append(f"unknown optimizer '{self.optimizer}'; accepted: {', '.join(OPTIMIZERS)}")
        if self.p not in (1, 2):
            out.append(f"p must be 1 or 2 (eq. 2-3), got {self.p}")
        if self.criterion not in CRITERIA:
            out.append(f"criterion must be 'error' or 'loss', got '{self.criterion}'")
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
        if not 0 <= float(self.lifetime) < math.inf:
            out.append(f"lifetime must be a number of epochs >= 0, got {self.lifetime}")
        if not float(self.patience) >= 0 or not float(self.tolerance) >= 0:
            out.append(
                f"patience and tolerance must be >= 0, got {self.patience} and {self.tolerance}"
            )
        return out
