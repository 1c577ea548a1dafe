"""The app's Python objects driven like the buttons and sliders do: knobs act on the next
step, commands change state, errors end a run without killing the session."""

from __future__ import annotations

import time

import numpy as np
import param
import pytest
from conftest import poll

from explorer.app import ExplorerApp
from explorer.config import MAX_STEPS, RunConfig
from explorer.history import History
from explorer.knobs import knobs_for
from explorer.page import parse_hidden
from explorer.runner import TrainerThread
from explorer.trainer import Trainer
from kernels.methods import METHODS
from kernels.methods.nonparametric import Nonparametric
from kernels.methods.static import Static


def wait_until(app, condition, timeout=60.0):
    """Drain like the periodic callback does until ``condition()`` holds."""
    poll(
        condition,
        timeout,
        tick=app.drain,
        what=lambda: f"the condition; state {app.status}, messages {app.messages}",
    )


@pytest.fixture
def app():
    a = ExplorerApp(
        RunConfig(hidden=[8, 8], eval_every=10, units_every=5, knobs={"growth_every": 5})
    )
    yield a
    a.close()
    assert a.runner is None or not a.runner.alive


def steps(app):
    return app.session.last["step"]["step"] if app.session.last["step"] else 0


def test_knob_change_acts_on_the_next_step(app):
    app.step()  # a new run, paused after one step
    wait_until(app, lambda: steps(app) == 1 and app.status == "paused")
    app.set_knob("lam", 0.02)
    app.step()
    wait_until(app, lambda: steps(app) == 2)
    knobs = app.history.rows["knob"]
    assert [(k["knob"], k["step"], k["old"], k["new"]) for k in knobs] == [
        ("lam", 1, pytest.approx(Nonparametric.default_knobs["lam"]), pytest.approx(0.02))
    ]
    group = app.runner.trainer.optimizer.param_groups[0]
    assert group["lam"] == pytest.approx(0.02)
    # the plot marks it, with the old and new value for the hover
    assert list(app.dashboard.view("loss").knob_marks.data["knob"]) == ["lam"]


@pytest.mark.slow
def test_knob_change_mid_run_and_events(app):
    app.start()
    wait_until(app, lambda: steps(app) >= 12)
    app.set_knob("growth_rate", 2.0)
    wait_until(app, lambda: "knob" in app.history.rows and steps(app) >= 25)
    app.pause()
    wait_until(app, lambda: app.status == "paused")
    knob = app.history.rows["knob"][0]
    assert knob["knob"] == "growth_rate" and knob["new"] == 2.0
    # growth steps after the change add two units per layer, before it one
    born = [e for e in app.history.rows["event"] if e["event"] == "born"]
    per_step = {}
    for e in born:
        per_step.setdefault(e["step"], []).append(e)
    assert all(len(v) == 2 for s, v in per_step.items() if s < knob["step"])
    assert any(len(v) == 4 for s, v in per_step.items() if s >= knob["step"])
    assert len(app.dashboard.view("lifetimes").source.data["unit_id"]) == 16 + len(born)


@pytest.mark.slow
def test_commands_pause_resume_step_stop_reset(app):
    app.start()
    wait_until(app, lambda: app.status == "running" and steps(app) > 3)
    app.pause()
    wait_until(app, lambda: app.status == "paused")
    paused_at = app.runner.trainer.step_count
    time.sleep(0.2)
    app.drain()
    assert app.runner.trainer.step_count == paused_at
    app.step()
    wait_until(app, lambda: steps(app) == paused_at + 1)
    app.resume()
    wait_until(app, lambda: steps(app) > paused_at + 3)
    app.stop()
    wait_until(app, lambda: app.status == "stopped")
    n = len(app.dashboard.view("loss").steps.data["step"])
    assert n == len(app.history.rows["step"]) > 0
    app.reset()
    wait_until(app, lambda: app.status == "idle")
    assert len(app.dashboard.view("loss").steps.data["step"]) == 0 and app.runner.trainer is None
    assert len(app.dashboard.view("tradeoff").earlier.data["units"]) <= 1


class NanMethod(Static):
    """A method whose penalty turns every gradient into NaN: the next loss is NaN."""

    name = "nan-test"

    def regularize(self, model, knobs):
        return sum(p.sum() for p in model.parameters()) * float("nan")


class FailingMethod(Static):
    name = "fail-test"

    def after_step(self, ctx):
        if ctx.step == 3:
            raise RuntimeError("method exploded at step 3")


@pytest.mark.slow
@pytest.mark.parametrize(
    "method,match", [(NanMethod, "loss became nan"), (FailingMethod, "method exploded")]
)
def test_error_ends_the_run_and_the_app_stays_usable(app, monkeypatch, method, match):
    monkeypatch.setitem(METHODS, method.name, method)
    app.form.param.method.objects = sorted(METHODS)
    app.form.method = method.name
    app.start()
    wait_until(app, lambda: app.status == "error")
    assert match in app.messages[-1]
    assert app.status_bar.alert.visible and match in app.status_bar.alert.object
    assert app.runner.alive  # the thread waits for the next command
    recorded = len(app.history.rows["step"])
    assert recorded >= 1
    app.form.method = "static"
    app.start()
    wait_until(app, lambda: app.status == "running" and steps(app) > 2)
    app.stop()


def test_thread_dies_only_on_close():
    runner = TrainerThread(RunConfig(method="static", hidden=[4], steps=3))
    runner.start()
    deadline = time.monotonic() + 60
    states = []
    while time.monotonic() < deadline and "finished" not in states:
        states += [r["state"] for r in runner.drain() if r["kind"] == "state"]
        time.sleep(0.02)
    assert states == ["running", "finished"]
    assert runner.alive and runner.trainer.step_count == 3
    runner.close()
    assert not runner.alive and runner.trainer is None
    with pytest.raises(RuntimeError, match="closed"):
        runner.start()
    with pytest.raises(ValueError, match="unknown command"):
        TrainerThread.send(runner, "jump")


def test_bad_inputs_give_messages_and_keep_state(app, tmp_path):
    app.set_knob("lam", 0.05)
    app.actions.safe(app.set_knob, "lam", 5.0)
    assert "lam=5.0 is not accepted" in app.messages[-1] and app.knobs.lam == 0.05
    app.actions.safe(app.set_knob, "speed", 1.0)
    assert "unknown knob 'speed'" in app.messages[-1]
    app.form.hidden = "ten,10"
    app.actions.safe(app.start)
    assert "hidden sizes must be integers" in app.messages[-1]
    assert app.runner is None or app.runner.state == "idle"
    # uploads: a good CSV is loaded, a broken file keeps the good one
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    rows = "\n".join(",".join(f"{v:.4f}" for v in x) + f",{int(x[0] > 0)}" for x in X)
    app.actions.safe(app.form.load_upload, rows.encode(), "blobs.csv")
    good = app.form.upload_dataset
    assert good is not None and good.n_classes == 2
    app.actions.safe(app.form.load_upload, b"not a zip", "broken.npz")
    assert "broken.npz" in app.messages[-1] and app.form.upload_dataset is good
    app.actions.safe(app.form.load_upload, b"1,2", "table.xlsx")
    assert "accepted files are .npz" in app.messages[-1]
    app.form.hidden = "6"
    app.form.dataset = "upload .npz/.csv"
    app.step()
    wait_until(app, lambda: steps(app) == 1)
    assert app.session.config.dataset == good.name


def test_parse_hidden():
    assert parse_hidden("10, 20") == [10, 20] and parse_hidden("5x5") == [5, 5]
    with pytest.raises(ValueError, match=">= 1"):
        parse_hidden("0,3")


def test_only_the_methods_knobs_are_shown(app):
    app.form.method = "static"
    shown = {n for n, row in app.knob_panel.rows.items() if row.visible}
    assert shown == set(METHODS["static"].knobs)
    app.form.method = "nonparametric"
    shown = {n for n, row in app.knob_panel.rows.items() if row.visible}
    assert shown == set(METHODS["nonparametric"].knobs)


@pytest.mark.slow
def test_from_history_shows_a_recorded_run_without_training():
    history = History()
    trainer = Trainer(
        RunConfig(hidden=[6, 6], eval_every=10, knobs={"growth_every": 5}), sink=history.add
    )
    trainer.run(20)
    app = ExplorerApp.from_history(history, trainer.config.to_dict())
    assert app.status == "replay" and app.runner is None
    assert len(app.dashboard.view("loss").steps.data["step"]) == 20
    assert len(app.dashboard.view("units").source.data["unit_id"]) == sum(
        trainer.model.hidden_sizes
    )
    born = [e for e in history.rows["event"] if e["event"] == "born"]
    assert len(born) > 0
    assert len(app.dashboard.view("lifetimes").source.data["unit_id"]) == 12 + len(born)
    app.actions.safe(app.start)
    assert "replays a recorded run" in app.messages[-1]
    # scrubbing to step 10 shows the run as it was then
    with param.edit_constant(app.scrubber.slider):  # what a slider release sends
        app.scrubber.slider.value_throttled = 10
    assert list(app.dashboard.view("loss").steps.data["step"]) == list(range(1, 11))
    table = [t for t in history.tables if t["step"] <= 10][-1]
    np.testing.assert_array_equal(
        app.dashboard.view("units").source.data["unit_id"], table["unit_id"]
    )
    assert max(app.dashboard.view("lifetimes").source.data["end"]) == 10
    app.scrubber.scrub_to(20)
    assert len(app.dashboard.view("loss").steps.data["step"]) == 20
    assert app.template() is not None


def test_cli_serve_and_bench_app_arguments():
    from explorer.cli import build_parser, main

    args = build_parser().parse_args(["serve", "--port", "5100", "--address", "0.0.0.0"])
    assert (args.command, args.port, args.address, args.show) == ("serve", 5100, "0.0.0.0", False)
    assert build_parser().parse_args(["bench", "--app"]).app is True
    assert main(["serve", "--port", "70000"]) == 2  # a clear error, no server


def test_bench_window_rates_compare_each_refreshing_window_with_its_neighbours():
    from explorer.bench.app import window_rates

    # held windows at 100 steps/s, refreshing ones at 90, with the machine speeding up 10%
    # over the run: the neighbour comparison removes the drift
    steps, t, s = [{"step": 0, "time": 0.0}], 0.0, 0
    toggles = []
    for i in range(7):
        on = bool(i % 2)
        toggles.append((s, on))
        rate = (90.0 if on else 100.0) * (1 + 0.1 * i / 6)
        for _ in range(100):
            s += 1
            t += 1 / rate
            steps.append({"step": s, "time": t})
    toggles.append((s, True))
    ab = window_rates(steps, toggles)
    assert len(ab["windows"]) == 7 and len(ab["costs"]) == 3
    assert all(abs(c - 10.0) < 0.5 for c in ab["costs"])
    assert ab["off"] > ab["on"]


def test_bench_window_rates_take_a_refreshing_window_from_its_catch_up_on():
    """The first refresh after a held window drains that window's records at once: the
    trainer crawls meanwhile (here 20 steps at 20 steps/s), then runs at the page's steady
    cost (10%). From the settled step on, the cost is the steady one; whole, it is more."""
    from explorer.bench.app import window_rates

    steps, t, s = [{"step": 0, "time": 0.0}], 0.0, 0
    toggles, settled = [], {}
    for i in range(7):
        on = bool(i % 2)
        toggles.append((s, on))
        for k in range(200):
            s += 1
            t += 1 / (20.0 if on and k < 20 else 90.0 if on else 100.0)
            steps.append({"step": s, "time": t})
            if on and k == 19:
                settled[i] = s
    toggles.append((s, True))
    ab = window_rates(steps, toggles, settled)
    assert len(ab["costs"]) == len(ab["costs_with_catch_up"]) == 3
    assert all(abs(c - 10.0) < 1e-6 for c in ab["costs"])
    assert all(c > 30.0 for c in ab["costs_with_catch_up"])
    assert window_rates(steps, toggles)["costs"] == ab["costs_with_catch_up"]


def test_refresh_period_is_a_floor_the_adaptive_stretch_respects():
    from types import SimpleNamespace

    from explorer.page import MAX_PERIOD_MS

    app = ExplorerApp()
    refresher = app.refresher
    refresher.callback = SimpleNamespace(period=200)
    refresher.drain = lambda: 0
    refresher.costs.fixed_ms = 1.0  # cheap refreshes: the user's floor rules
    refresher.period = 5000
    refresher.tick()
    assert refresher.callback.period == 5000  # above MAX_PERIOD_MS, the user's choice stands
    refresher.period = 200
    refresher.callback.period = 200
    refresher.costs.fixed_ms = 1e4  # very expensive refreshes: stretched up to the cap only,
    periods = []
    for _ in range(5):  # at most doubling at each refresh
        refresher.tick()
        periods.append(refresher.callback.period)
    assert periods == [400, 800, 1600, MAX_PERIOD_MS, MAX_PERIOD_MS]
    with pytest.raises(ValueError):
        refresher.period = 20  # below the bounds: refused, the old value kept
    assert refresher.period == 200
    assert app.controls.period_slider.value == 200
    refresher.callback = None


def test_the_page_trains_until_stopped_unless_given_a_limit(app):
    assert app.form.max_steps == 0 and app.build_config()[0].steps == MAX_STEPS
    app.start()
    wait_until(app, lambda: app.status == "running" and steps(app) > 2)
    assert not app.status_bar.progress.visible  # an open-ended run has no bar
    assert "until you press stop" in app.status_bar.text
    app.stop()
    wait_until(app, lambda: app.status == "stopped")
    app.form.max_steps = 3
    app.start()
    wait_until(app, lambda: app.status == "finished")
    assert steps(app) == 3
    assert app.status_bar.progress.visible and app.status_bar.progress.value == 100
    app.set_knob("lam", 0.01)  # after the end a knob move says it waits for the next run
    assert "the run has finished" in app.messages[-1]


def test_switching_method_says_so_and_starts_from_its_own_defaults(app):
    for method in ("shrinknets", "tiny", "nonparametric", "static"):
        app.set_knob("lam", 0.05)  # a value no method starts from
        app.form.method = method
        assert "next start begins a new run" in app.messages[-1]
        defaults = knobs_for(method).values()  # the global defaults, then the method's own
        assert app.knobs.values() == pytest.approx(defaults)
        assert parse_hidden(app.form.hidden) == list(METHODS[method].default_hidden)
        config, _ = app.build_config()
        assert config.knobs == pytest.approx(defaults) and config.method == method


def test_a_button_says_at_once_what_it_set_under_way(app):
    """Pause and resume show their effect at once: the status line says "pausing" /
    "resuming" from the click itself, before the trainer's state record arrives."""
    app._command("start")
    assert app.status_bar.text.startswith("**starting…**")
    wait_until(app, lambda: app.status == "running" and steps(app) > 2)
    app._command("pause")
    assert app.status_bar.text.startswith("**pausing…**")
    wait_until(app, lambda: app.status == "paused")
    assert app.status_bar.text.startswith("**paused**")
    app._command("resume")
    assert app.status_bar.text.startswith("**resuming…**")
    wait_until(app, lambda: app.status == "running")
    app._command("pause")  # a command that does nothing says nothing
    wait_until(app, lambda: app.status == "paused")
    app._command("pause")
    assert app.status_bar.text.startswith("**paused**")
    app.stop()
