"""ShrinkNets views of the live app: the cost-model curve (sec. 4.4) and the group-sparsity
trade-off (fig. 1) filled by a sweep on a background thread."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import poll

import explorer.group_sparsity as gs
from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.views import CostView, GroupSparsityView
from explorer.views.group_sparsity import METHOD_COLORS
from kernels.group_sparsity import lambda_max, sweep


def step_rec(step, n_in=8):
    return {"kind": "step", "step": step, "cost": n_in * step, "time": 0.5 * step}


def test_cost_view_streams_increments_and_follows_the_clock():
    view = CostView()
    view.update({"step": [step_rec(s) for s in (1, 2)]})
    view.update({"step": [step_rec(s) for s in (3, 4, 5)], "eval": [{"step": 5}]})
    data = view.steps.data
    assert set(data) == {"step", "cost", "time"}
    assert list(data["step"]) == [1, 2, 3, 4, 5]
    assert list(data["cost"]) == [8, 16, 24, 32, 40]
    assert list(data["time"]) == [0.5, 1.0, 1.5, 2.0, 2.5]
    # the second y axis (a fixed Range1d) grows to show the latest wall-clock time
    assert view.fig.extra_y_ranges["time"].end >= 2.5
    view.update({"step": [{"kind": "step", "step": 6}]})  # an old record without cost
    assert len(view.steps.data["step"]) == 5
    view.reset()
    assert len(view.steps.data["step"]) == 0 and view.fig.extra_y_ranges["time"].end == 1


def gs_rec(method, lam, loss, sparsity):
    return {
        "kind": "groupsparsity",
        "method": method,
        "dataset": "synthetic",
        "lam": lam,
        "loss": loss,
        "sparsity": sparsity,
    }


def test_group_sparsity_view_one_colour_per_method():
    view = GroupSparsityView()
    view.update(
        {"groupsparsity": [gs_rec("group lasso", 1.0, 1.0, 1.0), gs_rec("switch", 3.0, 1.0, 1.0)]}
    )
    view.update(
        {
            "groupsparsity": [
                gs_rec("group lasso", 0.1, 0.4, 0.5),
                gs_rec("switch", 0.3, 0.35, 0.6),
                gs_rec("switch", 0.03, 0.2, 0.1),
            ],
            "step": [step_rec(1)],
        }
    )
    data = view.points.data
    assert set(data) == {"method", "dataset", "lam", "loss", "sparsity", "color"}
    assert len(data["loss"]) == 5
    assert list(data["method"]).count("switch") == 3
    assert [c for m, c in zip(data["method"], data["color"], strict=True) if m == "switch"] == [
        METHOD_COLORS["switch"]
    ] * 3
    assert METHOD_COLORS["switch"] != METHOD_COLORS["group lasso"]
    assert list(data["sparsity"])[2:] == [0.5, 0.6, 0.1]


def test_sweep_records_match_the_kernel_sweep():
    """The streamed sweep is the table's sweep, one fit at a time (same lambdas, same fits)."""
    records = list(gs.sweep_records("synthetic", points=2, max_iter=200))
    problem = gs.load_problem("synthetic")
    top = lambda_max(problem.X, problem.Y, problem.loss)
    fits = sweep(
        problem.X,
        problem.Y,
        top * np.logspace(0, -3, 2),
        top * np.logspace(0.5, -3.5, 2),
        problem.loss,
        1e-3,
        200,
    )
    by_method = {m: [r for r in records if r["method"] == m] for m in ("group lasso", "switch")}
    for fit in fits:
        (rec,) = [r for r in by_method[fit.method] if r["lam"] == pytest.approx(fit.lam)]
        assert rec["loss"] == pytest.approx(fit.normalised_loss)
        assert rec["sparsity"] == pytest.approx(fit.sparsity)
    assert [r["method"] for r in records] == ["group lasso", "switch"] * 2  # interleaved


def wait_for(app, text, timeout=60.0):
    poll(
        lambda: any(text in m for m in app.messages),
        timeout,
        tick=app.drain,
        what=lambda: f"'{text}'; messages {app.messages}",
    )


@pytest.fixture
def app():
    a = ExplorerApp(RunConfig(method="shrinknets", hidden=[8, 8]))
    yield a
    a.close()
    a.sweep_panel.sweep.join(60)


@pytest.mark.slow
def test_app_sweep_points_arrive_second_click_is_refused(app):
    assert app.dashboard.cards["shrinknets"].visible
    assert app.sweep_panel.run("synthetic", points=2, max_iter=200)
    assert not app.sweep_panel.run("synthetic", points=2, max_iter=200)
    assert "already running" in app.messages[-1]
    wait_for(app, "sweep on synthetic finished")
    data = app.dashboard.view("groupsparsity").points.data
    assert len(data["loss"]) == 4
    assert set(data["method"]) == {"switch", "group lasso"}
    assert all(0.0 <= s <= 1.0 for s in data["sparsity"])
    assert all(0.0 <= v <= 1.0 for v in data["loss"])
    # the largest lambda of each method empties the model: sparsity 1, loss of the null model
    assert max(data["sparsity"]) == 1.0 and min(data["sparsity"]) < 1.0
    # a new sweep starts from an empty plot
    assert app.sweep_panel.run("synthetic", points=1, max_iter=50)
    assert len(app.dashboard.view("groupsparsity").points.data["loss"]) == 0
    wait_for(app, "finished: 2 fits")
    assert len(app.dashboard.view("groupsparsity").points.data["loss"]) == 2


@pytest.mark.slow
def test_app_sweep_error_becomes_a_message(app, monkeypatch):
    def broken(name, seed=0):
        raise RuntimeError("no data here")

    monkeypatch.setattr(gs, "load_problem", broken)
    assert app.sweep_panel.run("linnerud", points=2)
    wait_for(app, "sweep on linnerud failed")
    assert "no data here" in app.messages[-1]
    assert (
        not app.sweep_panel.sweep.running
        and len(app.dashboard.view("groupsparsity").points.data["loss"]) == 0
    )
    with pytest.raises(ValueError, match="accepted: synthetic, linnerud, digits"):
        app.sweep_panel.run("mnist")
    app.actions.safe(app.sweep_panel.run, "mnist")
    assert "unknown group-sparsity data set 'mnist'" in app.messages[-1]


def test_app_cost_view_fills_from_training_steps(app):
    app.dashboard_update({"step": [step_rec(1), step_rec(2)]})
    app.dashboard_update({"step": [step_rec(3)]})
    assert list(app.dashboard.view("cost").steps.data["cost"]) == [8, 16, 24]
