"""TINY (Verbockhaven et al. 2024): the eigenvalue spectrum of the proposed neurons at each
growth step and layer. Each lambda_k of the generalized eigenproblem (sec. 3, Prop. 3.2) is a
point at its growth step on a log axis, green when the neuron was accepted (added) and grey
when rejected; the threshold of that step is a dash drawn in the plotted units, the lambda_k
at which the step's rule accepts (:func:`threshold_height`). The latest ``RECENT_GROWTH_STEPS``
growth steps are drawn in full; older ones small and faint, so a long run's spectra do not
merge into one grey cloud (issue 12). Points are kept as a whole course (older growth steps
thinned, :class:`~explorer.views.base.ThinnedStream`). Hover names the unit id born from an
accepted lambda_k. A second plot follows mean lambda_k^2 (circles) and max lambda_k (squares)
per layer over growth steps.

Input records, kind "spectrum": step, layer, eigenvalues (sorted descending), accepted (a
count of leading eigenvalues, or one bool per eigenvalue), tau, tau_mode (paper when absent),
loss_before (L(f_theta), needed by the paper rule), unit_ids (born, in rank order), and
optionally bottleneck_before/after, route, solve_seconds.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import (
    ROLLOVER,
    View,
    columns,
    figure_defaults,
    legend_groups,
    outside_legend,
    step_range,
)
from explorer.views.palette import ACCEPTED_COLOR, REJECTED_COLOR, layer_color
from kernels.records import SPECTRUM

POINT_COLUMNS = (
    "step",
    "x",
    "layer",
    "rank",
    "eigenvalue",
    "shown",
    "accepted",
    "color",
    "unit_id",
    "born",
    "alpha",
    "size",
)
SUMMARY_COLUMNS = (
    "step",
    "x",
    "layer",
    "mean_sq",
    "max",
    "color",
    "tau",
    "threshold",
    "tau_mode",
    "accepted_count",
    "bottleneck_before",
    "bottleneck_after",
    "route",
    "solve_seconds",
)
#: log axes cannot show 0 or negative eigenvalues: they are drawn at this floor
FLOOR = 1e-12
#: growth steps drawn in full; older ones are faded
RECENT_GROWTH_STEPS = 3
#: (opacity, marker size) of the latest growth steps' points and of older ones
RECENT_STYLE, OLD_STYLE = (0.85, 7.0), (0.15, 4.0)


def accepted_mask(accepted, n: int) -> np.ndarray:
    """``accepted`` as one bool per eigenvalue (a count means the leading ones)."""
    if accepted is None:
        return np.zeros(n, dtype=bool)
    if np.ndim(accepted) == 0:
        return np.arange(n) < int(accepted)
    mask = np.asarray(accepted, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(
            f"spectrum record: accepted has shape {mask.shape}, expected ({n},) or a count"
        )
    return mask


def threshold_height(record) -> float:
    """The lambda_k at which a spectrum record's rule accepts, in the plotted units (lambda_k,
    not lambda_k^2), as :func:`kernels.tiny.best_neurons.accepted_count` decides: TINY's rule
    lambda_k^2 L(f_theta) > tau (shared/papers/003 sec. 2.4 end, sec. 3.3-3.4, ``paper``) gives
    sqrt(tau / L) with L the record's ``loss_before``; ``absolute`` lambda_k^2 > tau gives
    sqrt(tau); ``relative`` lambda_k^2 > tau lambda_1^2 gives sqrt(tau) |lambda_1|. NaN (no
    dash) when the record lacks what its rule needs (the paper rule without a finite L > 0)."""
    tau = float(record.get("tau", np.nan))
    if not np.isfinite(tau) or tau < 0:
        return float("nan")
    mode = str(record.get("tau_mode", "paper"))
    if mode == "absolute":
        return float(np.sqrt(tau))
    if mode == "relative":
        eig = np.abs(np.asarray(record.get("eigenvalues", ()), dtype=float).ravel())
        return float(np.sqrt(tau) * eig.max()) if eig.size else float("nan")
    if mode != "paper":
        raise ValueError(
            f"spectrum record: tau_mode must be paper, absolute or relative, got '{mode}'"
        )
    loss = float(record.get("loss_before", np.nan))
    if not np.isfinite(loss) or loss <= 0:
        return float("nan")
    return float(np.sqrt(tau / loss))


class SpectrumView(View):
    #: record kinds this view draws
    kinds = (SPECTRUM,)

    def __init__(self, x_range=None, **params) -> None:
        super().__init__(**params)
        x_range = x_range if x_range is not None else step_range()
        self.points = ColumnDataSource({k: [] for k in POINT_COLUMNS}, name="spectrum_points")
        self.summary = ColumnDataSource({k: [] for k in SUMMARY_COLUMNS}, name="spectrum_summary")
        self.fig = figure(
            title="TINY: eigenvalues lambda_k of proposed neurons (green: added)",
            x_range=x_range,
            y_axis_type="log",
            name="spectrum_figure",
            **figure_defaults(height=280, tools="pan,wheel_zoom,box_select,tap,reset,save"),
        )
        outside_legend(self.fig)
        pts = legend_groups(
            self.fig,
            "x",
            "shown",
            self.points,
            "accepted",
            {"accepted": {"color": ACCEPTED_COLOR}, "rejected": {"color": REJECTED_COLOR}},
            size="size",
            alpha="alpha",
            nonselection_alpha=0.1,
        )
        self.fig.scatter(
            "x",
            "threshold",
            source=self.summary,
            marker="dash",
            size=16,
            color="black",
            legend_label="threshold (lambda_k at tau)",
        )
        self.point_course = self.course(self.points, 10 * ROLLOVER)
        self.summary_course = self.course(self.summary)
        self.fig.add_tools(
            HoverTool(
                renderers=pts,
                tooltips=[
                    ("step", "@step"),
                    ("layer", "@layer"),
                    ("k", "@rank"),
                    ("lambda_k", "@eigenvalue{0.[0000]e}"),
                    ("", "@accepted"),
                    ("born unit", "@born"),
                ],
            )
        )
        self.fig.xaxis.axis_label = "growth step (layers side by side)"
        self.fig.yaxis.axis_label = "lambda_k"
        self.summary_fig = figure(
            title="mean lambda_k^2 (circles), max lambda_k (squares)",
            x_range=x_range,
            y_axis_type="log",
            name="spectrum_summary_figure",
            **figure_defaults(height=220),
        )
        self.summary_fig.scatter("step", "mean_sq", source=self.summary, color="color", size=7)
        marks = self.summary_fig.scatter(
            "step", "max", source=self.summary, color="color", marker="square", size=7
        )
        self.summary_fig.add_tools(
            HoverTool(
                renderers=[marks],
                tooltips=[
                    ("step", "@step"),
                    ("layer", "@layer"),
                    ("added", "@accepted_count"),
                    ("bottleneck before", "@bottleneck_before{0.[0000]e}"),
                    ("bottleneck after", "@bottleneck_after{0.[0000]e}"),
                    ("route", "@route"),
                    ("solve", "@solve_seconds{0.000} s"),
                ],
            )
        )
        self.summary_fig.xaxis.axis_label = "step"

    def sources(self):
        return [self.points, self.summary]

    def update(self, records_by_kind):
        recs = records_by_kind.get(SPECTRUM, ())
        if not recs:
            return
        pts = {k: [] for k in POINT_COLUMNS}
        summ = {k: [] for k in SUMMARY_COLUMNS}
        pts["key"] = []
        for i, r in enumerate(recs):
            eig = np.asarray(r["eigenvalues"], dtype=float).ravel()
            n, layer, step = len(eig), int(r["layer"]), int(r["step"])
            mask = accepted_mask(r.get("accepted"), n)
            born = list(r.get("unit_ids", []) or [])
            born_iter = iter(born)
            x = step + 0.15 * layer  # layers side by side at one growth step
            for k in range(n):
                uid = next(born_iter, -1) if mask[k] else -1
                pts["step"].append(step)
                pts["x"].append(x)
                pts["layer"].append(layer)
                pts["rank"].append(k + 1)
                pts["eigenvalue"].append(float(eig[k]))
                pts["shown"].append(max(abs(float(eig[k])), FLOOR))
                pts["accepted"].append("accepted" if mask[k] else "rejected")
                pts["color"].append(ACCEPTED_COLOR if mask[k] else REJECTED_COLOR)
                pts["unit_id"].append(int(uid))
                pts["born"].append(str(uid) if uid >= 0 else "-")
                pts["alpha"].append(RECENT_STYLE[0])
                pts["size"].append(RECENT_STYLE[1])
                pts["key"].append(i)
            summ["step"].append(step)
            summ["x"].append(x)
            summ["layer"].append(layer)
            summ["mean_sq"].append(max(float(np.mean(eig**2)) if n else FLOOR, FLOOR))
            summ["max"].append(max(float(eig.max()) if n else FLOOR, FLOOR))
            summ["color"].append(layer_color(layer))
            summ["tau"].append(float(r.get("tau", np.nan)))
            height = threshold_height(r)
            summ["threshold"].append(max(height, FLOOR) if np.isfinite(height) else np.nan)
            summ["tau_mode"].append(str(r.get("tau_mode", "paper")))
            summ["accepted_count"].append(int(mask.sum()))
            for key in ("bottleneck_before", "bottleneck_after", "solve_seconds"):
                summ[key].append(float(r.get(key, np.nan)))
            summ["route"].append(str(r.get("route", "")))
        key = pts.pop("key")
        self.point_course.stream(columns(pts), key=key)
        self.summary_course.stream(columns(summ))
        self.fade_old_growth_steps()

    def fade_old_growth_steps(self) -> None:
        """Points of growth steps older than the latest ``RECENT_GROWTH_STEPS`` small and
        faint: one patch of the rows whose style changes (a slice, rows are in step order)."""
        steps = np.asarray(self.points.data["step"])
        if not len(steps):
            return
        latest = np.unique(steps)[-RECENT_GROWTH_STEPS:]
        recent = steps >= latest[0]
        alpha = np.where(recent, RECENT_STYLE[0], OLD_STYLE[0])
        changed = np.flatnonzero(alpha != np.asarray(self.points.data["alpha"], dtype=float))
        if len(changed):
            part = slice(int(changed[0]), int(changed[-1]) + 1)
            size = np.where(recent, RECENT_STYLE[1], OLD_STYLE[1])
            self.points.patch({"alpha": [(part, alpha[part])], "size": [(part, size[part])]})

    def __panel__(self):
        return self._pane(self.fig, self.summary_fig)
