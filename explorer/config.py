"""The configuration of one run: what is fixed when it starts (knobs are what may change).

Every field is checked when a config is made, with caps that keep a config from a file or a
command line from asking for more than the machine can give (a network of millions of units,
a batch of billions); ``check_options`` also checks the method's options by name and type.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

#: caps on what a config may ask for (stated in the error when exceeded)
MAX_UNITS = 8192  # starting units per hidden layer
MAX_LAYERS = 64  # hidden layers
MAX_STEPS = 10**12
MAX_BATCH = 1_000_000
MAX_EVERY = 10**12  # eval_every, units_every
MAX_SEED = 2**63 - 1
MAX_INT_OPTION = 10_000_000


@dataclass
class RunConfig:
    method: str = "nonparametric"
    dataset: str = "digits"
    hidden: list[int] = field(default_factory=lambda: [10, 10])
    seed: int = 0
    device: str = "auto"
    steps: int = 3000
    batch_size: int = 128
    eval_every: int = 50
    units_every: int = 10
    method_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    knobs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = check_fields(self)
        if problems:
            raise ValueError("; ".join(problems))
        self.hidden = [int(h) for h in self.hidden]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_fields(config: RunConfig) -> list[str]:
    """What is wrong with a config's fields (types, ranges, caps); empty when nothing."""
    problems = []
    hidden = config.hidden
    if (
        not isinstance(hidden, (list, tuple))
        or not hidden
        or not all(_is_int(h) for h in hidden)
        or any(h < 1 for h in hidden)
    ):
        shown = (
            hidden
            if isinstance(hidden, (list, tuple)) and len(hidden) <= 8
            else f"{type(hidden).__name__} of {len(hidden) if hasattr(hidden, '__len__') else 1}"
        )
        problems.append(f"hidden sizes must be a non-empty list of integers >= 1, got {shown}")
    elif len(hidden) > MAX_LAYERS:
        problems.append(f"{len(hidden)} hidden layers exceed the cap of {MAX_LAYERS}")
    elif max(hidden) > MAX_UNITS:
        problems.append(f"hidden size {max(hidden)} exceeds the cap of {MAX_UNITS} units per layer")
    caps = {
        "steps": MAX_STEPS,
        "batch_size": MAX_BATCH,
        "eval_every": MAX_EVERY,
        "units_every": MAX_EVERY,
    }
    for name, cap in caps.items():
        value = getattr(config, name)
        if not _is_int(value):
            problems.append(f"{name} must be an integer, got {type(value).__name__}")
        elif not 1 <= value <= cap:
            problems.append(f"{name} must be between 1 and {cap:,}, got {value}")
    if not _is_int(config.seed) or not 0 <= config.seed <= MAX_SEED:
        problems.append(
            f"seed must be an integer from 0 to 2**63-1, got "
            f"{config.seed if _is_int(config.seed) else type(config.seed).__name__}"
        )
    for name in ("method", "dataset", "device"):
        if not isinstance(getattr(config, name), str):
            problems.append(f"{name} must be a string, got {type(getattr(config, name)).__name__}")
    if (
        isinstance(config.device, str)
        and config.device not in ("auto", "cpu", "cuda")
        and not (config.device.startswith("cuda:") and config.device[5:].isdigit())
    ):
        problems.append(f"device must be auto, cpu or cuda[:N], got '{config.device[:40]}'")
    for name in ("method_options", "dataset_options", "knobs"):
        value = getattr(config, name)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            problems.append(f"{name} must map names to values")
    if isinstance(config.knobs, dict):
        for key, value in config.knobs.items():
            if not isinstance(value, bool) and (
                not isinstance(value, numbers.Real) or not math.isfinite(value)
            ):
                problems.append(f"knob {str(key)[:40]} must be a finite number")
                break
    return problems


def check_options(config: RunConfig) -> None:
    """The method's options: names and ranges by the method's own ``Options.parse``, and
    the type of each value against its field's default (a list where a number belongs, a
    NaN, an integer beyond ``MAX_INT_OPTION``), before anything is built."""
    from dataclasses import MISSING, fields

    from kernels.methods import get_method

    options_cls = get_method(config.method).Options
    defaults = {
        f.name: (f.default if f.default is not MISSING else None) for f in fields(options_cls)
    }
    for key, value in config.method_options.items():
        if key in defaults:
            problem = _option_problem(value, defaults[key])
            if problem:
                raise ValueError(f"option {key} of method {config.method}: {problem}")
    try:
        options_cls.parse(dict(config.method_options), config.method)
    except TypeError as exc:
        raise ValueError(f"{config.method}: bad option value ({exc})") from None


def _option_problem(value, default) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if _is_int(value) and abs(value) > MAX_INT_OPTION:
        return f"{value} exceeds the cap of {MAX_INT_OPTION:,}"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"expected true or false, got {value!r:.40}"
    if _is_int(default) or (default is None and _is_int(value)):
        return (
            None if _is_int(value) or value is None else f"expected an integer, got {value!r:.40}"
        )
    if isinstance(default, float):
        return (
            None
            if isinstance(value, numbers.Real) and not isinstance(value, bool)
            else f"expected a number, got {value!r:.40}"
        )
    if isinstance(default, str):
        return (
            None
            if isinstance(value, str) and len(value) < 200
            else f"expected a name, got {value!r:.40}"
        )
    if isinstance(default, (tuple, list)):
        ok = (
            isinstance(value, (list, tuple))
            and len(value) <= MAX_LAYERS
            and all(_is_int(v) and 1 <= v <= MAX_UNITS for v in value)
        )
        return (
            None if ok else f"expected a list of up to {MAX_LAYERS} integers from 1 to {MAX_UNITS}"
        )
    if default is None and value is None:
        return None
    if isinstance(value, (dict, list)):
        return "expected a single value"
    return None


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device '{name}' asked for but no CUDA device is available; accepted here: auto, cpu"
        )
    return torch.device(name)


def declared_options(method: str, dataset: str) -> dict[str, Any]:
    """The options of ``method`` that the data set ``dataset`` declares: its registry entry's
    properties that the method reads (``SizingMethod.data_options``, e.g. nonparametric's
    ``lifetime`` from ``paper_lifetime_epochs``). A data set that is not a registry entry (a
    file) declares nothing."""
    from explorer.data.registry import DATASETS
    from kernels.methods import METHODS

    cls, spec = METHODS.get(method), DATASETS.get(str(dataset))
    if cls is None or spec is None:
        return {}
    values = {option: getattr(spec, prop, None) for option, prop in cls.data_options.items()}
    return {option: value for option, value in values.items() if value is not None}


def method_options_for(config: RunConfig) -> dict[str, Any]:
    """The options a run's method is built with: what its data set declares
    (:func:`declared_options`), then the config's own ``method_options``, which win."""
    return {**declared_options(config.method, config.dataset), **config.method_options}
