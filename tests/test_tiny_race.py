"""The TINY race bench (explorer/bench/tiny_race.py): each racer's configuration comes from the
presets, the command line's overrides reach TINY only, and a run reports its growth."""

from __future__ import annotations

import json

import pytest

from explorer.bench import tiny_race
from explorer.presets import TINY_RACE_OPTIONS, get_preset


def test_racers_take_the_preset_and_the_overrides():
    tiny = tiny_race.race_config("tiny", "mnist", 2, options={"update_ridge": 0.1})
    preset = get_preset("tiny-race-mnist")
    assert tiny.method_options == {**TINY_RACE_OPTIONS, "update_ridge": 0.1}
    assert tiny.knobs == preset.knobs and tiny.hidden == [1, 1] and tiny.seed == 2
    assert (tiny.batch_size, tiny.dataset) == (100, "mnist")
    # a data set without its own preset races with the digits settings
    other = tiny_race.race_config("tiny", "teacher", 0)
    assert other.knobs == get_preset("tiny-race-digits").knobs
    static = tiny_race.race_config("static", "digits", 0)
    assert (static.method, static.hidden, static.knobs["lr"]) == ("static", [1000, 1000], 1e-3)
    shaped = tiny_race.race_config("static", "digits", 0, static_hidden=(604, 125))
    assert shaped.hidden == [604, 125] and shaped.knobs == static.knobs
    with pytest.raises(ValueError, match="the race runs 'tiny' or 'static'"):
        tiny_race.race_config("shrinknets", "digits", 0)


def test_a_short_race_reports_growth(capsys):
    argv = ["--seeds", "0", "--cpu-seconds", "0.5", "--methods", "tiny"]
    assert tiny_race.main([*argv, "--option", "max_growth_steps=2", "--knob", "tau=1e-6"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["method"] == "tiny" and row["tau"] == 1e-6
    assert row["growth_steps"] <= 2 and row["cpu_s"] >= 0.5
    assert sum(row["sizes"]) == 2 + row["accepted"]


def test_data_options_reach_both_racers_and_the_row(capsys):
    for method in ("tiny", "static"):
        config = tiny_race.race_config(method, "mnist", 0, data_options={"limit": 500})
        assert config.dataset_options == {"limit": 500}
    argv = ["--dataset", "mnist", "--seeds", "0", "--cpu-seconds", "0.2", "--methods", "static"]
    assert tiny_race.main([*argv, "--data-option", "limit=500"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # limit counts the test part too: 500 -> 400 pool (15% of it validation) + 100 test
    assert row["data_options"] == {"limit": 500} and row["n_train"] == 340
    assert row["train_loss"] > 0 and row["test_loss"] > 0 and 0 <= row["train_acc"] <= 1


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--data-option", "limt=500"], "unknown option(s) limt"),
        (["--data-option", "limit=5"], "limit=5; accepted: None or an int >= 20"),
        (["--data-option", "limit"], "--data-option 'limit' must look like key=value"),
        (["--knob", "tua=1e-3"], "--knob tua: unknown knob; accepted: lam"),
        (["--knob", "tau=big"], "knob tau must be a finite number"),
        (["--knob", "tau=true"], "--knob tau must be a number, got 'True'"),
        (["--knob", "tau=2"], "--tau must be between 0 and 1"),
        (["--option", "neuron=random"], "did you mean 'neurons'"),
        (["--static-hidden", "604;125"], "--static-hidden '604;125' must be sizes separated"),
        (["--static-hidden", "604,0"], "hidden sizes must be a non-empty list of integers >= 1"),
    ],
)
def test_bad_flags_are_refused_before_any_run(flag, message, capsys):
    argv = ["--dataset", "mnist", "--seeds", "0", "--cpu-seconds", "60"]
    assert tiny_race.main([*argv, *flag]) == 2  # would run 2 minutes if it ran at all
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1
