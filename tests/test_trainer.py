"""The headless trainer and the CLI: records, live knobs, errors, the method contract."""

import json
import math

import numpy as np
import pytest
import torch

from explorer.cli import main as cli
from explorer.config import RunConfig
from explorer.data import DATASETS
from explorer.history import History
from explorer.trainer import Trainer, TrainingError
from kernels.methods import METHODS, UnknownMethodError, get_method
from kernels.methods.nonparametric import Nonparametric


def run(method="nonparametric", steps=40, **kw):
    history = History()
    cfg = RunConfig(
        method=method,
        dataset=kw.pop("dataset", "digits"),
        steps=steps,
        eval_every=10,
        units_every=5,
        hidden=kw.pop("hidden", [6, 5]),
        device="cpu",
        **kw,
    )
    trainer = Trainer(cfg, sink=history.add)
    trainer.run()
    return trainer, history


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_speaks_the_contract(method):
    """Every registered method trains, emits the common record kinds and keeps unit ids
    consistent with the live network."""
    trainer, history = run(method, steps=30, knobs={"growth_every": 10})
    steps = history.columns("step")
    assert steps["step"].tolist() == list(range(1, 31))
    assert np.all(np.isfinite(steps["loss"]))
    assert {"step", "eval", "units", "tradeoff"} <= set(history.kinds())
    table = trainer.unit_table()
    assert len(table["unit_id"]) == sum(trainer.model.hidden_sizes)
    assert len(np.unique(table["unit_id"])) == len(table["unit_id"])
    assert set(get_method(method).knobs) <= set(trainer.knobs.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_data_set_trains(name):
    opts = {
        "mnist": {"limit": 600},
        "mnist1d": {},
        "rectangles": {"n": 600},
        "convex": {"n": 600},
    }.get(name, {})
    trainer, history = run("static", steps=10, dataset=name, dataset_options=opts)
    assert history.last("eval")["val_acc"] >= 0.0
    assert trainer.model.in_features == trainer.data.n_features


def test_unknown_method_suggests():
    with pytest.raises(UnknownMethodError, match="did you mean 'nonparametric'"):
        get_method("nonparametrc")


def test_nonparametric_grows_and_prunes_with_events():
    trainer, history = run(
        steps=120,
        knobs={"lam": 0.05, "growth_every": 5, "radial_lr": 20, "radial_auto": False},
        method_options={"protocol": False},  # grow and prune only: no rewinds
    )
    events = history.rows["event"]
    born = [e for e in events if e["event"] == "born"]
    died = [e for e in events if e["event"] == "died"]
    assert born and died
    assert all(e["cause"] == "fan-in shrunk to zero" for e in died)
    # every id that died was born before (or at the start) and is gone from the network
    live = set(np.concatenate(trainer.model.unit_ids).tolist())
    assert not live & {e["unit_id"] for e in died}
    sizes = history.columns("step")
    assert sizes["born"].sum() == len(born) and sizes["died"].sum() == len(died)


def test_knob_change_acts_on_next_step_and_is_recorded():
    history = History()
    cfg = RunConfig(steps=10, hidden=[5, 5], device="cpu", eval_every=100)
    trainer = Trainer(cfg, sink=history.add)
    for _ in range(3):
        trainer.step()
    trainer.knobs.lam = 0.02
    trainer.step()
    knob = history.rows["knob"]
    old = Nonparametric.default_knobs["lam"]  # the method's own default (not Knobs' 1e-3)
    assert knob == [{"kind": "knob", "step": 3, "knob": "lam", "old": old, "new": 0.02}]
    assert trainer.optimizer.param_groups[0]["lam"] == 0.02


def test_bad_knob_value_is_rejected_and_keeps_state():
    trainer, _ = run(steps=2)
    with pytest.raises(ValueError):
        trainer.knobs.lam = -1.0
    assert trainer.knobs.lam == Nonparametric.default_knobs["lam"]
    trainer.step()


def test_nan_loss_stops_with_clear_message():
    trainer, history = run(steps=1)
    with torch.no_grad():
        trainer.model.linears[-1].weight.fill_(math.nan)
    with pytest.raises(TrainingError, match="loss became nan at step 1"):
        trainer.step()
    assert len(history.rows["step"]) == 1


def test_history_thins_but_keeps_recent_rows():
    h = History(max_rows=100)
    for i in range(1000):
        h.add({"kind": "step", "step": i, "loss": 1.0 / (i + 1), "sizes": [i, 2 * i]})
    cols = h.columns("step")
    assert len(cols["step"]) <= 100
    assert cols["step"][-50:].tolist() == list(range(950, 1000))
    assert np.all(np.diff(cols["step"]) > 0)
    assert cols["sizes_1"][-1] == 2 * 999


def test_cli_run_writes_session(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli(
        [
            "run",
            "--steps",
            "30",
            "--hidden",
            "6,5",
            "--device",
            "cpu",
            "--quiet",
            "--eval-every",
            "10",
            "--lam",
            "0.01",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    session = json.loads((out / "session.json").read_text())
    assert session["schema_version"] >= 1
    assert session["config"]["knobs"]["lam"] == 0.01
    assert set(session["summary"]) >= {"sizes", "val_acc", "test_acc", "val_loss", "test_loss"}
    arrays = np.load(out / "history.npz", allow_pickle=False)
    assert len(arrays["step.loss"]) == 30
    assert "nonparametric on digits" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--method", "nonparametrc"], "did you mean 'nonparametric'"),
        (["run", "--dataset", "digts"], "did you mean 'digits'"),
        (["run", "--device", "tpu"], "device must be auto, cpu or cuda"),
        (["run", "--option", "optimizer=adagrad"], "accepted: adarad, adarad-m, adam, sgd"),
    ],
)
def test_cli_bad_arguments_exit_nonzero(argv, message, capsys):
    assert cli([*argv, "--steps", "1", "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_hidden_sizes(capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["run", "--hidden", "10,zero"])
    assert exc.value.code == 2
    assert "hidden sizes must be integers" in capsys.readouterr().err


def test_progress_off_a_terminal_writes_a_line_every_few_seconds_not_per_step():
    import io

    from explorer.progress import Progress

    class Clock:  # 0.1 s per step: a 500-step run lasts 50 s
        t = 0.0

        def __call__(self):
            return self.t

    clock, out = Clock(), io.StringIO()
    report = Progress(500, out, interval=5.0, clock=clock)
    for step in range(500):
        clock.t += 0.1
        report.update({"loss": 1.0 / (step + 1), "sizes": [3, 4]})
    report.close()
    lines = out.getvalue().splitlines()
    assert 9 <= len(lines) <= 11, lines  # one per 5 s of 50 s, and the closing line
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("step 500/500 (100%) loss 0.002 sizes [3, 4] 10.0 steps/s")


def test_a_run_starts_with_its_methods_knob_defaults():
    """Knobs: global defaults < the method's ``default_knobs`` < the config's knobs."""
    from explorer.knobs import Knobs, knobs_for
    from kernels.methods.shrinknets import ShrinkNets

    cfg = RunConfig(method="shrinknets", hidden=[6, 5], steps=1, device="cpu")
    assert Trainer(cfg).knobs.lam == ShrinkNets.default_knobs["lam"] != Knobs().lam
    cfg = RunConfig(method="shrinknets", hidden=[6], steps=1, device="cpu", knobs={"lam": 0.5})
    assert Trainer(cfg).knobs.lam == 0.5
    assert knobs_for("static").values() == Knobs().values()
    assert knobs_for("nonparametric").lam == Nonparametric.default_knobs["lam"]
