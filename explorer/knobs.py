"""Live knobs: the values a user may change while training runs.

One ``param.Parameterized`` object per session. The trainer reads every value at each step
boundary, so a slider acts on the very next step; the trainer also writes each change into
the history as a "knob" record. Each parameter's doc string is the UI's tooltip.
"""

from __future__ import annotations

import param


class LogNumber(param.Number):
    """A knob whose slider moves on a log10 scale across its (positive) soft bounds."""

    __slots__: list[str] = []


class Knobs(param.Parameterized):
    lam = LogNumber(
        1e-3,
        bounds=(0.0, 1.0),
        softbounds=(1e-6, 1e-1),
        doc="lambda: strength of the sizing penalty. Nonparametric nets: fan-in l2 penalty "
        "(Philipp & Carbonell eq. 2), larger lambda = faster shrinkage = smaller network. "
        "ShrinkNets: L1 weight on the switches (eq. 2).",
    )
    gamma = param.Number(
        0.5,
        bounds=(0.0, 1.0),
        step=0.01,
        doc="gamma: neuron-killing aggressiveness (ShrinkNets sec. 3.5.1). Higher gamma kills "
        "units earlier, saving cost at some loss; 0 turns killing off. Threshold: kill when "
        "|switch| <= gamma * threshold; sign change / sign variance: fewer flips / a lower "
        "sign variance in the window suffice as gamma rises.",
    )
    lam2 = param.Number(
        1e-4,
        bounds=(0.0, 1.0),
        softbounds=(0.0, 1e-2),
        step=1e-4,
        doc="lambda_2: Lp weight penalty beside the switch penalty (ShrinkNets eq. 2, 9). "
        "Must be > 0: with 0 the weights grow as the switches shrink and no unit dies "
        "(props. A.3, A.4).",
    )
    growth_rate = param.Number(
        1.0,
        bounds=(0.0, 64.0),
        softbounds=(0.0, 8.0),
        step=0.25,
        doc="Units added to each hidden layer per growth step (nu, Algorithm 1 line 23; "
        "a fractional value draws Poisson(nu)). TINY: neurons allowed per growth step.",
    )
    growth_every = param.Integer(
        0,
        bounds=(0, 100_000),
        softbounds=(0, 1000),
        step=1,
        doc="Training steps between growth steps (nu_freq). 0 = once per epoch, as in the "
        "nonparametric paper's Table 3.",
    )
    tau = LogNumber(
        1e-3,
        bounds=(0.0, 1.0),
        softbounds=(1e-6, 0.1),
        doc="TINY threshold: a proposed neuron is added when lambda_k^2 L(f_theta) exceeds tau "
        "(the paper's rule, sec. 3.2; the method's option tau_mode offers lambda_k^2 > tau or "
        "> tau lambda_1^2 instead).",
    )
    lr = LogNumber(
        1e-3,
        bounds=(1e-6, 1.0),
        softbounds=(1e-5, 1e-1),
        doc="Learning rate of Adam/SGD (static baseline, ShrinkNets, TINY and the "
        "nonparametric comparison runs).",
    )
    angular_lr = param.Number(
        3.0,
        bounds=(0.0, 1e5),
        softbounds=(0.0, 100.0),
        step=0.5,
        doc="alpha_phi: AdaRad's angular step size; the general speed of learning "
        "(Philipp & Carbonell sec. 3.3). The rotation angle scales with alpha_phi times "
        "the batch share |B|/|D|: the paper used 30 at 1000/50000; 3 suits 128/1200 "
        "(digits).",
    )
    radial_lr = param.Number(
        20.0,
        bounds=(0.0, 1e7),
        softbounds=(0.0, 1000.0),
        step=5.0,
        doc="alpha_r: AdaRad's radial step size, used when radial_auto is off. Shrinkage per "
        "epoch is alpha_r * lambda, so a new unit lives 1/(alpha_r lambda) epochs unless "
        "the loss keeps it (Philipp & Carbonell sec. 4.1).",
    )
    radial_auto = param.Boolean(
        True,
        doc="alpha_r follows lambda: alpha_r = 1/(T lambda), so a new unit's lifetime stays T "
        "epochs when the lambda slider moves. T is set per data set as in Philipp & Carbonell "
        "Table 3: 50 epochs on mnist, rectangles, convex and MNIST-1D, 5 (its poker value) on "
        "sets the paper does not cover.",
    )

    def radial_lr_in_use(self, lifetime: float | None = None) -> float:
        """alpha_r as AdaRad uses it: 1/(lifetime lambda) when ``radial_auto`` (Table 3's rule;
        ``lifetime`` the run's, in epochs; None: the method's default), else the knob."""
        from kernels.methods.nonparametric import LIFETIME_EPOCHS, radial_lr_of

        return radial_lr_of(self, LIFETIME_EPOCHS if lifetime is None else lifetime)

    def unit_lifetime_epochs(self, lifetime: float | None = None) -> float:
        """A new unit's lifetime under AdaRad's shrinkage, 1/(alpha_r lambda) epochs (inf when
        lambda = 0); multiply by the run's steps per epoch for steps."""
        from kernels.methods.nonparametric import unit_lifetime_epochs

        return unit_lifetime_epochs(self.radial_lr_in_use(lifetime), self.lam)

    def __init__(self, **params) -> None:
        super().__init__(**params)
        # values() runs once per training step; param's own accessor costs ~0.3 ms, so the
        # dict is cached and rebuilt after a change (a version bump, safe across threads: a
        # change during a rebuild leaves the cache stale-marked and the next call rebuilds).
        self._version = 0
        self._cached: tuple[int, dict[str, float]] | None = None
        self.param.watch(self._changed, knob_names())

    def _changed(self, *events) -> None:
        self._version += 1

    def values(self) -> dict[str, float]:
        """The knob values as plain numbers (the trainer's per-step snapshot)."""
        cached = self._cached
        if cached is None or cached[0] != self._version:
            version = self._version
            cached = (
                version,
                {name: value for name, value in self.param.values().items() if name != "name"},
            )
            self._cached = cached
        return dict(cached[1])


def knob_names() -> list[str]:
    """The numeric knobs (sliders); switches such as ``radial_auto`` are in ``switch_names``."""
    return [
        name
        for name in Knobs.param
        if name != "name" and not isinstance(Knobs.param[name], param.Boolean)
    ]


def switch_names() -> list[str]:
    """The on/off knobs (check boxes)."""
    return [name for name in Knobs.param if isinstance(Knobs.param[name], param.Boolean)]


def method_knob_defaults(method: str) -> dict[str, float]:
    """The knob defaults a method brings (``SizingMethod.default_knobs``); {} for a name that
    is not a registered method (the run then fails with the registry's own message)."""
    from kernels.methods import METHODS

    cls = METHODS.get(method)
    return dict(cls.default_knobs) if cls is not None else {}


def knobs_for(method: str, values: dict | None = None) -> Knobs:
    """The knobs a run of ``method`` starts with: the global defaults, then the method's own
    (``SizingMethod.default_knobs``), then ``values`` (a config's or a preset's knobs)."""
    return Knobs(**{**method_knob_defaults(method), **(values or {})})
