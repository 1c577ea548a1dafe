"""Runs view: every finished run of a sweep (and every snapshot in a folder) as a point,
size against validation loss or accuracy, one colour per method, each method's Pareto
frontier as a step line (``steps-post``: at any size, the best score of a run that small or
smaller, :func:`explorer.sweep.frontier.pareto_frontier`); the live session's run moves on
the same axes. Clicking a point opens that run's snapshot (``on_open(path)``).

HoloViews: one ``hv.Points`` element (colour by method) fed through a ``Pipe`` so new rows
replace the data without rebuilding the page, a ``Selection1D`` stream on it for the click
(the tap tool), frontier ``hv.Curve`` step lines overlaid, and a ``Params`` stream for the
axis switches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from explorer.sweep.frontier import pareto_frontier
from explorer.sweep.point import ROW_COLUMNS

hv.extension("bokeh", logo=False)

METRICS = {
    "val_loss": "validation loss",
    "val_acc": "validation accuracy",
    "test_loss": "test loss",
    "test_acc": "test accuracy",
}
SIZES = {"params": "parameters", "units": "hidden units"}
METHOD_COLORS = {
    "nonparametric": "#1f77b4",
    "shrinknets": "#d62728",
    "tiny": "#2ca02c",
    "static": "#7f7f7f",
    "live": "#ff7f0e",
}
HOVER = [
    ("method", "@method"),
    ("sizes", "@sizes"),
    ("params", "@params"),
    ("val acc", "@val_acc{0.000}"),
    ("test acc", "@test_acc{0.000}"),
    ("wall s", "@wall_s{0.0}"),
    ("kind", "@kind"),
]


def lower_is_better(metric: str) -> bool:
    return metric.endswith("loss")


def runs_frame(rows) -> pd.DataFrame:
    """Finished rows (dicts or a frame) as the view's frame: ok rows only, index reset."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    for col in ROW_COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    frame = frame[frame["status"] == "ok"].copy()
    return frame.reset_index(drop=True)


def snapshot_rows(folder: str | Path) -> list[dict]:
    """A row per snapshot (``*.zip`` or snapshot folders) directly in ``folder``, read from
    its configuration and summary; unreadable files are skipped (and named in ``error``)."""
    from explorer.snapshot import SnapshotError, load_snapshot
    from explorer.sweep.spec import point_key

    rows: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob("*")):
        if not (path.suffix == ".zip" or (path / "session.json").is_file()):
            continue
        try:
            snap = load_snapshot(path)
        except (SnapshotError, OSError, ValueError) as exc:
            rows.append({"key": path.name, "status": "failed", "error": str(exc)})
            continue
        s, c = snap.summary, snap.config
        sizes = list(s.get("sizes", c.get("hidden", [])))
        rows.append(
            {
                "key": point_key(c) + "-" + path.stem,
                "kind": "snapshot",
                "status": "ok",
                "method": c.get("method", ""),
                "dataset": str(c.get("dataset", "")),
                "sizes": json.dumps(sizes),
                "units": int(sum(sizes)),
                "params": s.get("params", np.nan),
                "val_loss": s.get("val_loss", np.nan),
                "val_acc": s.get("val_acc", np.nan),
                "test_loss": s.get("test_loss", np.nan),
                "test_acc": s.get("test_acc", np.nan),
                "wall_s": s.get("seconds", np.nan),
                "steps": s.get("steps", np.nan),
                "snapshot": str(path),
            }
        )
    return rows


def frontier_curves(frame: pd.DataFrame, size: str, metric: str) -> dict[str, pd.DataFrame]:
    """Each method's frontier points, by increasing size."""
    out = {}
    for method, group in frame.groupby("method", sort=True):
        idx = pareto_frontier(
            group[size].to_numpy(float),
            group[metric].to_numpy(float),
            higher_is_better=not lower_is_better(metric),
        )
        out[method] = group.iloc[idx][[size, metric]]
    return out


class RunsView(pn.viewable.Viewer):
    """Sweep results and snapshots as size-vs-quality points with per-method frontiers."""

    size = param.Selector(
        default="params",
        objects=list(SIZES),
        doc="Size axis: parameters or hidden units of the final network.",
    )
    metric = param.Selector(
        default="val_acc",
        objects=list(METRICS),
        doc="Quality axis: validation/test loss or accuracy.",
    )
    opened = param.String(default="", doc="Snapshot of the last clicked point.")

    def __init__(self, rows=(), on_open: Callable[[str], None] | None = None, **params):
        super().__init__(**params)
        self.on_open = on_open
        self.frame = runs_frame(rows)
        self._pipe = hv.streams.Pipe(data=self.frame)
        self._live = hv.streams.Pipe(
            data=pd.DataFrame({"params": [], "units": [], "val_loss": [], "val_acc": []})
        )
        axes = hv.streams.Params(parameterized=self, parameters=["size", "metric"])
        self.points = hv.DynamicMap(self._points, streams=[self._pipe, axes])
        self.frontiers = hv.DynamicMap(self._frontiers, streams=[self._pipe, axes])
        self.live = hv.DynamicMap(self._live_path, streams=[self._live, axes])
        self.selection = hv.streams.Selection1D(source=self.points)
        self.selection.add_subscriber(self._clicked)
        self.plot = (self.frontiers * self.live * self.points).opts(
            hv.opts.Overlay(responsive=True, height=360, legend_position="right")
        )

    # -- data -------------------------------------------------------------------------------
    def set_rows(self, rows) -> None:
        """Show these rows (a sweep's table so far, plus snapshot rows)."""
        self.frame = runs_frame(rows)
        self._pipe.send(self.frame)

    def add_row(self, row: dict) -> None:
        """One more finished point (a sweep's ``on_row``)."""
        if row.get("status") == "ok":
            self.set_rows(pd.concat([self.frame, runs_frame([row])], ignore_index=True))

    def show_live(self, tradeoff_records: list[dict]) -> None:
        """The live session's path: its "tradeoff" records (params, units, val loss/acc)."""
        cols = ("params", "units", "val_loss", "val_acc")
        self._live.send(
            pd.DataFrame({c: [r.get(c, np.nan) for r in tradeoff_records] for c in cols})
        )

    def open_index(self, index: int) -> str:
        """Open the snapshot of the frame's row ``index`` (what a click does)."""
        path = str(self.frame.iloc[index]["snapshot"])
        self.opened = path
        if self.on_open is not None and path:
            self.on_open(path)
        return path

    # -- elements ---------------------------------------------------------------------------
    def _points(self, data, size, metric):
        data = data if data is not None and len(data) else runs_frame([])
        vdims = [metric, "method", "sizes", "val_acc", "test_acc", "wall_s", "kind", "snapshot"]
        vdims = list(dict.fromkeys(vdims))
        if size in vdims:
            vdims.remove(size)
        frame = data.copy()
        for col in ("params", "units", "val_acc", "test_acc", "wall_s", metric):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        colors = {m: METHOD_COLORS.get(m, "#9467bd") for m in frame["method"].unique()}
        return hv.Points(
            frame, kdims=[size, metric], vdims=[v for v in vdims if v != metric], label="runs"
        ).opts(
            color="method",
            cmap=colors or METHOD_COLORS,
            size=9,
            tools=["tap", "hover"],
            hover_tooltips=HOVER,
            logx=True,
            show_legend=True,
            nonselection_alpha=0.4,
            padding=0.05,
            xlabel=SIZES[size],
            ylabel=METRICS[metric],
            responsive=True,
            height=360,
        )

    def _frontiers(self, data, size, metric):
        data = data if data is not None and len(data) else runs_frame([])
        curves = [
            hv.Curve(f, kdims=[size], vdims=[metric], label=f"{m} frontier").opts(
                interpolation="steps-post",
                color=METHOD_COLORS.get(m, "#9467bd"),
                line_width=2,
                alpha=0.8,
                logx=True,
            )
            for m, f in frontier_curves(data, size, metric).items()
        ]
        if not curves:
            curves = [hv.Curve([], kdims=[size], vdims=[metric]).opts(logx=True)]
        return hv.Overlay(curves)

    def _live_path(self, data, size, metric):
        if metric not in data:
            data = pd.DataFrame({size: [], metric: []})
        return hv.Curve(data, kdims=[size], vdims=[metric], label="live run").opts(
            color=METHOD_COLORS["live"], line_width=2, line_dash="dashed", logx=True
        )

    def _clicked(self, index) -> None:
        if index:
            self.open_index(int(index[0]))

    def __panel__(self):
        controls = pn.Row(
            pn.widgets.RadioButtonGroup.from_param(self.param.size, color="light"),
            pn.widgets.Select.from_param(self.param.metric, width=200),
        )
        return pn.Column(
            controls,
            pn.pane.HoloViews(self.plot, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            name="runs",
        )
