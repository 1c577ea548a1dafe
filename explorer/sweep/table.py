"""The sweep's results on disk: an append-only CSV table, one row per finished point.

Each row is appended and flushed to disk (``fsync``) as its point finishes, so an interrupted
sweep keeps every finished point; a resumed sweep reads the table and skips the points whose
last row says ``ok``. A point run again (a failed one on resume) appends a new row; readers
take the last row of each key (:meth:`ResultTable.latest`).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from explorer.sweep.point import ROW_COLUMNS, ROW_TYPES

#: columns read back as numbers (an empty cell is NaN); whole numbers of INTEGER ones as int
NUMERIC = {k for k, t in ROW_TYPES.items() if t is not str}
INTEGER = {k for k, t in ROW_TYPES.items() if t is int}


class ResultTable:
    """``results.csv`` in the sweep folder."""

    def __init__(self, folder: str | Path, name: str = "results.csv") -> None:
        self.path = Path(folder) / name

    def append(self, row: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=ROW_COLUMNS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: _cell(row.get(k)) for k in ROW_COLUMNS})
            f.flush()
            os.fsync(f.fileno())

    def rows(self) -> list[dict]:
        """Every row, in the order written, numbers parsed."""
        if not self.path.exists():
            return []
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None:
                return []
            missing = set(ROW_COLUMNS) - set(reader.fieldnames)
            if missing:
                raise ValueError(
                    f"{self.path} is not a sweep table: columns {sorted(missing)} missing"
                )
            return [{k: _parse(k, v) for k, v in r.items()} for r in reader]

    def latest(self) -> list[dict]:
        """The last row of each point, in the order the points first finished."""
        out: dict[str, dict] = {}
        for row in self.rows():
            out[row["key"]] = row
        return list(out.values())

    def finished_keys(self) -> set[str]:
        return {r["key"] for r in self.latest() if r["status"] == "ok"}

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.latest(), columns=list(ROW_COLUMNS))


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _parse(key: str, value: str | None):
    if key not in NUMERIC:
        return value or ""
    if value in (None, ""):
        return math.nan
    number = float(value)
    return int(number) if key in INTEGER and number.is_integer() else number
