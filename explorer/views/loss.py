"""Loss and accuracy, train and validation, over training steps; a vertical mark at each
knob change (hover: which knob, old and new value)."""

from __future__ import annotations

import math

from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import (
    LINE_ROWS,
    View,
    columns,
    figure_defaults,
    outside_legend,
    step_range,
)
from explorer.views.markers import readable_markers
from explorer.views.palette import KNOB_COLOR, TRAIN_COLOR, VAL_COLOR
from kernels.records import EVAL, KNOB, STEP


class LossView(View):
    #: record kinds this view draws
    kinds = (STEP, EVAL, KNOB)

    def __init__(self, x_range=None, recent: int = LINE_ROWS, **params) -> None:
        super().__init__(**params)
        x_range = x_range if x_range is not None else step_range()
        self.steps = ColumnDataSource({"step": [], "loss": [], "acc": []}, name="loss_steps")
        self.evals = ColumnDataSource({"step": [], "val_loss": [], "val_acc": []}, name="loss_eval")
        self.knob_marks = ColumnDataSource(
            {"step": [], "knob": [], "old": [], "new": []}, name="knob_marks"
        )
        self.step_course = self.course(self.steps, recent)
        self.eval_course = self.course(self.evals, recent)
        self.knob_course = self.course(self.knob_marks, recent)
        self.loss_fig = figure(
            title="loss",
            x_range=x_range,
            y_axis_type="log",
            name="loss_figure",
            **figure_defaults(height=240),
        )
        self.acc_fig = figure(
            title="accuracy", x_range=x_range, name="accuracy_figure", **figure_defaults(height=200)
        )
        pairs: list[tuple] = []
        for fig, train, val in (
            (self.loss_fig, "loss", "val_loss"),
            (self.acc_fig, "acc", "val_acc"),
        ):
            outside_legend(fig)
            marks = fig.vspan(
                x="step",
                source=self.knob_marks,
                line_color=KNOB_COLOR,
                line_width=2,
                line_alpha=0.7,
                line_dash="dashed",
            )
            fig.line("step", train, source=self.steps, color=TRAIN_COLOR, legend_label="train")
            val_line = fig.line(
                "step",
                val,
                source=self.evals,
                color=VAL_COLOR,
                line_width=2,
                legend_label="validation",
            )
            val_marks = fig.scatter("step", val, source=self.evals, color=VAL_COLOR, size=4)
            pairs.append((fig, val_line, val_marks))
            fig.add_tools(
                HoverTool(
                    renderers=[marks],
                    tooltips=[
                        ("step", "@step"),
                        ("knob", "@knob"),
                        ("old", "@old{0.[000000]}"),
                        ("new", "@new{0.[000000]}"),
                    ],
                )
            )
            fig.xaxis.axis_label = "step"
        # an evaluation's marker only while the evaluations in view are far enough apart
        readable_markers(self.evals, "step", x_range, pairs)

    def sources(self):
        return [self.steps, self.evals, self.knob_marks]

    def update(self, records_by_kind):
        steps = records_by_kind.get(STEP, ())
        if steps:
            self.step_course.stream(
                columns(
                    {
                        "step": [r["step"] for r in steps],
                        "loss": [_positive(r["loss"]) for r in steps],
                        "acc": [r["acc"] for r in steps],
                    }
                )
            )
        evals = records_by_kind.get(EVAL, ())
        if evals:
            self.eval_course.stream(
                columns(
                    {
                        "step": [r["step"] for r in evals],
                        "val_loss": [_positive(r["val_loss"]) for r in evals],
                        "val_acc": [r["val_acc"] for r in evals],
                    }
                )
            )
        knobs = records_by_kind.get(KNOB, ())
        if knobs:
            self.knob_course.stream(
                columns(
                    {
                        "step": [r["step"] for r in knobs],
                        "knob": [r["knob"] for r in knobs],
                        "old": [r["old"] for r in knobs],
                        "new": [r["new"] for r in knobs],
                    }
                )
            )

    def __panel__(self):
        return self._pane(self.loss_fig, self.acc_fig)


def _positive(value: float) -> float:
    """Log axes cannot show 0 or NaN: a NaN loss stays NaN (a gap), 0 becomes tiny."""
    value = float(value)
    return value if not math.isfinite(value) or value > 0 else 1e-12
