"""The shared unit selection: the key that links every per-unit plot is the unit id.

A box/lasso/tap selection in one plot sets ``UnitSelection.unit_ids``; every attached
ColumnDataSource then gets the indices of its rows with those ids (Python-side callback on
``source.selected.on_change('indices', ...)``; runs on the session's thread).
"""

from __future__ import annotations

import numpy as np
import param
from bokeh.models import ColumnDataSource


class UnitSelection(param.Parameterized):
    unit_ids = param.List(
        default=[], item_type=int, doc="ids of the selected units (highlighted in every plot)"
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._sources: list[tuple[ColumnDataSource, str]] = []
        self._syncing = False
        self.param.watch(self._push, "unit_ids")

    def attach(self, source: ColumnDataSource, column: str = "unit_id") -> None:
        """Link a source: its selections set the shared ids, the shared ids select its rows."""
        self._sources.append((source, column))

        def on_indices(attr, old, new, source=source, column=column):
            if self._syncing:
                return
            ids = np.asarray(source.data.get(column, []))
            idx = [i for i in new if 0 <= i < len(ids)]
            chosen = sorted({int(u) for u in ids[idx]}) if idx else []
            if chosen != self.unit_ids:
                self.unit_ids = chosen
            else:
                self.apply(source, column)

        source.selected.on_change("indices", on_indices)

    def indices_for(self, source: ColumnDataSource, column: str = "unit_id") -> list[int]:
        ids = np.asarray(source.data.get(column, []))
        if not self.unit_ids or len(ids) == 0:
            return []
        return np.flatnonzero(np.isin(ids, self.unit_ids)).tolist()

    def apply(self, source: ColumnDataSource, column: str = "unit_id") -> None:
        """Select the rows of ``source`` whose id is selected (after its data changed)."""
        indices = self.indices_for(source, column)
        if list(source.selected.indices) != indices:
            self._syncing = True
            try:
                source.selected.indices = indices
            finally:
                self._syncing = False

    def _push(self, event=None) -> None:
        for source, column in self._sources:
            self.apply(source, column)

    def clear(self) -> None:
        self.unit_ids = []
