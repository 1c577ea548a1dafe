"""Unit lifetimes (Philipp & Carbonell 2017, fig. 3D): one bar per unit from its birth step
to its death (or to now), survivors in their layer's colour, eliminated units grey; hover
names the cause of birth and of death.

By default only the living units are drawn, one row each in order of birth: a long run
eliminates thousands of units, and drawn in birth order they make a grey wedge with the
living ones a flat line at its foot (issue 12). "all units" draws every unit ever seen.

New units are streamed, a death patches its row, and the survivors' right ends move with one
column patch (a slice) per refresh.
"""

from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.plotting import figure

from explorer.views.base import View, columns, figure_defaults, step_range
from explorer.views.palette import DIED_COLOR, layer_color
from explorer.views.selection import UnitSelection
from kernels.records import EVENT, STEP, UNITS

COLUMNS = (
    "unit_id",
    "row",
    "living_row",
    "layer",
    "birth",
    "end",
    "alive",
    "status",
    "born_cause",
    "died_cause",
    "color",
)
#: what the rows show: the field of the bars' y and the y axis label
ROW_MODES = {
    "living only": ("living_row", "living units in order of birth"),
    "all units": ("row", "all units in order of birth"),
}


class LifetimeView(View):
    #: record kinds this view draws
    kinds = (UNITS, EVENT)

    def __init__(self, selection: UnitSelection | None = None, x_range=None, **params) -> None:
        super().__init__(**params)
        self.selection = selection if selection is not None else UnitSelection()
        self.source = ColumnDataSource({k: [] for k in COLUMNS}, name="lifetimes")
        x_range = x_range if x_range is not None else step_range()
        self.fig = figure(
            title="unit lifetimes (grey: eliminated)",
            x_range=x_range,
            y_range=Range1d(-1.0, 1.0),
            name="lifetimes_figure",
            **figure_defaults(height=320, tools="xpan,xwheel_zoom,box_select,tap,reset,save"),
        )
        self.bars = self.fig.hbar(
            y="living_row",
            left="birth",
            right="end",
            height=0.9,
            source=self.source,
            color="color",
            nonselection_alpha=0.15,
            selection_line_color="black",
        )
        self.fig.add_tools(
            HoverTool(
                tooltips=[
                    ("unit", "@unit_id"),
                    ("layer", "@layer"),
                    ("born", "@birth (@born_cause)"),
                    ("", "@status"),
                    ("ended", "@end"),
                    ("cause of death", "@died_cause"),
                ]
            )
        )
        self.fig.xaxis.axis_label = "step"
        self._row: dict[int, int] = {}
        self._alive: list[bool] = []
        self.now = 0
        self._ends_at = -1
        self.rows = pn.widgets.RadioButtonGroup(options=list(ROW_MODES), value="living only")
        self.rows.param.watch(lambda e: self.show_rows(e.new), "value")
        self.show_rows(self.rows.value)
        self.selection.attach(self.source)

    def sources(self):
        return [self.source]

    def show_rows(self, mode: str) -> None:
        """'living only' (the default) or 'all units'."""
        if mode not in ROW_MODES:
            raise ValueError(f"unknown lifetime rows '{mode}'; accepted: {', '.join(ROW_MODES)}")
        field, label = ROW_MODES[mode]
        self.bars.glyph.y = field
        self.fig.yaxis.axis_label = label
        if self.rows.value != mode:
            self.rows.value = mode
        self._fit_rows()

    def _fit_rows(self) -> None:
        """The y axis spans exactly the rows drawn (the living units, or every unit).

        Set here rather than left to an auto range: BokehJS's DataRange1d keeps the bounds of
        every plot view that drew with it (the plot drawn again after a tab switch), so the
        axis never shrank back as units were eliminated (ShrinkNets: 200 first units, ~20
        left)."""
        n = int(sum(self._alive)) if self.rows.value == "living only" else len(self._alive)
        start, end = -1.0, max(float(n), 1.0)
        y = self.fig.y_range
        if (y.start, y.end) != (start, end):
            y.update(start=start, end=end, reset_start=start, reset_end=end)

    def reset(self):
        super().reset()
        self._row, self._alive, self.now, self._ends_at = {}, [], 0, -1
        self._fit_rows()

    def _append(self, rows: list[dict]) -> None:
        if not rows:
            return
        base = len(self._row)
        for i, r in enumerate(rows):
            self._row[r["unit_id"]] = base + i
            self._alive.append(True)
        self.source.stream(columns({k: [r[k] for r in rows] for k in COLUMNS}))

    def update(self, records_by_kind):
        new_rows: list[dict] = []
        seen = set()

        def add(uid, layer, birth, cause):
            if uid in self._row or uid in seen:
                return
            seen.add(uid)
            new_rows.append(
                {
                    "unit_id": uid,
                    "row": len(self._row) + len(new_rows),
                    "living_row": np.nan,
                    "layer": layer,
                    "birth": birth,
                    "end": max(self.now, birth),
                    "alive": True,
                    "status": "alive",
                    "born_cause": cause,
                    "died_cause": "",
                    "color": layer_color(layer),
                }
            )

        for step in records_by_kind.get(STEP, ()):
            self.now = max(self.now, int(step["step"]))
        tables = records_by_kind.get(UNITS, ())
        for t in tables:
            self.now = max(self.now, int(t["step"]))
        events = [e for e in records_by_kind.get(EVENT, ()) if e.get("event") in ("born", "died")]
        # units present from the start carry no birth event: the first table shows them
        if tables and not self._row:
            t = tables[0]
            for uid, layer, age in zip(t["unit_id"], t["layer"], t["age"], strict=True):
                add(int(uid), int(layer), int(t["step"]) - int(age), "initial network")
        for e in events:
            if e["event"] == "born":
                add(int(e["unit_id"]), int(e["layer"]), int(e["step"]), e.get("cause", ""))
        if tables:  # a unit with no birth event (a method that emits none): vectorized check
            t = tables[-1]
            known = np.fromiter(self._row, dtype=np.int64, count=len(self._row))
            ids = np.asarray(t["unit_id"], dtype=np.int64)
            for i in np.flatnonzero(~np.isin(ids, known)):
                add(int(ids[i]), int(t["layer"][i]), int(t["step"]) - int(t["age"][i]), "")
        self._append(new_rows)
        deaths = [e for e in events if e["event"] == "died" and int(e["unit_id"]) in self._row]
        if deaths:
            patch = {"end": [], "alive": [], "status": [], "died_cause": [], "color": []}
            for e in deaths:
                i = self._row[int(e["unit_id"])]
                self._alive[i] = False
                patch["end"].append((i, int(e["step"])))
                patch["alive"].append((i, False))
                patch["status"].append((i, "eliminated"))
                patch["died_cause"].append((i, e.get("cause", "")))
                patch["color"].append((i, DIED_COLOR))
            self.source.patch(patch)
        n = len(self._alive)
        if n and (new_rows or deaths or self.now != self._ends_at):
            # one column patch moves every survivor's right end to now
            alive = np.asarray(self._alive)
            end = np.asarray(self.source.data["end"], dtype=float)
            end = np.where(alive, float(self.now), end)
            patch = {"end": [(slice(0, n), end)]}
            if new_rows or deaths:  # living units renumbered: no gaps where units died
                patch["living_row"] = [(slice(0, n), living_rows(alive))]
            self.source.patch(patch)
            self._ends_at = self.now
            if new_rows or deaths:
                self._fit_rows()
        if new_rows:
            self.selection.apply(self.source)

    def __panel__(self):
        return pn.Column(self.rows, self._pane(self.fig), sizing_mode="stretch_width")


def living_rows(alive: np.ndarray) -> np.ndarray:
    """Row of each living unit among the living (0, 1, ... in order of birth); NaN for the
    eliminated, which Bokeh does not draw."""
    alive = np.asarray(alive, dtype=bool)
    return np.where(alive, np.cumsum(alive) - 1.0, np.nan)
