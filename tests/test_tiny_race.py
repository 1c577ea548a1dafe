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
    with pytest.raises(ValueError, match="the race runs 'tiny' or 'static'"):
        tiny_race.race_config("shrinknets", "digits", 0)


def test_a_short_race_reports_growth(capsys):
    argv = ["--seeds", "0", "--cpu-seconds", "0.5", "--methods", "tiny"]
    assert tiny_race.main([*argv, "--option", "max_growth_steps=2", "--knob", "tau=1e-6"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["method"] == "tiny" and row["tau"] == 1e-6
    assert row["growth_steps"] <= 2 and row["cpu_s"] >= 0.5
    assert sum(row["sizes"]) == 2 + row["accepted"]
