"""The views fed recorded history: right columns and rows, increments only append, and the
selection links plots by unit id."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bokeh.models import ColumnDataSource

from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from explorer.views import (
    LINE_ROWS,
    CostView,
    FanHistoryView,
    LifetimeView,
    LossView,
    SizesView,
    SpectrumView,
    SwitchView,
    TradeoffView,
    UnitScatterView,
    UnitSelection,
    group_records,
    history_records,
    step_range,
)
from explorer.views.palette import DIED_COLOR, layer_color


@pytest.fixture(scope="module")
def recorded():
    """A real 60-step nonparametric run on digits: a unit is added to each layer every 10
    steps; records in arrival order and the History they fill."""
    records: list[dict] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: OpenMP spinning costs 10x
    config = RunConfig(
        hidden=[10, 10], eval_every=20, units_every=10, knobs={"growth_every": 10, "lam": 1e-3}
    )
    trainer = Trainer(config, sink=records.append)
    trainer.run(60)
    torch.set_num_threads(threads)
    history = History()
    history.extend(records)
    return records, history


def test_loss_view_streams_only_new_rows(recorded):
    records, _ = recorded
    view = LossView()
    half = next(i for i, r in enumerate(records) if r["kind"] == "step" and r["step"] == 30)
    view.update(group_records(records[: half + 1]))
    assert list(view.steps.data) == ["step", "loss", "acc"]
    assert len(view.steps.data["step"]) == 30
    first = list(view.steps.data["loss"])
    view.update(group_records(records[half + 1 :]))
    steps = [r for r in records if r["kind"] == "step"]
    assert len(view.steps.data["step"]) == 60
    assert list(view.steps.data["loss"][:30]) == first  # old rows untouched
    assert view.steps.data["step"][-1] == 60
    np.testing.assert_allclose(view.steps.data["acc"], [r["acc"] for r in steps])
    assert list(view.evals.data["step"]) == [20, 40, 60]


def test_loss_view_marks_knob_changes():
    view = LossView()
    view.update({"knob": [{"kind": "knob", "step": 12, "knob": "lam", "old": 1e-3, "new": 1e-2}]})
    assert dict(view.knob_marks.data) == {
        "step": [12],
        "knob": ["lam"],
        "old": [1e-3],
        "new": [1e-2],
    }


def test_long_run_lines_keep_their_beginning_and_recent_steps_whole(monkeypatch):
    """After far more steps than a line shows, the loss line starts at the run's first step,
    its newest rows are every step, and its row count stays bounded; most increments are
    streams (the source is replaced only when the thinned course is redrawn)."""
    view = LossView(recent=50)
    streamed = []
    stream = ColumnDataSource.stream

    def counted(source, data, *args, **kwargs):
        streamed.append(source.name)
        return stream(source, data, *args, **kwargs)

    monkeypatch.setattr(ColumnDataSource, "stream", counted)
    for start in range(1, 2001, 10):
        view.update(
            {
                "step": [
                    {"step": s, "loss": 1.0 / s, "acc": 0.5} for s in range(start, start + 10)
                ],
                "eval": [{"step": start + 9, "val_loss": 1.0, "val_acc": 0.5}],
            }
        )
    steps = np.asarray(view.steps.data["step"])
    assert steps[0] == 1 and steps[-1] == 2000
    np.testing.assert_array_equal(steps[-50:], np.arange(1951, 2001))  # recent: every step
    assert len(steps) <= 150 and np.all(np.diff(steps) > 0)
    gaps = np.diff(steps)  # the past thinned evenly, then every step
    assert gaps[0] == view.step_course.stride > 1 and np.all(np.diff(gaps) <= 0)
    assert view.evals.data["step"][0] == 10  # fewer rows than the limit: all kept
    # of 200 increments, a few replaced the source
    assert 0.8 * 200 < streamed.count("loss_steps") < 200
    view.reset()
    assert len(view.steps.data["step"]) == 0 and view.step_course.stride == 1


@pytest.mark.parametrize("make", [LossView, SizesView, CostView])
def test_step_lines_hold_about_a_plots_width_of_rows_by_default(make):
    """A long run's loss, size and cost lines hold at most 3 x LINE_ROWS rows (the browser
    re-indexes every row at each update) and still start at the run's first step."""
    view = make()
    for start in range(1, 20_001, 100):
        view.update(
            {
                "step": [
                    {"step": s, "loss": 1.0, "acc": 0.5, "sizes": [3, 2], "cost": 5 * s}
                    for s in range(start, start + 100)
                ]
            }
        )
    steps = np.asarray(view.steps.data["step"])
    assert steps[0] == 1 and steps[-1] == 20_000
    assert len(steps) <= 3 * LINE_ROWS
    np.testing.assert_array_equal(steps[-LINE_ROWS:], np.arange(20_001 - LINE_ROWS, 20_001))


@pytest.mark.parametrize("make", [SizesView, CostView, TradeoffView, SwitchView])
def test_every_step_line_keeps_its_beginning(make):
    view = make(recent=20) if make is not TradeoffView else make()
    if isinstance(view, TradeoffView):
        view.run_course.recent = view.run_course.past = 20
    for start in range(0, 1000, 25):
        steps = range(start, start + 25)
        view.update(
            {
                "step": [
                    {
                        "step": s,
                        "loss": 1.0,
                        "acc": 0.5,
                        "sizes": [3, 2],
                        "cost": 5 * s,
                        "time": 0.01 * s,
                    }
                    for s in steps
                ],
                "tradeoff": [
                    {
                        "step": s,
                        "units": 5,
                        "params": 50,
                        "val_loss": 1.0,
                        "val_acc": 0.5,
                        "lam": 0.0,
                    }
                    for s in steps
                ],
                "switch": [
                    {
                        "step": s,
                        "layer": np.array([0, 0, 1]),
                        "unit_id": np.arange(3),
                        "value": np.ones(3),
                    }
                    for s in steps
                ],
            }
        )
    source = view.sources()[0]
    first = np.asarray(source.data["step"])
    assert first[0] == 0 and first[-1] == 999
    assert len(first) <= 3 * 60  # switch rows: 3 per record
    if isinstance(view, SwitchView):  # a record's units are kept together
        assert np.all(np.bincount(first)[np.unique(first)] == 3)


def test_sizes_view_one_line_per_layer_and_event_marks(recorded):
    records, _ = recorded
    view = SizesView()
    view.update(group_records(records))
    assert [line.visible for line in view.lines[:3]] == [True, True, False]
    # a line reads every row once its layer exists, none before (BokehJS sets the data of
    # hidden renderers too at every stream)
    views = [line.view for line in view.lines]
    assert [line.view.filter.indices for line in view.lines[:3]] == [None, None, []]
    view.reset()
    assert all(list(line.view.filter.indices) == [] for line in view.lines)
    view.update(group_records(records))
    assert [line.view for line in view.lines] == views  # the same models, changed in place
    sizes = [r["sizes"] for r in records if r["kind"] == "step"]
    np.testing.assert_array_equal(view.steps.data["size_0"], [s[0] for s in sizes])
    events = [r for r in records if r["kind"] == "event"]
    assert len(view.events.data["unit_id"]) == len(events) == 10  # 5 growth steps x 2 layers
    # a birth mark sits on its layer's line right after the growth step
    row = list(view.events.data["unit_id"]).index(str(events[0]["unit_id"]))
    step = events[0]["step"]
    assert view.events.data["y"][row] == sizes[step][events[0]["layer"]]


@pytest.mark.parametrize(
    "sizes",
    [
        [[3, 2]] * 5,  # the usual refresh: every record has the same layers
        [[3, 2], [3, 2, 1], [4]],  # a layer appears, then goes
        [[2.5, 1.0]] * 3,  # float sizes stay floats
    ],
)
def test_size_columns_equal_the_per_record_loop(sizes):
    from explorer.views.palette import MAX_LAYERS
    from explorer.views.sizes import size_columns

    steps = list(range(len(sizes)))
    got = size_columns(steps, sizes, max(map(len, sizes)))
    want = {"step": np.asarray(steps)}
    for i in range(MAX_LAYERS):
        want[f"size_{i}"] = np.asarray([s[i] if i < len(s) else np.nan for s in sizes])
    assert list(got) == list(want)
    for key, values in want.items():
        assert got[key].dtype == values.dtype and got[key].flags.c_contiguous, key
        np.testing.assert_array_equal(got[key], values)
    assert len({id(v) for v in got.values()}) == len(got)  # no column shares an array


def test_unit_scatter_shows_latest_table_and_patches(recorded):
    _, history = recorded
    sel = UnitSelection()
    view = UnitScatterView(sel)
    view.update(history_records(history))
    latest = history.latest_units()
    data = view.source.data
    assert set(data) == {
        "unit_id",
        "layer",
        "fan_in",
        "fan_out",
        "age",
        "size",
        "alpha",
        "color",
        "layer_name",
    }
    assert data["layer_name"][0] == f"layer {latest['layer'][0]}"  # the legend's entries
    np.testing.assert_array_equal(data["unit_id"], latest["unit_id"])
    np.testing.assert_allclose(data["fan_in"], latest["fan_in"], rtol=1e-6)
    assert data["color"][0] == layer_color(latest["layer"][0])
    oldest = int(np.argmax(latest["age"]))
    assert data["size"][oldest] == pytest.approx(12.0)
    # same units, new lengths: a patch keeps the rows and the selection
    sel.unit_ids = [int(latest["unit_id"][3])]
    table = {**latest, "fan_in": latest["fan_in"] * 2, "step": latest["step"] + 1}
    view.update({"units": [table]})
    np.testing.assert_allclose(view.source.data["fan_in"], latest["fan_in"] * 2, rtol=1e-6)
    assert view.source.selected.indices == [3]


def test_unit_scatter_throttles():
    def table(n, step):
        return {
            "step": step,
            "unit_id": np.arange(n),
            "layer": np.zeros(n, int),
            "fan_in": np.ones(n),
            "fan_out": np.ones(n),
            "age": np.ones(n, int),
        }

    view = UnitScatterView(min_interval=3600)
    view.update({"units": [table(3, 1)]})  # the first table shows at once
    assert len(view.source.data["unit_id"]) == 3
    view.update({"units": [table(5, 2)]})  # within the hour: held back, kept for later
    assert len(view.source.data["unit_id"]) == 3 and view.step == 1
    view.update({}, force=True)  # a forced refresh draws the held table
    assert len(view.source.data["unit_id"]) == 5 and view.step == 2


def _lifetime_records():
    table = {
        "kind": "units",
        "step": 0,
        "unit_id": np.arange(4),
        "layer": np.array([0, 0, 1, 1]),
        "fan_in": np.ones(4),
        "fan_out": np.ones(4),
        "age": np.zeros(4, int),
    }
    return [
        table,
        {
            "kind": "event",
            "step": 5,
            "layer": 1,
            "unit_id": 4,
            "event": "born",
            "cause": "added at random",
        },
        {
            "kind": "event",
            "step": 7,
            "layer": 0,
            "unit_id": 1,
            "event": "died",
            "cause": "shrunk to zero",
        },
        {"kind": "step", "step": 10, "loss": 1.0, "acc": 0.5, "sizes": [1, 3]},
    ]


def test_lifetimes_birth_death_cause_and_survivor_ends():
    view = LifetimeView()
    view.update(group_records(_lifetime_records()))
    d = view.source.data
    assert list(d["unit_id"]) == [0, 1, 2, 3, 4]
    assert list(d["birth"]) == [0, 0, 0, 0, 5]
    assert list(d["end"]) == [10, 7, 10, 10, 10]
    assert list(d["status"]) == ["alive", "eliminated", "alive", "alive", "alive"]
    assert d["died_cause"][1] == "shrunk to zero"
    assert d["born_cause"][4] == "added at random"
    assert d["color"][1] == DIED_COLOR and d["color"][4] == layer_color(1)
    # the next increment appends new units and moves only survivors' ends
    view.update(
        group_records(
            [
                {
                    "kind": "event",
                    "step": 12,
                    "layer": 0,
                    "unit_id": 5,
                    "event": "born",
                    "cause": "added at random",
                },
                {"kind": "step", "step": 15, "loss": 1.0, "acc": 0.5, "sizes": [2, 3]},
            ]
        )
    )
    assert list(view.source.data["end"]) == [15, 7, 15, 15, 15, 15]
    assert len(view.source.data["unit_id"]) == 6


def test_selection_links_plots_by_unit_id(recorded):
    _, history = recorded
    sel = UnitSelection()
    scatter, lifetimes = UnitScatterView(sel), LifetimeView(sel)
    fans = FanHistoryView(history, sel)
    for view in (scatter, lifetimes, fans):
        view.update(history_records(history))
    ids = np.asarray(scatter.source.data["unit_id"])
    scatter.source.selected.indices = [0, 12]  # a box select in the browser
    chosen = sorted(int(u) for u in ids[[0, 12]])
    assert sel.unit_ids == chosen
    life_ids = np.asarray(lifetimes.source.data["unit_id"])
    assert sorted(life_ids[lifetimes.source.selected.indices].tolist()) == chosen
    # the fan history holds one fan-in and one fan-out line per selected unit, from every table
    assert len(fans.source.data["xs"]) == 4
    uid = chosen[1]
    row = list(fans.source.data["unit_id"]).index(uid)
    cols = history.columns("units")
    mask = cols["unit_id"] == uid
    assert fans.source.data["xs"][row] == cols["step"][mask].tolist()
    np.testing.assert_allclose(fans.source.data["ys"][row], cols["fan_in"][mask], rtol=1e-6)
    # a tap in the lifetimes selects the same unit in the scatter
    lifetimes.source.selected.indices = [int(np.flatnonzero(life_ids == uid)[0])]
    assert sel.unit_ids == [uid]
    assert ids[scatter.source.selected.indices].tolist() == [uid]
    sel.clear()
    assert scatter.source.selected.indices == [] and fans.source.data["xs"] == []


def test_step_plots_share_one_x_range():
    xr = step_range()
    loss, sizes, life = LossView(x_range=xr), SizesView(x_range=xr), LifetimeView(x_range=xr)
    assert loss.loss_fig.x_range is sizes.fig.x_range is life.fig.x_range is xr


def test_tradeoff_path_and_earlier_runs(recorded):
    records, _ = recorded
    view = TradeoffView()
    view.update(group_records(records))
    rows = [r for r in records if r["kind"] == "tradeoff"]
    assert list(view.run.data["units"]) == [r["units"] for r in rows]
    view.reset()
    assert len(view.run.data["units"]) == 0
    assert list(view.earlier.data["val_loss"]) == [rows[-1]["val_loss"]]
    view.set_size_axis("params")
    assert view.path.glyph.x == "params"
    with pytest.raises(ValueError, match="units' or 'params"):
        view.set_size_axis("weights")


def test_spectrum_view_accepted_born_ids_and_summary():
    view = SpectrumView()
    eig = np.array([3.0, 1.0, 0.1, 0.0])
    view.update(
        {
            "spectrum": [
                {
                    "kind": "spectrum",
                    "step": 100,
                    "layer": 1,
                    "eigenvalues": eig,
                    "accepted": 2,
                    "tau": 0.5,
                    "bottleneck_before": 2.0,
                    "bottleneck_after": 1.5,
                    "unit_ids": [17, 18],
                    "route": "eig",
                    "solve_seconds": 0.01,
                }
            ]
        }
    )
    d = view.points.data
    assert list(d["born"]) == ["17", "18", "-", "-"]
    assert list(d["accepted"]) == ["accepted", "accepted", "rejected", "rejected"]
    assert d["shown"][3] > 0  # zero drawn at the log floor, the value kept for hover
    assert d["eigenvalue"][3] == 0.0
    s = view.summary.data
    assert s["mean_sq"][0] == pytest.approx(np.mean(eig**2))
    assert s["max"][0] == 3.0 and s["accepted_count"][0] == 2 and s["tau"][0] == 0.5
    view.update(
        {
            "spectrum": [
                {
                    "kind": "spectrum",
                    "step": 200,
                    "layer": 0,
                    "eigenvalues": [1.0, 0.5],
                    "accepted": [False, True],
                    "tau": 0.1,
                    "unit_ids": [30],
                }
            ]
        }
    )
    assert len(view.points.data["step"]) == 6
    assert list(view.points.data["born"][4:]) == ["-", "30"]
    with pytest.raises(ValueError, match="accepted has shape"):
        view.update(
            {"spectrum": [{"step": 1, "layer": 0, "eigenvalues": [1.0, 2.0], "accepted": [True]}]}
        )


def test_switch_view_values_kills_and_selection():
    sel = UnitSelection()
    view = SwitchView(sel)
    recs = [
        {
            "kind": "switch",
            "step": s,
            "layer": 0,
            "unit_id": np.array([0, 1, 2]),
            "value": np.array([1.0, 0.5, 0.1]) / (s + 1),
        }
        for s in range(3)
    ]
    view.update({"switch": recs[:2]})
    assert len(view.points.data["step"]) == 6
    view.update(
        {
            "switch": recs[2:],
            "event": [
                {
                    "kind": "event",
                    "step": 3,
                    "layer": 0,
                    "unit_id": 2,
                    "event": "died",
                    "cause": "killed (sign variance)",
                }
            ],
        }
    )
    assert len(view.points.data["step"]) == 9
    assert list(view.killed.data["unit_id"]) == [2]
    assert view.killed.data["value"][0] == pytest.approx(0.1 / 3)
    sel.unit_ids = [1]
    assert list(np.asarray(view.points.data["unit_id"])[view.points.selected.indices]) == [1] * 3
    with pytest.raises(ValueError, match="unit ids but"):
        view.update({"switch": [{"step": 4, "layer": 0, "unit_id": [0, 1], "value": [1.0]}]})


def test_columns_send_numbers_as_arrays_and_strings_as_lists():
    from explorer.views.base import columns

    out = columns(
        {
            "step": [1, 2],
            "loss": [0.5, float("nan")],
            "cause": ["a", "b"],
            "mixed": [1, "x"],
            "ready": np.arange(3),
        }
    )
    assert out["step"].dtype.kind == "i" and out["loss"].dtype.kind == "f"
    assert np.isnan(out["loss"][1])
    assert out["cause"] == ["a", "b"] and out["mixed"] == [1, "x"]
    assert isinstance(out["ready"], np.ndarray)


def test_views_keep_their_ranges_in_the_browser(recorded):
    """Range changes made by the browser are not sent back (they cost the trainer GIL
    time); the server still sets ranges."""
    records, _ = recorded
    view = LossView()
    view.__panel__()
    for fig in (view.loss_fig, view.acc_fig):
        assert fig.x_range.syncable is False and fig.y_range.syncable is False
    view.update(group_records(records))
    assert len(view.steps.data["step"]) == 60


def test_empty_figures_have_a_range_until_their_sources_hold_rows():
    """An empty auto-ranged figure makes BokehJS warn at each render ('could not set initial
    ranges'); an invisible anchor spans its ranges until data arrives, and again after a
    reset, and never counts once data is there (ranges follow visible glyphs only)."""
    view = LossView()
    view.__panel__()
    anchors = [fig._range_anchor for fig in (view.loss_fig, view.acc_fig)]
    assert all(a.visible for a in anchors)
    assert view.loss_fig.y_range.only_visible and view.loss_fig.x_range.only_visible
    assert anchors[0].glyph.line_alpha == 0 and anchors[0].data_source.data["y"] == [1.0]
    view.update({"step": [{"step": 1, "loss": 1.0, "acc": 0.5}]})
    assert not any(a.visible for a in anchors)
    view.reset()
    assert all(a.visible for a in anchors)
    view.__panel__()  # a second layout adds no second anchor
    assert sum(r.name == "range_anchor" for r in view.loss_fig.renderers) == 1
    scatter = UnitScatterView()  # its legend-key glyphs hold no data of the run
    scatter.__panel__()
    assert scatter.fig._range_anchor.visible


def _all_figures():
    from explorer.views import CostView, GroupSparsityView

    views = [
        LossView(),
        SizesView(),
        UnitScatterView(),
        LifetimeView(),
        TradeoffView(),
        SpectrumView(),
        SwitchView(),
        CostView(),
        GroupSparsityView(),
    ]
    for view in views:
        for name in ("fig", "loss_fig", "acc_fig", "summary_fig"):
            if hasattr(view, name):
                yield type(view).__name__, getattr(view, name)


@pytest.mark.slow
def test_legends_sit_beside_the_plot_not_over_the_data():
    from bokeh.models import Legend

    for name, fig in _all_figures():
        inside = [r for r in fig.center if isinstance(r, Legend)]
        assert not inside, f"{name}: a legend inside the plot frame"
    legends = {name for name, fig in _all_figures() if fig.select(type=Legend)}
    assert {
        "LossView",
        "SizesView",
        "UnitScatterView",
        "TradeoffView",
        "SpectrumView",
        "SwitchView",
        "CostView",
        "GroupSparsityView",
    } <= legends


def test_cost_model_named_for_all_methods():
    from explorer.views import CostView

    title = CostView().fig.title.text
    assert title.startswith("training cost") and "ShrinkNets sec. 4.4" in title


def test_sizes_marks_are_light_beneath_the_lines_and_in_the_legend():
    from explorer.views.sizes import MARK_ALPHA

    view = SizesView()
    glyphs = [r for r in view.fig.renderers if r.data_source is view.events]
    assert len(glyphs) == 2 and glyphs == view.marks
    assert max(view.fig.renderers.index(g) for g in glyphs) < min(
        view.fig.renderers.index(r) for r in view.lines
    )
    items = {getattr(item.label, "value", None): item for item in view.fig.legend[0].items}
    assert {"unit born", "unit died"} <= set(items)
    for mark, event in zip(glyphs, ("unit born", "unit died"), strict=True):
        # the swatch: a row-less key glyph of one mark's look, whose visible drives the marks'
        (key,) = items[event].renderers
        assert key.glyph.fill_alpha == MARK_ALPHA and key.glyph.marker == mark.glyph.marker
        (link,) = key.js_property_callbacks["change:visible"]
        assert link.args["other"] is mark and "other.visible = this.visible" in link.code
    view.update(group_records(_lifetime_records()))
    assert set(view.events.data["event"]) == {"unit born", "unit died"}
    assert np.allclose(view.events.data["alpha"], MARK_ALPHA)  # one unit a mark


def test_sizes_marks_of_one_step_and_layer_merge_into_one_of_their_stacked_alpha():
    from explorer.views.sizes import HOVER_IDS, MARK_ALPHA, merge_marks

    def event(step, layer, unit, kind="born", cause="split"):
        return {"step": step, "layer": layer, "unit_id": unit, "event": kind, "cause": cause}

    events = [event(5, 0, u) for u in range(3)] + [event(5, 1, 9), event(5, 0, 7, "died")]
    events += [event(8, 0, 20 + u, cause=c) for u, c in enumerate(["a", "b"] * 6)]
    ys = [4, 4, 4, 2, 4] + [6] * 12
    data = merge_marks(events, ys)
    assert list(data["step"]) == [5, 5, 5, 8] and list(data["layer"]) == [0, 1, 0, 0]
    assert data["event"] == ["unit born", "unit born", "unit died", "unit born"]
    assert list(data["y"]) == [4, 2, 4, 6]
    assert data["unit_id"][:3] == ["3 units: 0, 1, 2", "9", "7"]
    ids = ", ".join(str(20 + u) for u in range(HOVER_IDS))
    assert data["unit_id"][3] == f"12 units: {ids}, ..."
    assert data["cause"] == ["split", "split", "split", "a; b"]
    # oracle: k marks of alpha a composited over a background, one after the other
    for k, alpha in zip([3, 1, 1, 12], data["alpha"], strict=True):
        stacked = 0.0  # the marks' colour's share of the pixel
        for _ in range(k):
            stacked = MARK_ALPHA + (1 - MARK_ALPHA) * stacked
        assert alpha == pytest.approx(stacked)


def test_lifetimes_show_living_units_only_by_default():
    view = LifetimeView()
    view.update(group_records(_lifetime_records()))
    d = view.source.data
    np.testing.assert_array_equal(d["living_row"], [0, np.nan, 1, 2, 3])
    assert view.bars.glyph.y == "living_row"
    view.update(
        {
            "event": [
                {
                    "kind": "event",
                    "step": 11,
                    "layer": 0,
                    "unit_id": 0,
                    "event": "died",
                    "cause": "shrunk to zero",
                }
            ]
        }
    )
    np.testing.assert_array_equal(view.source.data["living_row"], [np.nan, np.nan, 0, 1, 2])
    # the y axis spans the rows drawn, and shrinks as units die (not a browser auto range,
    # which keeps the bounds of every plot view that drew: 200 rows for ~20 living units)
    assert (view.fig.y_range.start, view.fig.y_range.end) == (-1, 3)
    view.rows.value = "all units"
    assert view.bars.glyph.y == "row" and "all units" in view.fig.yaxis[0].axis_label
    assert (view.fig.y_range.start, view.fig.y_range.end) == (-1, 5)
    assert (view.fig.y_range.reset_start, view.fig.y_range.reset_end) == (-1, 5)
    with pytest.raises(ValueError, match="living only"):
        view.show_rows("dead")


def test_spectrum_fades_all_but_the_latest_growth_steps():
    from explorer.views.spectrum import OLD_STYLE, RECENT_GROWTH_STEPS, RECENT_STYLE

    view = SpectrumView()
    for step in range(10, 60, 10):
        view.update(
            {
                "spectrum": [
                    {
                        "kind": "spectrum",
                        "step": step,
                        "layer": layer,
                        "eigenvalues": [2.0, 1.0],
                        "accepted": 1,
                        "tau": 0.5,
                        "unit_ids": [step + layer],
                    }
                    for layer in (0, 1)
                ]
            }
        )
    steps = np.asarray(view.points.data["step"])
    alpha = np.asarray(view.points.data["alpha"])
    recent = steps >= 60 - 10 * RECENT_GROWTH_STEPS
    assert np.all(alpha[recent] == RECENT_STYLE[0]) and np.all(alpha[~recent] == OLD_STYLE[0])
    assert np.all(np.asarray(view.points.data["size"])[~recent] == OLD_STYLE[1])
    assert recent.sum() == RECENT_GROWTH_STEPS * 4


def test_legend_entries_never_read_a_per_row_colour():
    """BokehJS draws a legend swatch with its glyph's colour at a row index; a per-row colour
    array replaced by a longer source is then read past its end (RangeError, lost updates).
    Every glyph with a legend entry has one constant colour."""
    from bokeh.models import GlyphRenderer, Legend

    for name, fig in _all_figures():
        for legend in fig.select(type=Legend):
            for item in legend.items:
                assert getattr(item.label, "field", None) is None, f"{name}: legend_field"
                for r in item.renderers:
                    assert isinstance(r, GlyphRenderer)
                    color = r.glyph.fill_color if hasattr(r.glyph, "fill_color") else None
                    color = color if color is not None else r.glyph.line_color
                    assert isinstance(color, str), f"{name}: a per-row colour in the legend"


def test_layer_legend_shows_the_layers_present_only():
    view = UnitScatterView()
    assert not any(item.visible for item in view.layer_items.values())
    view.show_table(
        {
            "unit_id": [1, 2, 3],
            "layer": [0, 0, 1],
            "fan_in": [1.0, 2.0, 3.0],
            "fan_out": [1.0, 1.0, 1.0],
            "age": [1, 2, 3],
        }
    )
    shown = {name for name, item in view.layer_items.items() if item.visible}
    assert shown == {"layer 0", "layer 1"}
    view.reset()
    assert not any(item.visible for item in view.layer_items.values())
