"""The bench table's plumbing (no timings are asserted: speed lives in the bench itself)."""

import numpy as np
import pytest

from explorer.bench import suite, table, training


def test_figure_reports_median_quartiles_and_target():
    row = suite.figure("x", [4.0, 1.0, 3.0, 2.0, 5.0], "x", "<= 2.0", lambda v: v <= 2.0)
    assert (row["median"], row["p25"], row["p75"], row["n"]) == (3.0, 2.0, 4.0, 5)
    assert row["met"] is False
    assert suite.figure("y", [1.0], "ms")["met"] is None


def test_alternate_rotates_the_order_and_times_every_block():
    calls = []
    blocks = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = suite.alternate(blocks, repeats=3, inner=2)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls == list("aabbcc" + "bbccaa" + "ccaabb")


def test_ratios_pair_blocks_of_the_same_repetition():
    assert table.ratios({"n": [2.0, 9.0], "d": [1.0, 3.0]}, "n", "d") == [2.0, 3.0]


@pytest.mark.parametrize("collect", [True, False])
def test_shrinknets_bench_network_has_the_asked_share_of_dead_units(collect):
    trainer = training.shrinknets_trainer(collect, [20, 30], 0.9)
    if collect:  # collected at the first step
        assert trainer.model.hidden_sizes == [2, 3]
    else:
        assert trainer.model.hidden_sizes == [20, 30]
        for layer, n_dead in ((0, 18), (1, 27)):
            dead = np.isin(trainer.model.unit_ids[layer], list(trainer.method._dead))
            assert dead.sum() == n_dead
            assert (trainer.model.switch_values(layer)[dead] == 0).all()


def test_format_table_shows_skips_parts_and_misses():
    result = {
        "machine": {
            "device": "cpu",
            "cpus": 2,
            "versions": {"torch": "t"},
            "torch_threads": 1,
            "commit": "abc",
            "dirty": False,
            "load_average": [1.0, 1.0, 1.0],
            "load_average_end": [2.0, 1, 1],
        },
        "figures": [
            suite.figure(
                "growth", [30.0], "%", "<= 20", lambda v: v <= 20, parts={"line_search": 25.0}
            ),
            {"figure": "page cost", "skipped": "needs psutil"},
        ],
    }
    text = suite.format_table(result)
    assert "NO" in text and "line_search 25.0%" in text and "skipped: needs psutil" in text


def test_every_issue_17_bench_is_registered_and_quick_stays_a_subset():
    assert list(suite.BENCHES)[:5] == [
        "optimizers 256",
        "optimizers 1000",
        "garbage collection",
        "trainer",
        "tiny growth",
    ]
    assert {"tiny routes", "snapshot", "page", "gpu"} <= set(suite.BENCHES)
    assert not suite.BENCHES["page"].quick  # the page bench takes minutes


def test_run_reports_a_broken_bench_as_skipped_and_keeps_the_others(monkeypatch):
    monkeypatch.setattr(suite, "BENCHES", {})
    suite.register("fine", lambda quick: [suite.figure("fine", [1.0], "ms")])
    suite.register("broken", lambda quick: [][1])
    suite.register("slow", lambda quick: [suite.figure("slow", [2.0], "ms")], quick=False)
    rows = suite.run(quick=True)["figures"]
    assert [r["figure"] for r in rows] == ["fine", "broken"]
    assert rows[1]["skipped"].startswith("IndexError")


def test_unknown_bench_name_says_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'trainer'"):
        suite.bench("trainr")


def test_page_rows_check_the_refresh_targets_and_skip_when_empty():
    from explorer.bench.page import page_rows

    rows = page_rows(
        {
            "ab": {"on": 90.0, "off": 100.0, "costs": [4.0, 6.0, 5.0]},
            "periods_ms": [240.0, 260.0, 250.0],
            "tick_cpu_ms": [12.0, 8.0, 11.0],
            "ticks_ms": [30.0],
            "ack_ms": [100.0, 140.0, 120.0],
            "browser_task_ms": [90.0, 70.0],
            "browser_cpu_ms": [40.0, 60.0, 50.0],
        }
    )
    by_name = {r["figure"].split(",")[0]: r for r in rows}
    assert [r["met"] for r in rows] == [True, True, False, None, None, None, None]
    assert by_name["page cost to the trainer"]["median"] == 5.0
    assert by_name["page refresh period"]["median"] == 250.0
    browser = {
        r["figure"]: r for r in rows if "browser" in r["figure"] or "Chromium" in r["figure"]
    }
    assert browser["page refresh, browser time per refresh (sent -> drawn)"]["median"] == 120.0
    assert browser["page refresh, Chromium main-thread time per refresh"]["median"] == 80.0
    assert browser["page refresh, Chromium CPU per refresh (all its processes)"]["median"] == 50.0
    assert page_rows({})[0]["skipped"].startswith("with_page returned none")


def test_gpu_rows_say_not_measured_without_a_cuda_device(monkeypatch):
    monkeypatch.setattr(suite.torch.cuda, "is_available", lambda: False)
    (row,) = suite.gpu_figures(quick=True)
    assert row["skipped"] == "not measured: no GPU (no CUDA device)"


def test_median_ci_is_a_bootstrap_interval_around_the_median():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    lo, hi = table.median_ci(values)
    # numpy oracle: the same resampling by hand
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(values), (4000, len(values)))
    medians = np.median(np.asarray(values)[picks], axis=1)
    assert (lo, hi) == (np.percentile(medians, 2.5), np.percentile(medians, 97.5))
    assert lo < 6.0 < hi and hi - lo < 10.0
    assert table.median_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert table.median_ci([4.0]) == (4.0, 4.0)
    # more values of the same spread: a narrower interval
    lo4, hi4 = table.median_ci(values * 4)
    assert hi4 - lo4 < hi - lo


def test_page_rows_give_the_cost_a_confidence_interval_and_the_trainer_wait():
    from explorer.bench.page import page_rows

    costs = [-2.0, 8.0, 3.0, 5.0, 4.0]
    rows = page_rows(
        {
            "ab": {"on": 90.0, "off": 100.0, "costs": costs, "costs_with_catch_up": [9, 7, 8]},
            "run_queue_ms": {"held": [0.05, 0.04, 0.06], "refreshing": [0.3, 0.2, 0.25]},
            "cores": "trainer's compute thread on [1], the server's threads on [0], Chromium free",
        }
    )
    cost = rows[0]
    assert cost["ci95"] == table.median_ci(costs)
    assert cost["cores"].startswith("trainer's compute thread on [1]")
    wait = {r["figure"]: r["median"] for r in rows[1:]}
    assert wait == {
        "page bench, trainer's wait for a CPU per step, held windows": 0.05,
        "page bench, trainer's wait for a CPU per step, refreshing windows": 0.25,
    }
    result = {"machine": {}, "figures": rows}
    text = suite.format_table(result)
    assert "95% confidence interval of the median" in text
    assert "    cores: trainer's compute thread on [1]" in text  # where the cost was measured
    assert cost["median"] == 4.0 and cost["with_catch_up"] == 8.0
    assert "counted whole: 8%" in text
