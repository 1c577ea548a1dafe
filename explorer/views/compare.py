"""Compare runs, the way TensorBoard's run selector works: pick two or more runs (from
snapshots, or the live session's history) and see their training loss, validation accuracy
and layer sizes overlaid on shared axes, with EMA smoothing and a log-x toggle.

Smoothing is TensorBoard's debiased exponential moving average:
``s_t = w s_{t-1} + (1 - w) x_t``, divided by ``1 - w^t`` so the first points are not pulled
towards zero; ``w = 0`` shows the raw curve. Validation accuracy and sizes are drawn raw
(they are sparse or step-like).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
]


def ema(values, weight: float) -> np.ndarray:
    """Debiased EMA (TensorBoard's smoothing); NaNs are carried through unsmoothed."""
    values = np.asarray(values, dtype=float)
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    out = np.empty_like(values)
    last, n = 0.0, 0
    for i, v in enumerate(values):
        if not np.isfinite(v):
            out[i] = v
            continue
        n += 1
        last = weight * last + (1 - weight) * v
        out[i] = last / (1 - weight**n)
    return out


def run_curves(history) -> dict[str, pd.DataFrame]:
    """The curves a comparison draws, from a History: "loss" (step, loss), "val_acc"
    (step, val_acc) and "units" (step, total hidden units)."""
    step = history.columns("step")
    ev = history.columns("eval")
    out = {
        "loss": pd.DataFrame({"step": step.get("step", []), "loss": step.get("loss", [])}),
        "val_acc": pd.DataFrame({"step": ev.get("step", []), "val_acc": ev.get("val_acc", [])}),
    }
    layers = sorted(k for k in step if k.startswith("sizes_"))
    units = np.nansum([step[k] for k in layers], axis=0) if layers else []
    out["units"] = pd.DataFrame({"step": step.get("step", []), "units": units})
    return out


class CompareRunsView(pn.viewable.Viewer):
    runs = param.ListSelector(
        default=[], objects=[], doc="Runs to overlay (two or more to compare)."
    )
    smoothing = param.Number(
        0.6,
        bounds=(0.0, 0.99),
        step=0.01,
        doc="EMA weight on the training loss (TensorBoard's smoothing); 0 draws the raw curve.",
    )
    log_x = param.Boolean(False, doc="Logarithmic step axis.")

    def __init__(self, **params):
        super().__init__(**params)
        self._sources: dict[str, object] = {}  # label -> snapshot path or History
        self._curves: dict[str, dict[str, pd.DataFrame]] = {}
        self._method: dict[str, str] = {}

    def add_run(self, label: str, source, method: str = "") -> None:
        """Offer a run: ``source`` is a snapshot path (read on first use) or a History (the
        live session's, read at each redraw)."""
        self._sources[label] = source
        self._method[label] = method
        self.param.runs.objects = list(self._sources)

    def curves(self, label: str) -> dict[str, pd.DataFrame]:
        source = self._sources[label]
        if isinstance(source, str):
            if label not in self._curves:
                from explorer.snapshot import load_snapshot

                self._curves[label] = run_curves(load_snapshot(source).history())
            return self._curves[label]
        return run_curves(source)

    @param.depends("runs", "smoothing", "log_x")
    def plots(self):
        loss, acc, units = [], [], []
        for i, label in enumerate(self.runs):
            c = self.curves(label)
            color = PALETTE[i % len(PALETTE)]
            smooth = c["loss"].assign(loss=ema(c["loss"]["loss"], self.smoothing))
            loss.append(hv.Curve(c["loss"], "step", "loss").opts(color=color, alpha=0.25))
            loss.append(hv.Curve(smooth, "step", "loss", label=label).opts(color=color))
            acc.append(hv.Curve(c["val_acc"], "step", "val_acc", label=label).opts(color=color))
            units.append(hv.Curve(c["units"], "step", "units", label=label).opts(color=color))
        empty = [hv.Curve([], "step", "value")]
        opts = dict(logx=self.log_x, responsive=True, height=260, show_legend=True)
        return (
            hv.Layout(
                [
                    hv.Overlay(loss or empty).opts(title="training loss (EMA)", logy=True, **opts),
                    hv.Overlay(acc or empty).opts(title="validation accuracy", **opts),
                    hv.Overlay(units or empty).opts(title="hidden units", **opts),
                ]
            )
            .cols(1)
            .opts(shared_axes=True)
        )

    def __panel__(self):
        return pn.Column(
            pn.Row(
                pn.widgets.MultiChoice.from_param(self.param.runs, width=480),
                pn.widgets.FloatSlider.from_param(self.param.smoothing, width=200),
                pn.widgets.Checkbox.from_param(self.param.log_x),
            ),
            pn.pane.HoloViews(self.plots, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            name="compare runs",
        )
