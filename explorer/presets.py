"""Paper presets: named recipes that put each paper's setting onto this project's data.

A preset fills in a run's method, data set, starting sizes, steps, method options and knobs
(``python -m explorer run --preset NAME``; ``python -m explorer list`` lists them); explicit
command-line arguments win. Each preset's docstring says what it should end with, measured
here on CPU (seed 0), and ``tests/test_presets.py`` (slow) checks it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from explorer.config import RunConfig
from kernels.methods.nonparametric_options import TABLE3_MNIST_LIFETIME_EPOCHS, auto_radial_lr

#: the RunConfig fields a preset sets (an explicit command-line value wins over each)
PRESET_FIELDS = ("method", "dataset", "hidden", "steps", "batch_size", "eval_every")


def config_defaults() -> dict[str, Any]:
    """RunConfig's own value of each field a preset sets."""
    default = RunConfig()
    return {name: getattr(default, name) for name in PRESET_FIELDS}


@dataclass(frozen=True)
class Preset:
    """One named recipe. ``expected`` is the result it should reach (checked by a slow
    test): ``{"test_acc": (lo, hi), "units": (lo, hi), ...}`` over the run's summary."""

    name: str
    description: str
    method: str
    dataset: str
    hidden: tuple[int, ...]
    steps: int
    batch_size: int = RunConfig.batch_size
    eval_every: int = RunConfig.eval_every
    method_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    knobs: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, tuple[float, float]] = field(default_factory=dict)
    doc: str = ""

    def fields(self) -> dict[str, Any]:
        """The RunConfig fields this preset sets (``PRESET_FIELDS``)."""
        return {name: getattr(self, name) for name in PRESET_FIELDS} | {"hidden": list(self.hidden)}

    def config(self, **overrides) -> RunConfig:
        """The run's configuration (``overrides``: any RunConfig field)."""
        values = {
            **self.fields(),
            "method_options": dict(self.method_options),
            "dataset_options": dict(self.dataset_options),
            "knobs": dict(self.knobs),
        }
        values.update(overrides)
        return RunConfig(**values)


PRESETS: dict[str, Preset] = {}


def register(preset: Preset) -> Preset:
    PRESETS[preset.name] = preset
    return preset


class UnknownPresetError(ValueError):
    """An unknown preset name; the message lists what is accepted."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a near miss gets a suggestion."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UnknownPresetError(
            f"unknown preset '{name}'{hint} Accepted: {', '.join(sorted(PRESETS))}"
        ) from None


register(
    Preset(
        name="nonparametric-mnist1d",
        description="Nonparametric net on MNIST-1D with Table 3's settings and the sec. 7.4 "
        "protocol (grow, drain, settle, anneal)",
        method="nonparametric",
        dataset="mnist1d",
        hidden=(10, 10),
        steps=8000,
        eval_every=100,
        method_options={"protocol": True, "patience": 50.0},
        knobs={
            "lam": 3e-3,
            "growth_rate": 1.0,
            "growth_every": 0,
            # Table 3 for mnist: alpha_r = 1 / (50 lambda), a 50-epoch unit lifetime (also
            # what mnist1d declares for the defaults; set here so the preset does not
            # depend on the registry)
            "radial_auto": False,
            "radial_lr": auto_radial_lr(3e-3, TABLE3_MNIST_LIFETIME_EPOCHS),
            "angular_lr": 3.0,
        },
        expected={"test_acc": (0.64, 0.75), "died": (100, 500), "drain_shrink": (20, 400)},
        doc="Philipp & Carbonell 2017, sec. 4.1 and Table 3: 10 units per layer to start, one "
        "unit per layer added every epoch, alpha_r = 1/(50 lambda) (a unit lives 50 epochs), "
        "lambda = 3e-3 (their MNIST value), AdaRad; then the protocol of sec. 7.4.1 on the "
        "validation error with P = one unit lifetime (50 epochs; the defaults' two lifetimes, "
        "the paper's 100, would not fit the budget). The angular "
        "step is scaled to our batch share (3 at 128/3400, as the knob's doc explains). "
        "Measured (seed 0, CPU, 8000 steps = 307 epochs): "
        "the drain began at step 4600 with [133, 128] units and the run ended with "
        "[109, 57] (395 born, 249 died), test accuracy 0.685 (the static 100-100 preset: "
        "0.652); the budget ends in the drain phase, before lambda = 0 and annealing. The "
        "same figures with the protocol on the validation loss (the earlier criterion).",
    )
)

register(
    Preset(
        name="static-mnist1d-mlp",
        description="Static 100-100 MLP on MNIST-1D with the MNIST-1D paper's settings (Adam "
        "1e-2, batch 100, 6000 steps): the bar the nonparametric preset must reach",
        method="static",
        dataset="mnist1d",
        hidden=(100, 100),
        steps=6000,
        batch_size=100,
        eval_every=200,
        knobs={"lr": 1e-2},
        expected={"test_acc": (0.62, 0.69)},
        doc="Greydanus 2020 (MNIST-1D), the MLP baseline: two hidden layers of 100, Adam with "
        "learning rate 1e-2, batch 100, 6000 steps. Measured (seed 0, CPU): test accuracy "
        "0.652 (the issue quotes about 0.66 here).",
    )
)

#: TINY's race settings (paper 003 sec. 4, appendix C, fig. 10): every neuron of the solution
#: past the threshold lambda_k^2 L > tau (K* = R, prop. 3.2), 15 growth steps a short
#: training interval apart (the paper: 0.05 s), batch 100. tau is not given by the paper: 1e-8
#: lets the 15 steps grow as its [1, 1] -> [929, 141] does (the rule still cuts the tail of the
#: spectrum). update_ridge 1e-2: with the pseudo-inverse dW* (ridge 0) the gamma_0 dW* moves on
#: the output layer made the loss explode on digits (see kernels.tiny.bottleneck.best_update).
#: line_search_factor 2 and line_search_vertex false: the amplitude grid and the two zoom rounds
#: the race was measured with (the method's default grid factor is 4, issue 17). holdout_scoring
#: false: the threshold's L(f_theta) and the amplitude line searches on the estimation minibatch
#: itself, as sec. 3.3 writes them (eq. (6)-(7) average over the minibatch fixed in sec. 3, the one
#: S, N and dW* come from; appendix C: n_mb is the batch "for estimating theta(gamma) and dW*");
#: the method's default scores a second, disjoint batch (a departure, kept for the teacher sizing
#: of issue 15). update_without_neurons true: the gamma_0 dW* move on every layer, the path the
#: race was measured with (the method's default false moves only layers that add neurons; in the
#: race at most 2 of a run's 30 layer plans add none, and its one shared capture per step
#: rounds a few entries differently, which alone changed seed 0's sizes from [139, 102] to
#: [139, 108] in 300 steps).
TINY_RACE_OPTIONS = {
    "tau_mode": "paper",
    "neuron_cap": "rank",
    "max_growth_steps": 15,
    "update_ridge": 1e-2,
    "line_search_factor": 2,
    "line_search_vertex": False,
    "holdout_scoring": False,
    "update_without_neurons": True,
}

register(
    Preset(
        name="tiny-race-digits",
        description="TINY's race from [1, 1] on digits with the paper's threshold lambda_k^2 L > "
        "tau, every neuron past it, 15 growth steps (sec. 3.2-3.4, appendix C)",
        method="tiny",
        dataset="digits",
        hidden=(1, 1),
        steps=1500,
        batch_size=100,
        eval_every=100,
        method_options=dict(TINY_RACE_OPTIONS),
        knobs={"tau": 1e-8, "growth_rate": 8.0, "growth_every": 10, "lr": 1e-3},
        expected={"test_acc": (0.95, 1.0), "first_layer": (60, 250), "rejected": (0, 30)},
        doc="TINY sec. 4 / appendix C: start from [1, 1], grow both layers 15 times, 10 training "
        "steps apart, adding every neuron that passes lambda_k^2 L > tau (K* = R), Adam, "
        "minibatch 100; the threshold's L and the amplitude line searches on the estimation "
        "minibatch (sec. 3.3, eq. (6)-(7)); the neurons whose best amplitude does not lower "
        "that loss are rejected. Measured (seed 0, CPU): sizes [139, 102], test accuracy 0.969 "
        "after 1500 steps, 239 neurons added and 9 rejected by the line search in 15 growth "
        "steps (with the holdout batch of the method's default: [126, 101], 0.942, 44 "
        "rejected). In the race (explorer.bench.tiny_race, 30 CPU-seconds) seeds 0, 1, 2 "
        "reach 0.969, 0.981, 0.978, 0.2 pp below the static [1000, 1000] net (mean).",
    )
)

register(
    Preset(
        name="tiny-race-mnist",
        description="TINY's race from [1, 1] on the MNIST subset (paper 003 fig. 10's setting: "
        "15 growth steps, every neuron past lambda_k^2 L > tau)",
        method="tiny",
        dataset="mnist",
        hidden=(1, 1),
        steps=1500,
        batch_size=100,
        eval_every=100,
        method_options=dict(TINY_RACE_OPTIONS),
        knobs={"tau": 1e-8, "growth_rate": 8.0, "growth_every": 40, "lr": 1e-3},
        expected={"test_acc": (0.93, 1.0), "first_layer": (450, 800), "rejected": (0, 50)},
        doc="TINY fig. 10 (MNIST, [1, 1] -> [929, 141] in 15 growth steps): the same settings "
        "as tiny-race-digits with 40 training steps between growth steps; L and the amplitudes "
        "on the estimation minibatch (sec. 3.3). Measured (seed 0, CPU): sizes [604, 125], "
        "test accuracy 0.9445 after 1500 steps, 727 neurons added and none rejected by the "
        "line search (with the holdout batch of the method's default: [148, 116], 531 "
        "rejected); in the race (30 CPU-seconds) seeds 0, 1, 2 reach 0.945, 0.945, 0.9455, "
        "2.3 pp below the static [1000, 1000] net (mean): not within 1 pp (README, TINY race).",
    )
)

register(
    Preset(
        name="shrinknets-digits",
        description="ShrinkNets from [100, 100] on digits: one point of the lambda sweep "
        "(lambda 1e-3, lambda_2 1e-4, sign-variance killing)",
        method="shrinknets",
        dataset="digits",
        hidden=(100, 100),
        steps=3000,
        knobs={"lam": 1e-3, "lam2": 1e-4, "gamma": 0.5, "lr": 1e-3},
        expected={"test_acc": (0.93, 1.0), "units": (40, 140), "died": (60, 160)},
        doc="ShrinkNets sec. 3.2-3.5 and 4: switches with L1 (lambda) and an l2 weight penalty "
        "(lambda_2 > 0, props. A.3-A.4), sign-variance killing at gamma 0.5, garbage "
        "collection. Measured (seed 0, CPU): sizes [52, 36] from [100, 100] (112 units "
        "removed), test accuracy 0.964.",
    )
)
