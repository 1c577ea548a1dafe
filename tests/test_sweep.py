"""Sweep spec, results table and the frontier / compute-to-accuracy math (no Dask here)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from explorer.sweep import (
    ResultTable,
    SweepSpecError,
    accuracy_gap_pp,
    compare_to_search,
    compute_to_accuracy,
    compute_to_reach,
    frontier_at,
    load_spec,
    pareto_frontier,
    run_point,
    spec_from_dict,
)
from explorer.sweep.point import ROW_COLUMNS

# -- frontier math against hand-made points ----------------------------------------------


def test_pareto_frontier_hand_made_points():
    #            0    1    2    3    4    5
    size = [10, 20, 20, 30, 40, 50]
    acc = [0.80, 0.85, 0.90, 0.88, 0.95, 0.95]
    # 1 is beaten by 2 (same size, better); 3 by 2 (smaller, better); 5 by 4 (smaller, same)
    assert pareto_frontier(size, acc).tolist() == [0, 2, 4]
    # lower is better (a loss): frontier of decreasing loss
    loss = [1.0, 0.9, 0.5, 0.6, 0.4, 0.7]
    assert pareto_frontier(size, loss, higher_is_better=False).tolist() == [0, 2, 4]


def test_pareto_frontier_skips_nan_and_checks_lengths():
    assert pareto_frontier([1, 2, 3], [0.5, math.nan, 0.7]).tolist() == [0, 2]
    with pytest.raises(ValueError, match="differ in length"):
        pareto_frontier([1, 2], [0.5])


def test_frontier_at_and_gap():
    size = [10, 20, 40]
    acc = [0.80, 0.90, 0.95]
    assert frontier_at(size, acc, 25) == pytest.approx(0.90)
    assert frontier_at(size, acc, 40) == pytest.approx(0.95)
    assert math.isnan(frontier_at(size, acc, 5))
    # a run of size 25 at 0.885 sits 1.5 pp below the frontier; one at 0.92 is 2 pp above
    assert accuracy_gap_pp(size, acc, 25, 0.885) == pytest.approx(1.5)
    assert accuracy_gap_pp(size, acc, 25, 0.92) == pytest.approx(-2.0)


def test_compute_to_accuracy_in_search_order():
    acc = [0.5, math.nan, 0.7, 0.6, 0.9]
    cost = [1.0, 2.0, 3.0, 4.0, 5.0]
    cumulative, best = compute_to_accuracy(acc, cost)
    assert cumulative.tolist() == [1, 3, 6, 10, 15]
    assert best.tolist() == [0.5, 0.5, 0.7, 0.7, 0.9]
    assert compute_to_reach(acc, cost, 0.65) == 6.0
    assert compute_to_reach(acc, cost, 0.9) == 15.0
    assert compute_to_reach(acc, cost, 0.95) == math.inf
    assert compute_to_reach(acc, cost, 0.1) == 1.0


def test_compare_to_search_fractions():
    search = [
        {
            "key": f"s{i}",
            "index": i,
            "status": "ok",
            "params": p,
            "test_acc": a,
            "wall_s": 2.0,
            "method": "static",
        }
        for i, (p, a) in enumerate([(100, 0.8), (300, 0.9), (200, 0.85), (400, 0.95)])
    ]
    run = {
        "key": "r",
        "status": "ok",
        "method": "nonparametric",
        "params": 250,
        "test_acc": 0.86,
        "wall_s": 1.0,
    }
    [out] = compare_to_search(search, [run], size="params", acc="test_acc", compute="wall_s")
    assert out["frontier_acc"] == pytest.approx(0.85)  # best of sizes <= 250
    assert out["gap_pp"] == pytest.approx(-1.0)
    assert out["search_compute"] == pytest.approx(8.0)
    assert out["fraction_of_search"] == pytest.approx(1 / 8)
    assert out["search_compute_to_reach"] == pytest.approx(4.0)  # 0.9 at the 2nd point
    assert out["fraction_of_reach"] == pytest.approx(1 / 4)


# -- spec -----------------------------------------------------------------------------------


def _spec(**extra):
    data = {
        "dataset": "digits",
        "steps": 20,
        "seeds": [0, 1],
        "method": [
            {"name": "nonparametric", "lam": [1e-3, 3e-4], "hidden": [[5, 5]]},
            {"name": "shrinknets", "gamma": [0.2, 0.5, 0.8]},
        ],
        "search": {"samples": 5, "reference": "nonparametric"},
    }
    data.update(extra)
    return spec_from_dict(data)


def test_grid_points_and_stable_keys():
    spec = _spec()
    points = spec.sizing_points()
    assert len(points) == 2 * 2 + 2 * 3
    assert [p.index for p in points] == list(range(10))
    assert len({p.key for p in points}) == 10
    assert [p.key for p in points] == [p.key for p in _spec().sizing_points()]
    lams = sorted(
        {p.config["knobs"]["lam"] for p in points if p.config["method"] == "nonparametric"}
    )
    assert lams == [3e-4, 1e-3]


def test_random_mode_draws_within_range():
    spec = _spec(mode="random", samples=6)
    points = spec.sizing_points()
    assert len(points) == 12
    lams = [p.config["knobs"]["lam"] for p in points if p.config["method"] == "nonparametric"]
    assert all(3e-4 <= v <= 1e-3 for v in lams) and len(set(lams)) == 6


def test_search_widths_follow_the_paper_range():
    """Nonparametric paper sec. 7.4.1: each layer uniformly in [ref, 5 ref]."""
    spec = _spec()
    ref = spec.search_reference(
        [
            {
                "method": "nonparametric",
                "kind": "sizing",
                "status": "ok",
                "params": 10,
                "sizes": "[4, 7]",
            },
            {
                "method": "nonparametric",
                "kind": "sizing",
                "status": "ok",
                "params": 30,
                "sizes": "[12, 6]",
            },
            {
                "method": "nonparametric",
                "kind": "sizing",
                "status": "failed",
                "params": math.nan,
                "sizes": "",
            },
        ]
    )
    assert ref == [12, 6]
    points = spec.search_points(ref)
    assert len(points) == 5 and all(p.config["method"] == "static" for p in points)
    widths = np.array([p.config["hidden"] for p in points])
    assert (widths[:, 0] >= 12).all() and (widths[:, 0] <= 60).all()
    assert (widths[:, 1] >= 6).all() and (widths[:, 1] <= 30).all()
    assert all(p.config["steps"] == 20 for p in points)
    assert [p.key for p in points] == [p.key for p in spec.search_points(ref)]
    shrink = spec_from_dict(
        {"method": [{"name": "shrinknets"}], "search": {"reference": "shrinknets"}}
    )
    assert (shrink.search.low, shrink.search.high) == (0.1, 2.0)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"method": [{"name": "nonparametrik"}]}, "did you mean 'nonparametric'"),
        ({"method": [{"name": "tiny", "lamda": [1.0]}]}, "did you mean 'lam'"),
        ({"method": [{"name": "tiny", "lam": [5.0]}]}, "outside"),
        ({"method": [{"name": "tiny"}], "mode": "random"}, "samples >= 1"),
        ({"method": [{"name": "tiny"}], "search": {"reference": "static"}}, "not a method"),
        ({"method": [{"name": "tiny", "lam": ["a"]}]}, "list of numbers"),
        ({}, "at least one"),
    ],
)
def test_bad_specs_say_why(data, message):
    with pytest.raises(SweepSpecError, match=message):
        spec_from_dict(data)


def test_toml_file(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(
        'dataset = "digits"\nsteps = 10\n[[method]]\nname = "static"\n'
        "hidden = [[4, 4], [8, 8]]\n[search]\nsamples = 3\nreference = [4, 4]\n"
    )
    spec = load_spec(path)
    assert [p.config["hidden"] for p in spec.sizing_points()] == [[4, 4], [8, 8]]
    assert len(spec.search_points(spec.search_reference([]))) == 3
    (tmp_path / "bad.toml").write_text("steps = \n")
    with pytest.raises(SweepSpecError, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")


# -- one point and the table ------------------------------------------------------------------


def test_run_point_row_and_snapshot(tmp_path):
    from explorer.snapshot import load_snapshot

    spec = spec_from_dict(
        {
            "steps": 12,
            "eval_every": 6,
            "method": [
                {"name": "static", "hidden": [[6, 4]]},
                {"name": "nonparametric", "options": {"optimizer": "bogus"}},
            ],
        }
    )
    ok_point, bad_point = (p.to_dict() for p in spec.sizing_points())
    row = run_point(ok_point, str(tmp_path))
    assert row["status"] == "ok" and row["steps"] == 12
    snap = load_snapshot(row["snapshot"])
    assert snap.summary["val_acc"] == pytest.approx(row["val_acc"])
    # static net: parameters constant, so param_steps = steps x params
    assert row["params"] == (64 * 6 + 6) + (6 * 4 + 4) + (4 * 10 + 10)
    assert row["param_steps"] == 12 * row["params"]
    assert row["train_flops"] == 6 * 128 * row["param_steps"]
    bad = run_point(bad_point, str(tmp_path))
    assert bad["status"] == "failed" and "unknown optimizer 'bogus'" in bad["error"]

    table = ResultTable(tmp_path)
    table.append(bad)
    table.append(row)
    fixed = dict(bad, status="ok", error="")
    table.append(fixed)
    latest = table.latest()
    assert [r["key"] for r in latest] == [bad["key"], row["key"]]
    assert latest[0]["status"] == "ok"
    assert table.finished_keys() == {bad["key"], row["key"]}
    back = latest[1]
    for k in ROW_COLUMNS:
        if isinstance(row[k], float) and math.isnan(row[k]):
            assert isinstance(back[k], float) and math.isnan(back[k]), k
        elif isinstance(row[k], float):
            assert back[k] == pytest.approx(row[k]), k
        else:
            assert back[k] == row[k], k
    assert json.loads(back["config"]) == ok_point["config"]
