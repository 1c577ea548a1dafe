"""ShrinkNets (Kamath et al. 2018): switch value of every unit over training steps, one
point per unit per "switch" record, coloured by layer; killed units (sec. 3.5.1) are marked
with a cross at their death step. Points are keyed by unit id, so selecting units elsewhere
highlights their switch trajectories.

Input records, kind "switch": step, layer (one per unit, as ShrinkNets emits it, or one for
the whole record), unit_id (array), value (array).
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import (
    ROLLOVER,
    View,
    figure_defaults,
    layer_groups,
    outside_legend,
    show_layers,
    step_range,
)
from explorer.views.palette import layer_colors
from explorer.views.selection import UnitSelection
from kernels.records import EVENT, SWITCH

POINT_COLUMNS = ("step", "layer", "unit_id", "value", "color", "layer_name")
KILLED_COLUMNS = ("step", "layer", "unit_id", "value", "cause")


def switch_layers(record: dict, n: int) -> np.ndarray:
    """The layer of each of a switch record's ``n`` units: ``layer`` holds one entry per unit
    (a record spans every hidden layer) or one scalar for all of them."""
    layer = np.asarray(record["layer"], dtype=np.int64).ravel()
    if layer.size == 1:
        return np.full(n, int(layer[0]), dtype=np.int64)
    if layer.size != n:
        raise ValueError(
            f"switch record at step {record.get('step')}: {layer.size} layers for {n} units"
        )
    return layer


def _column(values: np.ndarray):
    """Numbers as arrays (one binary buffer), strings as lists (Bokeh's JSON)."""
    return values if values.dtype.kind in "biuf" else values.tolist()


class SwitchView(View):
    #: record kinds this view draws
    kinds = (SWITCH,)

    def __init__(
        self,
        selection: UnitSelection | None = None,
        x_range=None,
        # 8k newest points (40 records of a 200-unit net) + a thinned past of 16k: at 25 x
        # ROLLOVER (up to 150k points) the canvas markers of this plot were most of Chromium's
        # drawing time on a ShrinkNets page (a JS profile of the page, session 5)
        recent: int = 4 * ROLLOVER,
        **params,
    ) -> None:
        super().__init__(**params)
        self.selection = selection if selection is not None else UnitSelection()
        x_range = x_range if x_range is not None else step_range()
        self.points = ColumnDataSource({k: [] for k in POINT_COLUMNS}, name="switch_points")
        self.killed = ColumnDataSource({k: [] for k in KILLED_COLUMNS}, name="switch_killed")
        # thinned by record (one step's points kept or dropped together)
        self.point_course = self.course(self.points, recent)
        self.killed_course = self.course(self.killed)
        self.fig = figure(
            title="ShrinkNets: switch values (x: killed)",
            x_range=x_range,
            name="switch_figure",
            **figure_defaults(height=280, tools="pan,wheel_zoom,box_select,tap,reset,save"),
        )
        outside_legend(self.fig)
        self.layer_items = layer_groups(
            self.fig,
            "step",
            "value",
            self.points,
            size=3,
            alpha=0.6,
            nonselection_alpha=0.05,
            selection_line_color="black",
        )
        kills = self.fig.scatter(
            "step",
            "value",
            source=self.killed,
            marker="x",
            size=10,
            color="black",
            line_width=2,
            legend_label="killed",
        )
        self.fig.add_tools(
            HoverTool(
                renderers=[kills],
                tooltips=[
                    ("unit", "@unit_id"),
                    ("layer", "@layer"),
                    ("step", "@step"),
                    ("cause", "@cause"),
                ],
            )
        )
        self.fig.xaxis.axis_label = "step"
        self.fig.yaxis.axis_label = "switch value"
        self.selection.attach(self.points)
        self._last_value: dict[int, float] = {}

    def sources(self):
        return [self.points, self.killed]

    def reset(self):
        super().reset()
        self._last_value = {}
        show_layers(self.layer_items, ())

    def update(self, records_by_kind):
        recs = records_by_kind.get(SWITCH, ())
        if recs:
            cols = {k: [] for k in POINT_COLUMNS}
            record_number = []
            for i, r in enumerate(recs):
                ids = np.asarray(r["unit_id"], dtype=np.int64).ravel()
                values = np.asarray(r["value"], dtype=float).ravel()
                if ids.shape != values.shape:
                    raise ValueError(
                        f"switch record at step {r.get('step')}: {len(ids)} unit "
                        f"ids but {len(values)} values"
                    )
                n = len(ids)
                layers = switch_layers(r, n)
                cols["step"].append(np.full(n, int(r["step"])))
                cols["layer"].append(layers)
                cols["unit_id"].append(ids)
                cols["value"].append(values)
                cols["color"].append(np.asarray(layer_colors(layers)))
                cols["layer_name"].append(np.asarray([f"layer {i}" for i in layers]))
                record_number.append(np.full(n, i))
                self._last_value.update(zip(ids.tolist(), values.tolist(), strict=True))
            self.point_course.stream(
                {k: _column(np.concatenate(v)) for k, v in cols.items()},
                key=np.concatenate(record_number),
            )
            seen = {int(i) for i in np.unique(np.concatenate(cols["layer"]))}
            seen |= {int(item.split()[-1]) for item, it in self.layer_items.items() if it.visible}
            show_layers(self.layer_items, seen)
            if self.selection.unit_ids:
                self.selection.apply(self.points)
        deaths = [e for e in records_by_kind.get(EVENT, ()) if e.get("event") == "died"]
        if deaths and self._last_value:
            self.killed_course.stream(
                {
                    "step": [e["step"] for e in deaths],
                    "layer": [e["layer"] for e in deaths],
                    "unit_id": [e["unit_id"] for e in deaths],
                    "value": [self._last_value.get(int(e["unit_id"]), 0.0) for e in deaths],
                    "cause": [e.get("cause", "") for e in deaths],
                }
            )

    def __panel__(self):
        return self._pane(self.fig)
