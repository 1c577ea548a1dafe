"""Neuron killing of ShrinkNets (sec. 3.5.1): which switches to set to exactly 0.

Killing strategies (option ``kill``) and the live knob gamma in [0, 1]. gamma = 0 turns
killing off (only switches that reach exactly 0 are collected: the paper's "no neuron
removal" baseline of sec. 4.4); for gamma > 0 a higher gamma never kills later, because each
test's bar only gets lower as gamma rises. The sign tests look at the last ``window`` signs
(+1/-1) of each switch, recorded once per step; no kill happens before ``warmup`` steps
(default: ``window``):

* ``threshold``: kill when ``|theta| <= gamma * threshold`` (option ``threshold``,
  default 0.1). Scale dependent, as the paper warns (the weights can grow as theta shrinks).
* ``sign_change``: kill when the switch changed sign at least
  ``c(gamma) = max(1, ceil((1 - gamma) * (window - 1)))`` times within the window: gamma = 1
  kills on the first sign change, gamma -> 0 asks for a switch that flips every step.
* ``sign_variance``: with a full window of signs s_t, kill when
  ``var(s) = 1 - mean(s)^2 >= v(gamma) = (1 - gamma) + gamma * v_min``, where
  ``v_min = 4 (window - 1) / window^2`` is the variance of a window holding a single
  minority sign: gamma = 1 kills any switch whose window holds both signs, gamma -> 0 asks
  for an evenly split window (variance 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

KILL_STRATEGIES = ("threshold", "sign_change", "sign_variance")
CAUSES = {
    "threshold": "killed: switch below threshold",
    "sign_change": "killed: sign change",
    "sign_variance": "killed: sign variance",
}
ZERO_CAUSE = "switch reached zero"


def sign_change_bar(gamma: float, window: int) -> int:
    """Sign changes within the window that kill a unit (``sign_change`` strategy)."""
    return max(1, math.ceil((1.0 - gamma) * (window - 1) - 1e-9))


def sign_variance_bar(gamma: float, window: int) -> float:
    """Sign variance at or above which a unit is killed (``sign_variance`` strategy)."""
    v_min = 4.0 * (window - 1) / window**2
    return (1.0 - gamma) + gamma * v_min


def kill_decisions(
    strategy: str,
    gamma: float,
    switch: torch.Tensor,
    signs: torch.Tensor,
    counts: torch.Tensor,
    threshold: float,
) -> torch.Tensor:
    """Which units to kill (bool, one per unit) by one of the strategies of sec. 3.5.1.

    ``signs`` (n, window) holds the last signs of each switch, oldest first, 0 where the
    unit has no record yet; ``counts`` (n,) how many entries are filled.
    """
    if strategy not in KILL_STRATEGIES:
        raise ValueError(
            f"unknown kill strategy '{strategy}'; accepted: {', '.join(KILL_STRATEGIES)}"
        )
    n, window = signs.shape
    if gamma <= 0 or n == 0:
        return torch.zeros(n, dtype=torch.bool, device=switch.device)
    if strategy == "threshold":
        return switch.abs() <= gamma * threshold
    if strategy == "sign_change":
        return sign_changes(signs) >= sign_change_bar(gamma, window)
    full = counts >= window
    return full & (sign_variance(signs) >= sign_variance_bar(gamma, window) - 1e-6)


def sign_changes(signs: torch.Tensor) -> torch.Tensor:
    """Number of sign changes between consecutive recorded signs, per unit."""
    s = signs.to(torch.int16)
    return ((s[:, 1:] * s[:, :-1]) < 0).sum(dim=1)


def sign_variance(signs: torch.Tensor) -> torch.Tensor:
    """Variance of the recorded signs (-1/+1) per unit, 1 - mean^2 (empty entries ignored)."""
    s = signs.to(torch.float32)
    filled = (s != 0).sum(dim=1).clamp_min(1)
    mean = s.sum(dim=1) / filled
    return 1.0 - mean**2


class SignWindow:
    """The last ``window`` switch signs of each unit of one layer, keyed by unit id."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.ids = np.zeros(0, dtype=np.int64)
        self.signs = torch.zeros(0, window, dtype=torch.int8)
        self.counts = torch.zeros(0, dtype=torch.int64)

    def align(self, ids: np.ndarray) -> None:
        """Reorder rows to ``ids``: removed units' rows go, new units get empty rows."""
        if np.array_equal(ids, self.ids):
            return
        where = {int(u): i for i, u in enumerate(self.ids)}
        rows = [where.get(int(u), -1) for u in ids]
        signs = torch.zeros(len(ids), self.window, dtype=torch.int8)
        counts = torch.zeros(len(ids), dtype=torch.int64)
        for i, r in enumerate(rows):
            if r >= 0:
                signs[i], counts[i] = self.signs[r], self.counts[r]
        self.ids, self.signs, self.counts = np.asarray(ids, dtype=np.int64).copy(), signs, counts

    def push(self, switch: torch.Tensor, live: torch.Tensor) -> None:
        """Append the current signs (live units only; dead ones keep their last window)."""
        new = torch.sign(switch.detach()).to("cpu", torch.int8)
        live = live.cpu()
        shifted = torch.cat([self.signs[:, 1:], new[:, None]], dim=1)
        self.signs = torch.where(live[:, None], shifted, self.signs)
        self.counts = torch.where(live, (self.counts + 1).clamp_max(self.window), self.counts)

    def state_dict(self) -> dict:
        return {
            "ids": self.ids.tolist(),
            "signs": self.signs.tolist(),
            "counts": self.counts.tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.ids = np.asarray(state["ids"], dtype=np.int64)
        self.signs = torch.tensor(state["signs"], dtype=torch.int8).reshape(-1, self.window)
        self.counts = torch.tensor(state["counts"], dtype=torch.int64)
