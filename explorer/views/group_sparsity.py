"""ShrinkNets fig. 1 live (Kamath et al. 2018, sec. 4.3): normalised loss (loss / the
intercept-only model's loss, in [0, 1]) against sparsity (share of inputs whose weights are
all below 1e-3) for the switch relaxation and the group lasso, one colour per method; the
points arrive one fit at a time while a sweep over lambda runs
(:class:`explorer.group_sparsity.SweepThread`).

Input records, kind "groupsparsity": method, dataset, lam, loss, sparsity.
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import View, figure_defaults, legend_groups, outside_legend
from kernels.records import GROUPSPARSITY

COLUMNS = ("method", "dataset", "lam", "loss", "sparsity", "color")
METHOD_COLORS = {"switch": "#d62728", "group lasso": "#1f77b4"}
OTHER_COLOR = "#7f7f7f"


class GroupSparsityView(View):
    #: record kinds this view draws
    kinds = (GROUPSPARSITY,)

    def __init__(self, rollover: int = 10_000, **params) -> None:
        super().__init__(**params)
        self.rollover = rollover
        self.points = ColumnDataSource({k: [] for k in COLUMNS}, name="groupsparsity_points")
        self.fig = figure(
            title="group sparsity: switches vs group lasso (ShrinkNets fig. 1)",
            name="groupsparsity_figure",
            x_range=(-0.02, 1.02),
            y_range=(-0.02, 1.05),
            **figure_defaults(height=280),
        )
        outside_legend(self.fig)
        dots = legend_groups(
            self.fig,
            "sparsity",
            "loss",
            self.points,
            "method",
            {m: {"color": c} for m, c in METHOD_COLORS.items()},
            size=8,
            alpha=0.8,
        )
        self.fig.add_tools(
            HoverTool(
                renderers=dots,
                tooltips=[
                    ("method", "@method"),
                    ("data set", "@dataset"),
                    ("lambda", "@lam{0.000e}"),
                    ("normalised loss", "@loss{0.0000}"),
                    ("sparsity", "@sparsity{0.000}"),
                ],
            )
        )
        self.fig.xaxis.axis_label = "sparsity (share of inputs dropped)"
        self.fig.yaxis.axis_label = "normalised loss"

    def sources(self):
        return [self.points]

    def update(self, records_by_kind):
        recs = records_by_kind.get(GROUPSPARSITY, ())
        if not recs:
            return
        self.points.stream(
            {
                "method": [str(r["method"]) for r in recs],
                "dataset": [str(r.get("dataset", "")) for r in recs],
                "lam": [float(r["lam"]) for r in recs],
                "loss": [float(r["loss"]) for r in recs],
                "sparsity": [float(r["sparsity"]) for r in recs],
                "color": [METHOD_COLORS.get(r["method"], OTHER_COLOR) for r in recs],
            },
            rollover=self.rollover,
        )

    def __panel__(self):
        return self._pane(self.fig)
