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
    batch_size: int = 128
    eval_every: int = 50
    method_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    knobs: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, tuple[float, float]] = field(default_factory=dict)
    doc: str = ""

    def fields(self) -> dict[str, Any]:
        """The RunConfig fields this preset sets."""
        return {"method": self.method, "dataset": self.dataset, "hidden": list(self.hidden),
                "steps": self.steps, "batch_size": self.batch_size,
                "eval_every": self.eval_every}

    def config(self, **overrides) -> RunConfig:
        """The run's configuration (``overrides``: any RunConfig field)."""
        values = {**self.fields(), "method_options": dict(self.method_options),
                  "dataset_options": dict(self.dataset_options), "knobs": dict(self.knobs)}
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
        raise UnknownPresetError(f"unknown preset '{name}'{hint} Accepted: "
                                 f"{', '.join(sorted(PRESETS))}") from None
