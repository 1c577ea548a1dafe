"""Fan-in and fan-out length histories of the selected units (solid: fan-in, dashed:
fan-out), derived from the History's unit tables; filled by selecting units elsewhere."""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import View, figure_defaults, replace_data, step_range
from explorer.views.palette import layer_color
from explorer.views.selection import UnitSelection
from kernels.records import UNITS

#: at most this many selected units get lines (a lasso over thousands would be unreadable)
MAX_UNITS = 24
COLUMNS = ("xs", "ys", "unit_id", "layer", "which", "color", "dash")


class FanHistoryView(View):
    #: record kinds this view draws
    kinds = (UNITS,)

    def __init__(
        self, history, selection: UnitSelection | None = None, x_range=None, **params
    ) -> None:
        super().__init__(**params)
        self.history = history
        self.selection = selection if selection is not None else UnitSelection()
        self.source = ColumnDataSource({k: [] for k in COLUMNS}, name="fan_history")
        x_range = x_range if x_range is not None else step_range()
        self.fig = figure(
            title="fan-in (solid) / fan-out (dashed) length of selected units",
            x_range=x_range,
            name="fan_history_figure",
            **figure_defaults(height=320),
        )
        self.fig.multi_line(
            "xs", "ys", source=self.source, color="color", line_dash={"field": "dash"}, line_width=2
        )
        self.fig.add_tools(
            HoverTool(tooltips=[("unit", "@unit_id"), ("layer", "@layer"), ("", "@which")])
        )
        self.fig.xaxis.axis_label = "step"
        self.fig.yaxis.axis_label = "length"
        self._series: dict[int, dict[str, Any]] = {}  # step, fan_in, fan_out lists; layer
        self._tables_seen = 0
        self.selection.param.watch(lambda e: self.rebuild(), "unit_ids")

    def sources(self):
        return [self.source]

    def reset(self):
        super().reset()
        self._series, self._tables_seen = {}, 0

    def selected(self) -> list[int]:
        return list(self.selection.unit_ids)[:MAX_UNITS]

    def rebuild(self) -> None:
        """Recompute the selected units' series from every table in the History."""
        self._series = {
            uid: {"step": [], "fan_in": [], "fan_out": [], "layer": -1} for uid in self.selected()
        }
        self._tables_seen = 0
        self._absorb(self.history.tables)
        self._show()

    def _absorb(self, tables) -> None:
        if not self._series:
            return
        wanted = np.fromiter(self._series, dtype=np.int64)
        for t in tables:
            ids = np.asarray(t["unit_id"])
            for i in np.flatnonzero(np.isin(ids, wanted)):
                s = self._series[int(ids[i])]
                s["step"].append(int(t["step"]))
                s["fan_in"].append(float(t["fan_in"][i]))
                s["fan_out"].append(float(t["fan_out"][i]))
                s["layer"] = int(t["layer"][i])

    def _show(self) -> None:
        data: dict[str, list] = {k: [] for k in COLUMNS}
        for uid, s in self._series.items():
            for which, dash in (("fan_in", "solid"), ("fan_out", "dashed")):
                data["xs"].append(list(s["step"]))
                data["ys"].append(list(s[which]))
                data["unit_id"].append(uid)
                data["layer"].append(s["layer"])
                data["which"].append(which.replace("_", "-"))
                data["color"].append(layer_color(max(s["layer"], 0)))
                data["dash"].append(dash)
        replace_data(self.source, data)

    def update(self, records_by_kind):
        tables = records_by_kind.get(UNITS, ())
        if tables and self._series:
            self._absorb(tables)
            self._show()

    def __panel__(self):
        return self._pane(self.fig)
