"""Runs, compute-to-accuracy and compare views, the runs tab and ``explorer.Sweep``."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import panel as pn
import pytest

from explorer.history import History
from explorer.views.compare import CompareRunsView, ema, run_curves
from explorer.views.compute_to_accuracy import ComputeToAccuracyView, search_curve
from explorer.views.runs import RunsView, frontier_curves, runs_frame


def _row(key, method, params, val_acc, kind="search", index=0, status="ok", wall_s=1.0):
    return {
        "key": key,
        "kind": kind,
        "index": index,
        "status": status,
        "method": method,
        "params": params,
        "units": params // 10,
        "val_acc": val_acc,
        "val_loss": 1 - val_acc,
        "test_acc": val_acc - 0.01,
        "test_loss": 1.0,
        "wall_s": wall_s,
        "param_steps": params * 10,
        "train_flops": params * 60,
        "sizes": "[1, 1]",
        "snapshot": f"/snaps/{key}.zip",
    }


ROWS = [
    _row("a", "static", 100, 0.80, index=0),
    _row("b", "static", 300, 0.90, index=1),
    _row("c", "static", 200, 0.70, index=2),
    _row("f", "static", 50, math.nan, index=3, status="failed"),
    _row("n", "nonparametric", 150, 0.88, kind="sizing", wall_s=0.5),
]


def test_runs_frontier_and_click_opens_snapshot():
    opened = []
    view = RunsView(ROWS, on_open=opened.append)
    assert list(view.frame["key"]) == ["a", "b", "c", "n"]  # failed points are not drawn
    fronts = frontier_curves(view.frame, "params", "val_acc")
    assert fronts["static"]["params"].tolist() == [100, 300]
    loss_fronts = frontier_curves(view.frame, "units", "val_loss")
    assert loss_fronts["static"]["units"].tolist() == [10, 30]
    overlay = view.frontiers[()]
    curves = {c.label: c for c in overlay}
    assert curves["static frontier"].dimension_values("params").tolist() == [100, 300]
    view.selection.event(index=[3])  # the tap tool's selection: the nonparametric point
    assert opened == ["/snaps/n.zip"] and view.opened == "/snaps/n.zip"
    view.add_row(_row("d", "static", 400, 0.95, index=4))
    assert frontier_curves(view.frame, "params", "val_acc")["static"]["params"].tolist() == [
        100,
        300,
        400,
    ]
    view.size, view.metric = "units", "val_loss"
    points = view.points[()]
    assert [d.name for d in points.kdims] == ["units", "val_loss"]
    root = pn.panel(view).get_root()  # renders to Bokeh without error
    assert root is not None


def test_compute_to_accuracy_view():
    frame = runs_frame(ROWS)
    assert len(frame) == 4
    import pandas as pd

    curve = search_curve(pd.DataFrame(ROWS), "wall_s", "val_acc")
    assert curve["wall_s"].tolist() == [1, 2, 3, 4]
    assert curve["val_acc"].tolist() == [0.80, 0.90, 0.90, 0.90]
    view = ComputeToAccuracyView(ROWS, accuracy="val_acc")
    overlay = view.plot[()]
    labels = [e.label for e in overlay]
    assert labels == ["random search (best so far)", "nonparametric run"]
    run = overlay.get(1)
    assert run.dimension_values("wall_s").tolist() == [0.5]
    view.compute = "param_steps"
    assert view.plot[()].get(0).dimension_values("param_steps").tolist() == [1000, 4000, 6000, 6500]


def test_ema_is_tensorboards_debiased_smoothing():
    x = np.array([1.0, 2.0, 3.0])
    w = 0.5
    # s1 = 0.5, s2 = 0.25 + 1 = 1.25, s3 = 0.625 + 1.5 = 2.125; debias by 1 - w^t
    assert ema(x, w).tolist() == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    assert ema(x, 0.0).tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="smoothing"):
        ema(x, 1.0)


def test_compare_overlays_runs():
    histories = []
    for scale in (1.0, 2.0, 3.0):
        h = History()
        for s in range(1, 6):
            h.add({"kind": "step", "step": s, "loss": scale / s, "sizes": [s, 2 * s]})
        h.add({"kind": "eval", "step": 5, "val_acc": 0.1 * scale})
        histories.append(h)
    curves = run_curves(histories[0])
    assert curves["units"]["units"].tolist() == [3, 6, 9, 12, 15]
    view = CompareRunsView()
    for i, h in enumerate(histories):
        view.add_run(f"run {i}", h)
    view.runs = ["run 0", "run 2"]
    view.smoothing = 0.0
    layout = view.plots()
    loss, acc, units = layout
    assert len(loss) == 4 and len(acc) == 2 and len(units) == 2
    smoothed = [c for c in loss if c.label == "run 2"][0]
    assert smoothed.dimension_values("loss").tolist() == pytest.approx([3 / s for s in range(1, 6)])
    view.log_x = True
    assert hv.render(view.plots()) is not None


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.mark.slow
def test_runs_tab_sweep_from_the_page_fills_views(client, tmp_path):
    from explorer.page.runs_tab import SweepRunsPanel

    opened = []
    panel = SweepRunsPanel(
        folder=tmp_path,
        client=client,
        on_open=opened.append,
        methods=["nonparametric"],
        steps=8,
        lam="1e-3",
        search=2,
        sweep_name="t",
    )
    panel.start()
    rows = panel.wait(120)
    assert len(rows) == 3 and all(r["status"] == "ok" for r in rows)
    assert panel.progress.value == 3 and "3 done" in panel.status
    assert len(panel.runs.frame) == 3
    assert len(panel.compare.param.runs.objects) == 3
    panel.runs.selection.event(index=[0])
    assert opened == [panel.runs.frame.iloc[0]["snapshot"]]
    for bad in ("../escape", ".."):  # a name from the browser stays inside the folder
        panel.sweep_name = bad
        panel.start_button.clicks += 1  # the button reports the error, nothing raises
        assert "must be 1-64 letters" in panel.status and not panel.running
    assert pn.panel(panel).get_root() is not None


@pytest.mark.slow
def test_notebook_sweep(client, tmp_path):
    import explorer

    sw = explorer.Sweep(
        methods=["static"], steps=5, hidden=(4, 4), out=tmp_path, client=client, lr=[1e-3, 1e-2]
    )
    sw.run()
    assert len(sw.table) == 2 and set(sw.table["status"]) == {"ok"}
    ex = sw.open(sw.table["key"][0])
    assert ex.step_count == 5
