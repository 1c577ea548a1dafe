"""Compute to accuracy: the cumulative compute a static random search spends to reach each
accuracy (best accuracy so far against compute spent, points in the search's own order, a
step line), against one point per sizing run at its own compute and accuracy. A sizing run
left of the search's line reached its accuracy for less compute than the search needed.

Compute is wall time (seconds on the workers) or steps x parameters (``param_steps``);
:func:`explorer.sweep.frontier.compute_to_accuracy` does the arithmetic.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from explorer.sweep.frontier import compute_to_accuracy
from explorer.views.runs import METHOD_COLORS, runs_frame

COMPUTE = {
    "wall_s": "wall time (s)",
    "param_steps": "steps x parameters",
    "train_flops": "training FLOPs (6 x batch x steps x parameters)",
}
ACCURACY = {"val_acc": "validation accuracy", "test_acc": "test accuracy"}


def search_curve(rows: pd.DataFrame, compute: str, acc: str) -> pd.DataFrame:
    """The search's (cumulative compute, best accuracy so far), in the search's order;
    failed search points spend their compute too."""
    search = rows[rows["kind"] == "search"].sort_values("index")
    acc_values = np.where(
        search["status"] == "ok", pd.to_numeric(search[acc], errors="coerce"), np.nan
    )
    cumulative, best = compute_to_accuracy(
        acc_values, pd.to_numeric(search[compute], errors="coerce")
    )
    return pd.DataFrame({compute: cumulative, acc: best, "points": np.arange(1, len(best) + 1)})


class ComputeToAccuracyView(pn.viewable.Viewer):
    compute = param.Selector(
        default="wall_s",
        objects=list(COMPUTE),
        doc="Compute axis: worker wall time, steps x parameters, or FLOPs.",
    )
    accuracy = param.Selector(default="test_acc", objects=list(ACCURACY), doc="Accuracy axis.")

    def __init__(self, rows=(), **params):
        super().__init__(**params)
        self.rows = pd.DataFrame(list(rows)) if not isinstance(rows, pd.DataFrame) else rows
        self._pipe = hv.streams.Pipe(data=self.rows)
        axes = hv.streams.Params(parameterized=self, parameters=["compute", "accuracy"])
        self.plot = hv.DynamicMap(self._overlay, streams=[self._pipe, axes])

    def set_rows(self, rows) -> None:
        self.rows = pd.DataFrame(list(rows)) if not isinstance(rows, pd.DataFrame) else rows
        self._pipe.send(self.rows)

    def _overlay(self, data, compute, accuracy):
        if data is None or data.empty or "kind" not in data:
            data = pd.DataFrame(columns=["kind", "index", "status", "method", compute, accuracy])
        curve = search_curve(data, compute, accuracy)
        search = hv.Curve(
            curve, kdims=[compute], vdims=[accuracy, "points"], label="random search (best so far)"
        ).opts(
            interpolation="steps-post", color=METHOD_COLORS["static"], line_width=2, tools=["hover"]
        )
        runs = runs_frame(data[data["kind"] != "search"]) if len(data) else runs_frame([])
        layers = [search]
        for method, group in runs.groupby("method"):
            layers.append(
                hv.Scatter(
                    group, kdims=[compute], vdims=[accuracy, "sizes"], label=f"{method} run"
                ).opts(
                    color=METHOD_COLORS.get(method, "#9467bd"),
                    size=10,
                    marker="diamond",
                    tools=["hover"],
                )
            )
        return hv.Overlay(layers).opts(
            hv.opts.Overlay(
                logx=True,
                responsive=True,
                height=320,
                xlabel=COMPUTE[compute],
                ylabel=ACCURACY[accuracy],
                legend_position="bottom_right",
            )
        )

    def __panel__(self):
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.compute, width=260),
                pn.widgets.Select.from_param(self.param.accuracy, width=200),
            ),
            pn.pane.HoloViews(self.plot, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            name="compute to accuracy",
        )
