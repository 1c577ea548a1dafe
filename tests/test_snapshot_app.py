"""Saving from a running app, reopening as a replay, and resuming training from it."""

import pytest
from conftest import poll

from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.snapshot import SnapshotError


def wait_for(app, steps, timeout=60):
    def reached():
        last = app.history.last("step")
        return last and last["step"] >= steps

    poll(reached, timeout, tick=app.drain, what=f"step {steps}")
    return app.history.last("step")["step"]


@pytest.fixture
def app():
    a = ExplorerApp(config=RunConfig(hidden=[6, 6], device="cpu", eval_every=20), max_steps=5000)
    yield a
    a.close()


@pytest.mark.slow
def test_save_while_training_then_replay_and_resume(app, tmp_path):
    app.start()
    wait_for(app, 40)
    path = app.snapshots.save(tmp_path / "run.zip")
    saved_step = app.snapshots.capture().step  # a second capture: the run is still going
    assert saved_step >= 40 and app.runner.state == "running"

    replay = ExplorerApp.open_snapshot(path)
    assert replay.scrubber is not None and replay.status == "replay"
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
        app.snapshots.save(tmp_path / "x.zip")


def test_opening_a_bad_snapshot_names_the_problem(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(SnapshotError, match="bad.zip"):
        ExplorerApp.open_snapshot(bad)


@pytest.mark.slow
def test_page_download_and_upload_round_trip(app, tmp_path):
    app.start()
    app.set_knob("lam", 0.0123)  # not the method's default: the reopened run keeps it
    wait_for(app, 30)
    blob = app.snapshots.zip_bytes()
    assert blob[:2] == b"PK"  # a zip
    other = ExplorerApp(config=RunConfig(method="static", hidden=[3], device="cpu"))
    try:
        other.snapshots.load_bytes(blob, "mine.zip")
        assert other.form.method == "nonparametric"
        assert other.knobs.lam == pytest.approx(0.0123)
        assert other.history.last("step")["step"] >= 30
        assert "opened mine.zip" in other.message
        other.resume()
        wait_for(other, other.history.last("step")["step"] + 5)
    finally:
        other.close()


@pytest.mark.slow
def test_page_opens_only_files_of_the_snapshot_folder(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SIZING_EXPLORER_SNAPSHOTS", str(tmp_path))
    app.start()
    wait_for(app, 10)
    app.snapshots.save(tmp_path / "good.zip")
    from explorer.page import snapshot_files

    assert snapshot_files() == ["good.zip"]
    for name in ("../good.zip", "/etc/passwd", "missing.zip"):
        with pytest.raises(ValueError, match="only files listed there"):
            app.snapshots.open_from_folder(name)
    app.actions.safe(app.snapshots.load_bytes, b"garbage", "bad.zip")
    assert "bad.zip" in app.message  # shown in the page; the session goes on
    app.snapshots.open_from_folder("good.zip")
    assert app.history.last("step")["step"] >= 10


def test_show_command_rejects_a_bad_snapshot(tmp_path, capsys):
    from explorer.cli import main

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    assert main(["show", str(bad)]) == 2
    assert "bad.zip" in capsys.readouterr().err
