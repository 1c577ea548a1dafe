"""Fan-in length vs fan-out length of every live unit (Philipp & Carbonell 2017, fig. 3E/3F,
live): one point per unit, coloured by layer, size and opacity growing with age (faint
small dots: young units; solid large ones: old). The legend beside the plot names both.

Fed the newest "units" table of each increment: when the set of units is unchanged only the
numeric columns are patched; otherwise the small table is replaced (keyed by unit id, so the
selection is carried over). ``min_interval`` throttles the refresh (seconds).
"""

from __future__ import annotations

import math
import time

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import (
    LEGEND_KEY,
    View,
    figure_defaults,
    layer_groups,
    outside_legend,
    replace_data,
    show_layers,
)
from explorer.views.palette import layer_colors
from explorer.views.selection import UnitSelection
from kernels.records import UNITS

COLUMNS = ("unit_id", "layer", "fan_in", "fan_out", "age", "size", "alpha", "color", "layer_name")
AGE_KEY_COLOR = "#555555"


def age_style(age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Marker size (5..12 px) and opacity (0.3..0.9) growing with age relative to the oldest."""
    age = np.asarray(age, dtype=float)
    scale = max(float(age.max()) if age.size else 1.0, 1.0)
    share = np.clip(age / scale, 0.0, 1.0)
    return 5.0 + 7.0 * share, 0.3 + 0.6 * share


class UnitScatterView(View):
    #: record kinds this view draws
    kinds = (UNITS,)

    def __init__(
        self, selection: UnitSelection | None = None, min_interval: float = 0.0, **params
    ) -> None:
        super().__init__(**params)
        self.selection = selection if selection is not None else UnitSelection()
        self.min_interval = min_interval
        self.source = ColumnDataSource({k: [] for k in COLUMNS}, name="units_scatter")
        self.fig = figure(
            title="units: fan-in vs fan-out length (select to follow)",
            name="units_figure",
            **figure_defaults(
                height=360, tools="pan,wheel_zoom,box_select,lasso_select,tap,reset,save"
            ),
        )
        legend = outside_legend(self.fig)
        self.layer_items = layer_groups(
            self.fig,
            "fan_in",
            "fan_out",
            self.source,
            size="size",
            alpha="alpha",
            nonselection_alpha=0.1,
            selection_line_color="black",
            selection_line_width=2,
        )
        # a key for the dots' look: one point each at NaN (not drawn) that only gives the
        # legend a swatch (a glyph without rows draws none)
        young, old = age_style(np.array([0.0, 1.0]))
        for label, size, alpha in (
            ("young unit", young[0], old[0]),
            ("old unit", young[1], old[1]),
        ):
            self.fig.scatter(
                x=[np.nan],
                y=[np.nan],
                color=AGE_KEY_COLOR,
                size=size,
                alpha=alpha,
                legend_label=label,
                name=LEGEND_KEY,
            )
        legend.title = "colour: layer"
        self.fig.add_tools(
            HoverTool(
                tooltips=[
                    ("unit", "@unit_id"),
                    ("layer", "@layer"),
                    ("fan-in", "@fan_in{0.000}"),
                    ("fan-out", "@fan_out{0.000}"),
                    ("age", "@age steps"),
                ]
            )
        )
        self.fig.xaxis.axis_label = "fan-in length ||w_in||"
        self.fig.yaxis.axis_label = "fan-out length ||w_out||"
        self.selection.attach(self.source)
        self._pending = None
        self._last = -math.inf  # the first table shows at once, whatever the monotonic clock
        self.step = None

    def sources(self):
        return [self.source]

    def reset(self):
        super().reset()
        self._pending, self.step = None, None
        show_layers(self.layer_items, ())

    def update(self, records_by_kind, force: bool = False):
        tables = records_by_kind.get(UNITS, ())
        if tables:
            self._pending = tables[-1]
        now = time.monotonic()
        if self._pending is None or (not force and now - self._last < self.min_interval):
            return
        table, self._pending, self._last = self._pending, None, now
        self.show_table(table)

    def show_table(self, table: dict) -> None:
        ids = np.asarray(table["unit_id"], dtype=np.int64)
        size, alpha = age_style(table["age"])
        numeric = {
            "fan_in": np.asarray(table["fan_in"], dtype=float),
            "fan_out": np.asarray(table["fan_out"], dtype=float),
            "age": np.asarray(table["age"], dtype=np.int64),
            "size": size,
            "alpha": alpha,
        }
        self.step = table.get("step")
        current = np.asarray(self.source.data["unit_id"])
        if len(current) == len(ids) and np.array_equal(current, ids):
            n = len(ids)
            self.source.patch({k: [(slice(0, n), v)] for k, v in numeric.items()})
            return
        layers = np.asarray(table["layer"], dtype=np.int64)
        replace_data(
            self.source,
            {
                "unit_id": ids,
                "layer": layers,
                "color": layer_colors(layers),
                "layer_name": [f"layer {i}" for i in layers.tolist()],
                **numeric,
            },
        )
        show_layers(self.layer_items, np.unique(layers))
        self.selection.apply(self.source)

    def __panel__(self):
        return self._pane(self.fig)
