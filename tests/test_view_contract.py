"""The contract of the views: every registered sizing method runs a few hundred steps on a
small data set; every record it emits is fed, in the increments a page's refresh would
bring, to every view. No view may raise on any record kind, and each view that draws a
kind the method emits must end up holding data.

This is the test that was missing when the ShrinkNets switch plot broke on real records
(a switch record's ``layer`` is one entry per unit, not a scalar).
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import pytest
import torch

from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from explorer.views import (
    CostView,
    FanHistoryView,
    GroupSparsityView,
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
from kernels.methods import METHODS

STEPS = 300
#: record kinds a method must emit for the test to mean something (its own cards' data)
MUST_EMIT = {"shrinknets": {"switch"}, "tiny": {"spectrum", "event"}, "nonparametric": {"event"}}


@functools.cache
def record_run(method: str) -> tuple[str, list[dict], History]:
    """One short run of a method: (method name, records in arrival order, the History)."""
    records: list[dict] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(
            method=method, hidden=[8, 8], eval_every=25, units_every=10, batch_size=64
        )
        Trainer(config, sink=records.append).run(STEPS)
    finally:
        torch.set_num_threads(threads)
    history = History()
    history.extend(records)
    return method, records, history


@pytest.fixture(params=sorted(METHODS))
def run(request):
    return record_run(request.param)


def all_views(history: History) -> list:
    selection, xr = UnitSelection(), step_range()
    return [
        LossView(x_range=xr),
        SizesView(x_range=xr),
        UnitScatterView(selection),
        LifetimeView(selection, x_range=xr),
        FanHistoryView(history, selection, x_range=xr),
        TradeoffView(),
        SpectrumView(x_range=xr),
        SwitchView(selection, x_range=xr),
        CostView(x_range=xr),
        GroupSparsityView(),
    ]


def test_every_view_registered_here():
    """A new view in ``explorer.views`` joins this contract (add it to ``all_views``)."""
    import explorer.views as views

    exported = {
        getattr(views, n)
        for n in views.__all__
        if isinstance(getattr(views, n), type)
        and issubclass(getattr(views, n), views.View)
        and getattr(views, n) is not views.View
    }
    assert exported == {type(v) for v in all_views(History())}


def filled(view) -> bool:
    return any(len(next(iter(s.data.values()), [])) for s in view.sources() if s.data)


@pytest.mark.slow
def test_method_emits_its_own_kinds(run):
    method, records, _ = run
    kinds = Counter(r["kind"] for r in records)
    assert {"step", "eval", "units", "tradeoff"} <= set(kinds)
    assert MUST_EMIT.get(method, set()) <= set(kinds), kinds


@pytest.mark.slow
@pytest.mark.parametrize("chunks", [1, 7])
def test_every_view_takes_every_record(run, chunks):
    """In one increment (a replay) and in several (live refreshes): no exception, and every
    view that draws a kind the method emits holds data afterwards."""
    method, records, history = run
    views = all_views(history)
    emitted = {r["kind"] for r in records}
    for part in np.array_split(np.arange(len(records)), chunks):
        increment = group_records([records[i] for i in part])
        for view in views:
            # whether the increment changes the view is a plain answer, asked before update
            assert view.changes(increment) in (True, False), type(view).__name__
            assert view.changes({}) is False, type(view).__name__
            view.update(increment)
    selection = views[2].selection
    selection.unit_ids = [int(history.latest_units()["unit_id"][0])]  # fills the fan history
    for view in views:
        should = set(view.kinds) & emitted
        assert filled(view) == bool(should), (type(view).__name__, should)


@pytest.mark.slow
def test_views_take_a_replayed_history(run):
    _, records, history = run
    for view in all_views(history):
        view.update(history_records(history))


@pytest.mark.slow
def test_switch_view_draws_real_shrinknets_records():
    """Each unit's switch value at its own layer (a record spans both hidden layers)."""
    _, records, _ = record_run("shrinknets")
    view = SwitchView()
    view.update(group_records(records))
    last = [r for r in records if r["kind"] == "switch"][-1]
    data = view.points.data
    at_last = np.asarray(data["step"]) == last["step"]
    np.testing.assert_array_equal(np.asarray(data["unit_id"])[at_last], last["unit_id"])
    np.testing.assert_array_equal(np.asarray(data["layer"])[at_last], last["layer"])
    np.testing.assert_allclose(np.asarray(data["value"])[at_last], last["value"])
    assert set(np.asarray(data["layer"]).tolist()) == {0, 1}
