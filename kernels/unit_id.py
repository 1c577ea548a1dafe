"""Stable unit identities.

Every hidden unit gets an integer id at birth that it keeps until it dies. The id is the key
that links a unit's point in the fan-in/fan-out scatter, its lifetime bar, its length history
and its birth/death events (DESIGN.md, "Unit identity").
"""

from __future__ import annotations

import numpy as np


class UnitIds:
    """Hands out fresh, never reused unit ids."""

    def __init__(self, start: int = 0) -> None:
        self.next_id = int(start)

    def new(self, count: int) -> np.ndarray:
        if count < 0:
            raise ValueError(f"cannot allocate {count} unit ids; count must be >= 0")
        ids = np.arange(self.next_id, self.next_id + count, dtype=np.int64)
        self.next_id += count
        return ids

    def state_dict(self) -> dict:
        return {"next_id": self.next_id}

    def load_state_dict(self, state: dict) -> None:
        self.next_id = int(state["next_id"])
