"""Saving from a running app, reopening as a replay, and resuming training from it."""

import time

import pytest

from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.snapshot import SnapshotError


def wait_for(app, steps, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.drain()
        last = app.history.last("step")
        if last and last["step"] >= steps:
            return last["step"]
        time.sleep(0.02)
    raise AssertionError(f"no step {steps} within {timeout}s")


@pytest.fixture
def app():
    a = ExplorerApp(config=RunConfig(hidden=[6, 6], device="cpu", eval_every=20), max_steps=5000)
    yield a
    a.close()


def test_save_while_training_then_replay_and_resume(app, tmp_path):
    app.start()
    wait_for(app, 40)
    path = app.save_snapshot(tmp_path / "run.zip")
    saved_step = app.capture_snapshot().step  # a second capture: the run is still going
    assert saved_step >= 40 and app.runner.state == "running"

    replay = ExplorerApp.open_snapshot(path)
    assert replay.replay and replay.status == "replay"
    assert len(replay.history.rows["step"]) >= 40
    with pytest.raises(RuntimeError, match="replays a recorded run"):
        replay.start()

    resumed = ExplorerApp.open_snapshot(path, resume=True)
    try:
        first = resumed.history.last("step")["step"]
        resumed.resume()
        later = wait_for(resumed, first + 20)
        assert later >= first + 20
        steps = [r["step"] for r in resumed.history.rows["step"]]
        assert steps == sorted(steps) and len(set(steps)) == len(steps)
    finally:
        resumed.close()


def test_saving_before_any_run_says_so(app, tmp_path):
    with pytest.raises(RuntimeError, match="start a run first"):
        app.save_snapshot(tmp_path / "x.zip")


def test_opening_a_bad_snapshot_names_the_problem(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(SnapshotError, match="bad.zip"):
        ExplorerApp.open_snapshot(bad)
