"""The configuration of one run: what is fixed when it starts (knobs are what may change)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch


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
        problems = []
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            problems.append(f"hidden sizes must be a non-empty list of integers >= 1, got "
                            f"{self.hidden}")
        for name in ("steps", "batch_size", "eval_every", "units_every"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            problems.append(f"device must be auto, cpu or cuda[:N], got '{self.device}'")
        if problems:
            raise ValueError("; ".join(problems))
        self.hidden = [int(h) for h in self.hidden]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when present, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device '{name}' asked for but no CUDA device is available; "
                         "accepted here: auto, cpu")
    return torch.device(name)
