"""The trainer in a child process (what the served page uses): the same commands, records,
knob changes, snapshots and errors as the trainer thread, across the process boundary."""

from __future__ import annotations

import time

import pytest

from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.history import History
from explorer.runner_process import TrainerProcess


def pump(runner, history, condition, timeout=120.0):
    """Move records into ``history`` until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in runner.drain():
            if rec["kind"] not in ("state", "run"):
                history.add(rec)
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out; state {runner.state}: {runner.message}")


@pytest.fixture
def runner():
    r = TrainerProcess(RunConfig(hidden=[8, 8], steps=100_000, eval_every=20, units_every=10,
                                 knobs={"growth_every": 10}), threads=1)
    yield r
    r.close()
    assert not r.alive


def test_knobs_steps_snapshot_and_reset_cross_the_process_boundary(runner):
    history = History()
    runner.start()
    pump(runner, history, lambda: len(history.rows["step"]) >= 30)
    assert runner.state == "running" and runner.trainer.step_count >= 30
    assert str(runner.trainer.device) == "cpu"
    runner.knobs.lam = 0.02  # set here, read by the child's trainer at its next step
    pump(runner, history, lambda: any(k["knob"] == "lam" for k in history.rows["knob"]))
    knob = [k for k in history.rows["knob"] if k["knob"] == "lam"][0]
    assert knob["new"] == pytest.approx(0.02)
    runner.pause()
    pump(runner, history, lambda: runner.state == "paused")
    data = runner.capture(history).result(60)
    assert data.step == data.summary["steps"] >= 30
    assert len(data.history_rows["step"]) == len(history.rows["step"])
    assert data.trainer["knobs"]["lam"] == pytest.approx(0.02)
    runner.reset()
    pump(runner, history, lambda: runner.state == "idle")
    assert runner.trainer is None
    with pytest.raises(RuntimeError, match="nothing to save yet"):
        runner.capture().result(60)


def test_a_failing_run_reports_and_the_child_lives_on():
    bad = TrainerProcess(RunConfig(dataset="digits", dataset_options={"no_such": 1}))
    try:
        bad.start()
        pump(bad, History(), lambda: bad.state == "error")
        assert "could not start" in bad.message and bad.trainer is None
        assert bad.alive
        bad.reset(RunConfig(hidden=[4], steps=5))
        bad.start()
        pump(bad, History(), lambda: bad.state == "finished")
    finally:
        bad.close()


def test_app_resumes_a_snapshot_in_a_child_process(tmp_path):
    app = ExplorerApp(RunConfig(hidden=[8, 8], eval_every=10, units_every=5),
                      trainer_in="process")
    try:
        app.max_steps = 40
        app.start()
        deadline = time.monotonic() + 120
        while app.status != "finished" and time.monotonic() < deadline:
            app.drain()
            time.sleep(0.05)
        assert app.status == "finished"
        path = app.save_snapshot(tmp_path / "run.zip")
    finally:
        app.close()
    resumed = ExplorerApp.open_snapshot(path, resume=True, trainer_in="process")
    try:
        deadline = time.monotonic() + 120
        while resumed.status != "paused" and time.monotonic() < deadline:
            resumed.drain()
            time.sleep(0.05)
        assert resumed.status == "paused" and resumed.runner.trainer.step_count == 40
        resumed.max_steps = 60
        resumed.step()
        while resumed.history.last("step")["step"] < 40 and time.monotonic() < deadline:
            resumed.drain()
            time.sleep(0.05)
        assert resumed.history.last("step")["step"] == 40  # the step after the snapshot's
    finally:
        resumed.close()
