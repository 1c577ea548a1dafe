"""The history store: every record of a run, by kind, bounded in memory.

Step scalars are kept column-wise; when a kind grows past ``max_rows`` its older half is
thinned by two, so recent steps stay at full resolution and memory stays flat over hours
(DESIGN.md, "History is bounded"). Unit tables are kept the same way, by table, and so are
TINY's spectra (one per layer at every growth step: ~1 per 35 steps of a page run, so not rare),
past ``max_tables``. Events, knob changes and phases are rare and kept whole.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np

from kernels.records import EVAL, SPECTRUM, STEP, SWITCH, TRADEOFF, UNITS

#: record kinds that are thinned when they grow long
THINNED = {STEP, EVAL, TRADEOFF}
#: record kinds that hold per-unit arrays (e.g. ShrinkNets "switch" records): kept like unit
#: tables (thinned past ``max_tables``) and read in long format, one row per unit and step
PER_UNIT = {SWITCH}
#: kinds bounded by ``max_tables`` rows (each row holds an array)
TABLE_LIKE = PER_UNIT | {SPECTRUM}
#: scalar columns of a step record that hold lists (one value per hidden layer)
LIST_COLUMNS = {"sizes"}


class History:
    def __init__(self, max_rows: int = 20_000, max_tables: int = 400) -> None:
        self.max_rows, self.max_tables = max_rows, max_tables
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.tables: list[dict] = []  # "units" records: per-unit arrays at one step
        self._lock = threading.Lock()

    def add(self, record: dict) -> None:
        kind = record.get("kind")
        if kind is None:
            raise ValueError(f"a record needs a 'kind' key, got keys {sorted(record)}")
        with self._lock:
            if kind == UNITS:
                self.tables.append(record)
                if len(self.tables) > self.max_tables:
                    self.tables = _thin(self.tables)
                return
            rows = self.rows[kind]
            rows.append(record)
            limit = self.max_tables if kind in TABLE_LIKE else self.max_rows
            if (kind in THINNED or kind in TABLE_LIKE) and len(rows) > limit:
                self.rows[kind] = _thin(rows)

    def extend(self, records) -> None:
        for r in records:
            self.add(r)

    def add_grouped(self, by_kind: dict[str, list[dict]]) -> None:
        """Add records already grouped by kind (oldest first within a kind), under one lock:
        the page's refresh adds a few hundred records at a time (issue 17). The History ends
        as after :meth:`add` of each record in turn: a kind that would pass its limit is added
        record by record, so it is thinned at the same points."""
        if "" in by_kind or None in by_kind:
            raise ValueError("a record needs a 'kind' key")
        with self._lock:
            for kind, records in by_kind.items():
                if kind == UNITS:
                    if len(self.tables) + len(records) <= self.max_tables:
                        self.tables.extend(records)
                        continue
                    for r in records:
                        self.tables.append(r)
                        if len(self.tables) > self.max_tables:
                            self.tables = _thin(self.tables)
                    continue
                limit = self.max_tables if kind in TABLE_LIKE else self.max_rows
                rows = self.rows[kind]
                if kind not in THINNED and kind not in TABLE_LIKE:
                    rows.extend(records)
                    continue
                if len(rows) + len(records) <= limit:
                    rows.extend(records)
                    continue
                for r in records:
                    rows.append(r)
                    if len(rows) > limit:
                        rows = self.rows[kind] = _thin(rows)

    # -- reading ---------------------------------------------------------------------------
    def kinds(self) -> list[str]:
        return sorted(k for k, v in self.rows.items() if v) + (["units"] if self.tables else [])

    def columns(self, kind: str) -> dict[str, np.ndarray]:
        """One kind as a dict of equal-length arrays (list columns split per layer)."""
        if kind == UNITS:
            return self._unit_columns()
        with self._lock:
            rows = list(self.rows.get(kind, ()))
        if not rows:
            return {}
        if kind in PER_UNIT:
            return _long_columns(rows)
        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys and k != "kind"]
        out: dict[str, np.ndarray] = {}
        for key in keys:
            values = [r.get(key) for r in rows]
            if key in LIST_COLUMNS:
                width = max(len(v) for v in values if v is not None)
                for i in range(width):
                    out[f"{key}_{i}"] = np.array(
                        [v[i] if v is not None and i < len(v) else np.nan for v in values],
                        dtype=float,
                    )
                continue
            out[key] = _column(values)
        return out

    def _unit_columns(self) -> dict[str, np.ndarray]:
        with self._lock:
            tables = list(self.tables)
        if not tables:
            return {}
        out = {
            k: np.concatenate([t[k] for t in tables])
            for k in tables[0]
            if k not in ("kind", "step")
        }
        out["step"] = np.concatenate([np.full(len(t["unit_id"]), t["step"]) for t in tables])
        return out

    def latest_units(self) -> dict | None:
        with self._lock:
            return self.tables[-1] if self.tables else None

    def frame(self, kind: str):
        """A pandas DataFrame of one record kind (pandas is imported lazily)."""
        import pandas as pd

        return pd.DataFrame(self.columns(kind))

    def last(self, kind: str) -> dict | None:
        with self._lock:
            rows = self.rows.get(kind)
            return rows[-1] if rows else None

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values()) + len(self.tables)


def _long_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per-unit records in long format: array fields concatenated, scalars repeated per unit."""
    out: dict[str, list[np.ndarray]] = {}
    for r in rows:
        n = max((len(v) for v in r.values() if isinstance(v, np.ndarray)), default=0)
        for key, value in r.items():
            if key == "kind":
                continue
            out.setdefault(key, []).append(
                np.asarray(value) if isinstance(value, np.ndarray) else np.full(n, value)
            )
    return {k: np.concatenate(v) for k, v in out.items()}


def _thin(rows: list) -> list:
    """Keep every second item of the older half and the newer half whole."""
    half = len(rows) // 2
    return rows[:half:2] + rows[half:]


def _column(values: list) -> np.ndarray:
    if (
        all(isinstance(v, (bool, int, np.integer)) for v in values if v is not None)
        and None not in values
    ):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.number)) or v is None for v in values):
        return np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return np.asarray(["" if v is None else str(v) for v in values])


def history_arrays(history: History) -> dict[str, np.ndarray]:
    """Flatten every record kind into ``"kind.column"`` arrays (a snapshot's ``history.npz``).

    Arrays are plain numeric/unicode arrays, so they load with ``allow_pickle=False``."""
    return {
        f"{kind}.{col}": arr
        for kind in history.kinds()
        for col, arr in history.columns(kind).items()
    }
