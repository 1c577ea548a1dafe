"""Training cost of any run as the cost model of ShrinkNets (Kamath et al. 2018, sec. 4.4,
fig. 2 right column) defines it: the number of input neurons summed over steps,
``cost_t = sum_{s<=t} n_in(s)``
(hardware independent; the paper expects time to grow about linearly with it). Plotted
against the step, with the measured wall-clock seconds on hover and on a second y axis, so
the claim "time ~ linear in cost" can be read off the two curves.

Input records, kind "step": step, cost (cumulative), time (seconds since the run started).
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, HoverTool, LinearAxis, Range1d
from bokeh.plotting import figure

from explorer.views.base import (
    LINE_ROWS,
    View,
    columns,
    figure_defaults,
    outside_legend,
    step_range,
)
from kernels.records import STEP

COLUMNS = ("step", "cost", "time")


class CostView(View):
    #: record kinds this view draws
    kinds = (STEP,)

    def __init__(self, x_range=None, recent: int = LINE_ROWS, **params) -> None:
        super().__init__(**params)
        x_range = x_range if x_range is not None else step_range()
        self.steps = ColumnDataSource({k: [] for k in COLUMNS}, name="cost_steps")
        self.step_course = self.course(self.steps, recent)
        self.fig = figure(
            title="training cost: input neurons summed over steps "
            "(cost model of ShrinkNets sec. 4.4)",
            x_range=x_range,
            name="cost_figure",
            **figure_defaults(height=240),
        )
        self.fig.extra_y_ranges = {"time": Range1d(start=0, end=1)}
        self.fig.add_layout(LinearAxis(y_range_name="time", axis_label="wall clock (s)"), "right")
        outside_legend(self.fig)
        cost = self.fig.line(
            "step", "cost", source=self.steps, line_width=2, color="#1f77b4", legend_label="cost"
        )
        self.fig.line(
            "step",
            "time",
            source=self.steps,
            line_width=1,
            line_dash="dashed",
            color="#7f7f7f",
            y_range_name="time",
            legend_label="wall clock",
        )
        self.fig.add_tools(
            HoverTool(
                renderers=[cost],
                mode="vline",
                tooltips=[("step", "@step"), ("cost", "@cost{0,0}"), ("time", "@time{0.00} s")],
            )
        )
        self.fig.xaxis.axis_label = "step"
        self.fig.yaxis[0].axis_label = "cost (input neurons)"

    def sources(self):
        return [self.steps]

    def reset(self):
        super().reset()
        self.fig.extra_y_ranges["time"].end = 1

    def update(self, records_by_kind):
        steps = [r for r in records_by_kind.get(STEP, ()) if "cost" in r]
        if not steps:
            return
        self.step_course.stream(
            columns(
                {
                    "step": [r["step"] for r in steps],
                    "cost": [r["cost"] for r in steps],
                    "time": [float(r.get("time", float("nan"))) for r in steps],
                }
            )
        )
        # the second axis follows the clock (a Range1d does not auto-range)
        last = max(float(r.get("time", 0.0)) for r in steps)
        time_range = self.fig.extra_y_ranges["time"]
        if last > time_range.end:
            time_range.end = 1.25 * last

    def __panel__(self):
        return self._pane(self.fig)
