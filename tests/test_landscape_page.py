"""The landscape study runtime and page without a browser: a tiny study end to end on a
background worker, cancel, save/load round trip, bad input, and "this network now"."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from conftest import poll

from explorer.cli import main as cli_main
from explorer.landscape.page import LandscapePage, parse_rates
from explorer.landscape.runtime import LandscapeWorker
from explorer.landscape.study import StudyConfig, StudyResult, run_study

TINY = dict(
    n_variants=1, steps=20, eval_every=10, grid=3, variance_grid=3, width=4, n_cells=1, n_nodes=5
)


def _wait(worker, timeout=120):
    poll(lambda: not worker.running, timeout, interval=0.05, what="the landscape worker")


@pytest.mark.slow
def test_study_result_table_and_round_trip(tmp_path):
    cfg = StudyConfig(learning_rates=[0.05, 0.5], **TINY)
    res = run_study(cfg)
    names = [c["name"] for c in res.cells]
    assert names == ["widest", "C1", "chain"]
    assert len(res.runs) == 3 * 2  # cells x rates
    rows = res.table()
    assert [r["variant"] for r in rows] == names
    assert {"acc@0.05", "auc@0.5", "top_eigenvalue", "variance_at_optimum", "contour_rise"} <= set(
        rows[0]
    )
    assert np.isfinite(rows[0]["contour_rise"]) and np.isfinite(rows[0]["variance_near_optimum"])
    assert res.surfaces["widest/0"]["loss"].shape == (3, 3)
    back = StudyResult.load(res.save(tmp_path / "study"))
    assert back.runs == res.runs and back.cells == res.cells
    np.testing.assert_array_equal(
        back.surfaces["chain/0"]["variance"], res.surfaces["chain/0"]["variance"]
    )


@pytest.mark.slow
def test_page_runs_a_study_in_the_background_and_draws_it():
    page = LandscapePage()
    for k, v in TINY.items():
        setattr(page.config, k, v)
    page.rates_input.value = "0.05"
    page.run()
    assert page.cancel_button.disabled is False and page.run_button.disabled is True
    _wait(page.worker)
    page.poll()
    assert page.worker.state == "done", page.worker.message
    assert page.progress.value == 100
    assert page.surface_pane.object is not None and page.scatter_pane.object is not None
    assert page.curve_pane.object is not None and page.table_pane.object is not None
    assert page.run_button.disabled is False
    assert len(page.result.runs) == 3


def test_cancel_stops_the_study():
    worker = LandscapeWorker()
    worker.start_study(StudyConfig(**{**TINY, "steps": 100_000, "eval_every": 1000}))
    time.sleep(0.5)
    worker.cancel()
    _wait(worker, timeout=30)
    assert worker.state == "cancelled"


def test_bad_input_is_a_message_not_a_crash():
    page = LandscapePage()
    page.rates_input.value = "fast"
    page.run()
    assert "cannot start" in page.status.object and "accepted" in page.status.object
    assert not page.worker.running
    with pytest.raises(ValueError, match="accepted"):
        parse_rates("0, -1")
    page.config.n_nodes, page.config.n_inputs = 3, 3
    page.rates_input.value = "0.1"
    page.run()
    assert "intermediate nodes" in page.status.object


def test_landscape_of_a_network_now_leaves_the_original_untouched():
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    before = [p.detach().clone() for p in net.parameters()]
    X, y = np.random.default_rng(0).standard_normal((30, 4)), np.arange(30) % 3
    page = LandscapePage()
    page.analyse_network_now(net, X, y, grid=4, variance_grid=3)
    _wait(page.worker)
    page.poll()
    res = page.worker.network_result
    assert res is not None and res.loss.shape == (4, 4) and res.variance.shape == (3, 3)
    assert page.network_pane.object is not None
    for a, b in zip(before, net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_cli_landscape_writes_a_study(tmp_path, capsys):
    rc = cli_main(
        [
            "landscape",
            "--nodes",
            "4",
            "--variants",
            "0",
            "--steps",
            "10",
            "--grid",
            "3",
            "--variance-grid",
            "0",
            "--width",
            "4",
            "--cells",
            "1",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "widest" in out and "chain" in out and "| variant |" in out
    back = StudyResult.load(tmp_path / "s")
    assert "variance" not in back.surfaces["widest/0"]


@pytest.mark.slow
def test_main_page_has_a_landscape_tab_that_analyses_the_live_network():
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig
    from explorer.landscape.tab import LandscapeTab
    from explorer.page import TABS

    assert "landscape" in TABS
    app = ExplorerApp(RunConfig(hidden=[6, 6], eval_every=10))
    try:
        tab = LandscapeTab(app)
        assert tab.network_now() is False  # no run yet: a message, not a crash
        assert "no network" in tab.page.status.object
        app.step()
        deadline = time.time() + 60
        while not (app.session.last["step"] and app.status == "paused") and time.time() < deadline:
            app.drain()
            time.sleep(0.02)
        before = {k: v.clone() for k, v in app.runner.trainer.model.state_dict().items()}
        assert tab.network_now(grid=3, variance_grid=3) is True
        _wait(tab.page.worker)
        tab.page.poll()
        assert tab.page.worker.state == "done", tab.page.worker.message
        res = tab.page.worker.network_result
        assert res.loss.shape == (3, 3) and np.isfinite(res.top_eigenvalue)
        assert tab.page.network_pane.object is not None
        after = app.runner.trainer.model.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)
    finally:
        app.close()
