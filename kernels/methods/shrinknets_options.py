"""Options of ShrinkNets (paper 001, "Learning Network Size while Training with ShrinkNets"):
killing strategy (sec. 3.5.1), garbage collection (sec. 3.5.2), sign window, weight-penalty
exponent (eq. 9) and network family (sec. 3.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernels.methods.base import MethodOptions
from kernels.methods.neuron_killing import KILL_STRATEGIES

NETWORKS = ("mlp", "cnn", "auto")


@dataclass
class ShrinkNetsOptions(MethodOptions):
    """``kill`` in {threshold, sign_change, sign_variance} (default sign_variance);
    ``collect`` (default true: remove dead units at once; false: keep them masked);
    ``window`` (signs kept per unit, default 20); ``threshold`` (scale of the threshold
    strategy, default 0.1); ``warmup`` (steps before any kill, default ``window``); ``p``
    (exponent of the weight penalty, 1 or 2, default 2); ``min_units`` (default 1);
    ``record_every`` (steps between "switch" records, default 10); ``network`` in
    {mlp, cnn, auto} (auto = cnn when the data set has an image shape) with ``channels``
    (conv block widths, default [16, 32]); the hidden sizes of the run are the fully
    connected layers."""

    kill: str = "sign_variance"
    collect: bool = True
    window: int = 20
    threshold: float = 0.1
    warmup: int | None = None
    p: int = 2
    min_units: int = 1
    record_every: int = 10
    network: str = "mlp"
    channels: Any = (16, 32)

    def problems(self) -> list[str]:
        out = super().problems()
        if self.kill not in KILL_STRATEGIES:
            out.append(
                f"unknown kill strategy '{self.kill}'; accepted: {', '.join(KILL_STRATEGIES)}"
            )
        if self.network not in NETWORKS:
            out.append(f"unknown network '{self.network}'; accepted: {', '.join(NETWORKS)}")
        if int(self.window) < 2:
            out.append(f"window must be >= 2 steps, got {self.window}")
        if self.p not in (1, 2):
            out.append(f"p must be 1 or 2 (eq. 9), got {self.p}")
        if float(self.threshold) < 0:
            out.append(f"threshold must be >= 0, got {self.threshold}")
        if int(self.min_units) < 1 or int(self.record_every) < 1:
            out.append(
                f"min_units and record_every must be >= 1, got {self.min_units} and "
                f"{self.record_every}"
            )
        channels = [self.channels] if isinstance(self.channels, int) else self.channels
        if not channels or any(int(c) < 1 for c in channels):
            out.append(f"channels must be a non-empty list of integers >= 1, got {self.channels}")
        return out
