"""What a sweep runs: the spec (from flags or a TOML file) and the points it expands to.

A spec lists sizing methods with lists of knob values (lambda, gamma, growth rate, tau),
starting widths, method options ("presets"), seeds, and a static random search over hidden
widths, the baseline every paper compares one sizing run against:

- nonparametric paper (Philipp & Carbonell 2017), sec. 7.4.1 step 5: "the size of each hidden
  layer was chosen uniformly at random between the size of the corresponding layer in the
  largest NP representative, and 5 times that size"  -> ``low = 1.0, high = 5.0``;
- ShrinkNets (sec. 4): static nets from 0.1x to 2x the reference width
  -> ``low = 0.1, high = 2.0``.

Every search point trains for the same number of steps as the sizing points.

TOML file (``python -m explorer sweep --config sweep.toml``)::

    dataset = "digits"          # data set name or path
    steps = 300                 # per point, sizing and search alike
    seeds = [0]
    mode = "grid"               # grid: every combination; random: `samples` draws
    samples = 8                 # random mode only
    batch_size = 128
    eval_every = 50
    dataset_options = {}       # e.g. { limit = 2000 } for the IDX sets (mnist)

    [[method]]
    name = "nonparametric"
    hidden = [[10, 10]]         # starting widths (a list of width lists)
    lam = [1e-3, 3e-4]          # any knob: lam, gamma, lam2, growth_rate, growth_every,
    growth_rate = [1.0]         # tau, lr, angular_lr, radial_lr
    options = { capnorm = true }

    [search]                    # static random search over widths (method "static")
    samples = 30
    reference = "nonparametric" # largest final net of this method in the sweep, or [20, 20]
    low = 1.0                   # widths drawn uniformly from [low * ref, high * ref]
    high = 5.0

In random mode a knob given as two or more values is drawn log-uniformly between its
smallest and largest value (uniformly when the smallest is 0); seeds and widths are drawn
from their lists. Draws use ``sweep_seed`` so the same spec gives the same points, which is
what lets an interrupted sweep resume.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.config import RunConfig
from explorer.knobs import Knobs, knob_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: knobs a sweep may vary (every live knob; these four are the ones the issue names)
SWEPT_KNOBS = tuple(knob_names())
SEARCH_RANGES = {"nonparametric": (1.0, 5.0), "shrinknets": (0.1, 2.0)}
TOP_KEYS = {
    "dataset",
    "steps",
    "seeds",
    "mode",
    "samples",
    "batch_size",
    "eval_every",
    "dataset_options",
    "sweep_seed",
    "method",
    "search",
    "device",
}
METHOD_KEYS = {"name", "hidden", "options", *SWEPT_KNOBS}
SEARCH_KEYS = {"samples", "reference", "low", "high", "lr"}


class SweepSpecError(ValueError):
    """A sweep spec that cannot run; the message says which entry and why."""


@dataclass
class MethodGrid:
    """One sizing method and the values its knobs take in the sweep."""

    name: str
    hidden: list[list[int]] = field(default_factory=lambda: [[10, 10]])
    knobs: dict[str, list[float]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchSpec:
    """The static random search over hidden widths (sec. 7.4.1 of the nonparametric paper)."""

    samples: int = 30
    reference: str | list[int] = "nonparametric"
    low: float = 1.0
    high: float = 5.0
    lr: float | None = None


@dataclass
class SweepPoint:
    """One headless run: its configuration, what part of the sweep it is, and its key."""

    config: dict
    kind: str  # "sizing" (a sizing method's point) or "search" (a static search point)
    index: int  # its place in the sweep (the search's order for compute-to-accuracy)

    @property
    def key(self) -> str:
        return point_key(self.config)

    def to_dict(self) -> dict:
        return {"config": self.config, "kind": self.kind, "index": self.index, "key": self.key}


def point_key(config: dict) -> str:
    """A stable name for a configuration: the same config gives the same key in any run."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


@dataclass
class SweepSpec:
    dataset: str = "digits"
    steps: int = 300
    seeds: list[int] = field(default_factory=lambda: [0])
    mode: str = "grid"
    samples: int = 0
    batch_size: int = 128
    eval_every: int = 50
    device: str = "cpu"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    methods: list[MethodGrid] = field(default_factory=list)
    search: SearchSpec | None = None
    sweep_seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in ("grid", "random"):
            problems.append(f"mode must be 'grid' or 'random', got '{self.mode}'")
        if self.mode == "random" and self.samples < 1:
            problems.append("mode 'random' needs samples >= 1")
        if self.steps < 1:
            problems.append(f"steps must be >= 1, got {self.steps}")
        if not self.seeds:
            problems.append("seeds must list at least one seed")
        if not self.methods and self.search is None:
            problems.append("a sweep needs at least one [[method]] or a [search]")
        for m in self.methods:
            from kernels.methods import METHODS

            if m.name not in METHODS:
                near = _did_you_mean(m.name, METHODS)
                problems.append(f"unknown method '{m.name}'{near}; known: {sorted(METHODS)}")
            for knob, values in m.knobs.items():
                bounds = Knobs.param[knob].bounds
                for v in values:
                    if bounds and not (bounds[0] <= v <= bounds[1]):
                        problems.append(f"{m.name}: {knob}={v} is outside {bounds}")
            if not m.hidden or any(not h or min(h) < 1 for h in m.hidden):
                problems.append(f"{m.name}: hidden must list width lists of integers >= 1")
        if self.search is not None:
            s = self.search
            if s.samples < 1:
                problems.append(f"search samples must be >= 1, got {s.samples}")
            if not 0 < s.low <= s.high:
                problems.append(f"search range needs 0 < low <= high, got {s.low}, {s.high}")
            if isinstance(s.reference, str) and s.reference not in {m.name for m in self.methods}:
                problems.append(
                    f"search reference '{s.reference}' is not a method of this "
                    "sweep; name one of its methods or give widths, e.g. [20, 20]"
                )
        if problems:
            raise SweepSpecError("; ".join(problems))

    # -- points ---------------------------------------------------------------------------
    def _base(self, seed: int) -> dict:
        return {
            "dataset": self.dataset,
            "seed": int(seed),
            "device": self.device,
            "steps": int(self.steps),
            "batch_size": int(self.batch_size),
            "eval_every": int(self.eval_every),
            "dataset_options": dict(self.dataset_options),
        }

    def sizing_points(self) -> list[SweepPoint]:
        """Every sizing-method point: the full grid, or ``samples`` random draws."""
        configs = []
        rng = np.random.default_rng(self.sweep_seed)
        for m in self.methods:
            knob_names_ = sorted(m.knobs)
            if self.mode == "grid":
                combos = itertools.product(self.seeds, m.hidden, *[m.knobs[k] for k in knob_names_])
                for seed, hidden, *values in combos:
                    knobs: dict[str, Any] = dict(zip(knob_names_, values, strict=True))
                    configs.append(self._config(m, seed, hidden, knobs))
            else:
                for _ in range(self.samples):
                    seed = self.seeds[rng.integers(len(self.seeds))]
                    hidden = m.hidden[rng.integers(len(m.hidden))]
                    drawn = {k: _draw(rng, m.knobs[k]) for k in knob_names_}
                    configs.append(self._config(m, seed, hidden, drawn))
        return _unique([SweepPoint(c, "sizing", i) for i, c in enumerate(configs)])

    def _config(self, m: MethodGrid, seed, hidden, knobs: dict) -> dict:
        if "growth_every" in knobs:
            knobs["growth_every"] = int(knobs["growth_every"])
        config = {
            **self._base(seed),
            "method": m.name,
            "hidden": [int(h) for h in hidden],
            "method_options": dict(m.options),
            "knobs": knobs,
        }
        RunConfig.from_dict(config)  # a bad entry fails here, before anything runs
        return config

    def search_points(self, reference: list[int]) -> list[SweepPoint]:
        """The static random search: each layer's width drawn uniformly from
        [low * ref, high * ref] (nonparametric paper sec. 7.4.1, step 5), one seed per point
        from ``seeds`` in turn, the same steps as every sizing point."""
        if self.search is None:
            return []
        s = self.search
        rng = np.random.default_rng([self.sweep_seed, 7741])
        points = []
        for i in range(s.samples):
            widths = [
                int(rng.integers(max(1, math.floor(s.low * r)), max(1, math.ceil(s.high * r)) + 1))
                for r in reference
            ]
            config = {
                **self._base(self.seeds[i % len(self.seeds)]),
                "method": "static",
                "hidden": widths,
                "method_options": {},
                "knobs": {} if s.lr is None else {"lr": float(s.lr)},
            }
            points.append(SweepPoint(config, "search", i))
        return points

    def search_reference(self, rows) -> list[int] | None:
        """The widths the search is drawn around: given, or the largest final net (most
        parameters) among the finished rows of the reference method; None when none yet."""
        if self.search is None:
            return None
        ref = self.search.reference
        if not isinstance(ref, str):
            return [int(r) for r in ref]
        best = None
        for row in rows:
            mine = row.get("method") == ref and row.get("kind") == "sizing"
            if (
                mine
                and row.get("status") == "ok"
                and (best is None or row["params"] > best["params"])
            ):
                best = row
        if best is None:
            return None
        return [max(1, int(s)) for s in json.loads(best["sizes"])]

    def to_dict(self) -> dict:
        return asdict(self)


def _draw(rng, values: list[float]) -> float:
    lo, hi = min(values), max(values)
    if len(values) == 1 or lo == hi:
        return float(values[0])
    if lo > 0:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def _unique(points: list[SweepPoint]) -> list[SweepPoint]:
    seen: set = set()
    out: list[SweepPoint] = []
    for p in points:
        if p.key not in seen:
            seen.add(p.key)
            out.append(SweepPoint(p.config, p.kind, len(out)))
    return out


def _did_you_mean(name: str, known) -> str:
    import difflib

    near = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _check_keys(table: dict, allowed: set, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        hints = "".join(_did_you_mean(u, allowed) for u in unknown)
        raise SweepSpecError(
            f"{where}: unknown key(s) {unknown}{hints}; allowed: {sorted(allowed)}"
        )


def _float_list(value, where: str) -> list[float]:
    values = value if isinstance(value, list) else [value]
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise SweepSpecError(
            f"{where} must be a number or a list of numbers, got {value!r}"
        ) from None


def spec_from_dict(data: dict) -> SweepSpec:
    """A spec from the TOML file's tables (see the module docstring for the layout)."""
    _check_keys(data, TOP_KEYS, "sweep file")
    methods = []
    for i, m in enumerate(data.get("method", [])):
        where = f"[[method]] #{i + 1}"
        if "name" not in m:
            raise SweepSpecError(f'{where} needs a name, e.g. name = "nonparametric"')
        _check_keys(m, METHOD_KEYS, where)
        hidden = m.get("hidden", [[10, 10]])
        if hidden and not isinstance(hidden[0], list):
            hidden = [hidden]
        methods.append(
            MethodGrid(
                name=m["name"],
                hidden=[[int(h) for h in w] for w in hidden],
                knobs={k: _float_list(v, f"{where} {k}") for k, v in m.items() if k in SWEPT_KNOBS},
                options=dict(m.get("options", {})),
            )
        )
    search = None
    if "search" in data:
        s = data["search"]
        _check_keys(s, SEARCH_KEYS, "[search]")
        ref = s.get("reference", "nonparametric")
        low, high = SEARCH_RANGES.get(ref, (1.0, 5.0)) if isinstance(ref, str) else (1.0, 5.0)
        search = SearchSpec(
            samples=int(s.get("samples", 30)),
            reference=ref,
            low=float(s.get("low", low)),
            high=float(s.get("high", high)),
            lr=s.get("lr"),
        )
    seeds = data.get("seeds", [0])
    return SweepSpec(
        dataset=str(data.get("dataset", "digits")),
        steps=int(data.get("steps", 300)),
        seeds=[int(s) for s in (seeds if isinstance(seeds, list) else [seeds])],
        mode=str(data.get("mode", "grid")),
        samples=int(data.get("samples", 0)),
        batch_size=int(data.get("batch_size", 128)),
        eval_every=int(data.get("eval_every", 50)),
        device=str(data.get("device", "cpu")),
        dataset_options=dict(data.get("dataset_options", {})),
        methods=methods,
        search=search,
        sweep_seed=int(data.get("sweep_seed", 0)),
    )


def load_spec(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file '{path}' does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"{path} is not valid TOML: {exc}") from None
    return spec_from_dict(data)
