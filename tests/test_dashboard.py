"""What a refresh sends (issue 17): hidden views are not updated and are redrawn whole when
shown; the per-unit lifetimes are updated at most once per interval; nothing is lost.

The oracle of each check is the same view fed the whole run at once (what a page that never
hid or throttled anything would show).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from explorer.config import RunConfig
from explorer.history import History
from explorer.page.cards import SLOW, STEADY
from explorer.page.dashboard import Dashboard
from explorer.session import group_records
from explorer.trainer import Trainer
from explorer.views import LifetimeView, LossView, SizesView, UnitSelection


@functools.cache
def run_records() -> tuple[dict, ...]:
    """A 300-step nonparametric run on digits (units born and eliminated)."""
    records: list[dict] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(hidden=[8, 8], eval_every=25, units_every=10, batch_size=64)
        Trainer(config, sink=records.append).run(300)
    finally:
        torch.set_num_threads(threads)
    return tuple(records)


def increments(n: int = 10) -> list[list[dict]]:
    records = list(run_records())
    size = -(-len(records) // n)
    return [records[i : i + size] for i in range(0, len(records), size)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def board_with_clock() -> tuple[Dashboard, Clock]:
    board = Dashboard(method="nonparametric", history=History())
    board.clock = clock = Clock()
    return board, clock


def feed(board: Dashboard, records: list[dict]) -> list[str]:
    """What Session.drain does: the History first, then the views."""
    board.history.extend(records)
    return board.update(group_records(records))


def data(view) -> list[dict]:
    """A view's sources as plain lists, NaN as None (so equal data compares equal)."""
    return [{k: [_plain(x) for x in v] for k, v in s.data.items()} for s in view.sources()]


def _plain(x):
    x = x.item() if isinstance(x, np.generic) else x
    return None if isinstance(x, float) and np.isnan(x) else x


def reference(view_class, **kwargs) -> list[dict]:
    view = view_class(**kwargs)
    view.update(group_records(run_records()))
    return data(view)


def test_a_collapsed_card_is_not_updated_and_is_redrawn_whole_when_opened():
    board, clock = board_with_clock()
    parts = increments()
    assert feed(board, parts[0]) == []
    sizes = board.views["sizes"]
    before = data(sizes)
    assert len(before[0]["step"]) > 0
    board.cards["sizes"].collapsed = True
    for part in parts[1:]:
        clock.now += 0.25
        assert feed(board, part) == []
    assert data(sizes) == before  # nothing sent while collapsed
    assert "sizes" in board.stale
    assert len(data(board.views["loss"])[0]["step"]) > len(before[0]["step"])  # others go on
    board.cards["sizes"].collapsed = False  # opened: redrawn at once from the History
    assert "sizes" not in board.stale
    assert data(sizes) == reference(SizesView)


def test_another_tab_pauses_the_live_plots_but_not_the_tradeoff_path():
    board, clock = board_with_clock()
    parts = increments()
    feed(board, parts[0])
    loss, tradeoff = board.views["loss"], board.views["tradeoff"]
    before, path = data(loss), len(tradeoff.run.data["step"])
    board.on_screen = False
    for part in parts[1:]:
        clock.now += 0.25
        feed(board, part)
    assert data(loss) == before
    assert len(tradeoff.run.data["step"]) > path  # earlier runs live in it: always updated
    board.on_screen = True
    assert data(loss) == reference(LossView)
    assert not board.stale


def test_a_view_shown_again_during_a_refresh_catches_up_with_that_refresh():
    board, clock = board_with_clock()
    parts = increments()
    feed(board, parts[0])
    board.cards["sizes"].collapsed = True
    feed(board, parts[1])
    board.cards["sizes"].param.update(collapsed=False)
    for part in parts[2:]:
        clock.now += 0.25
        feed(board, part)
    # the oracle: the first two increments at once (the catch-up), then the others one by one
    oracle = SizesView()
    oracle.update(group_records(parts[0] + parts[1]))
    for part in parts[2:]:
        oracle.update(group_records(part))
    assert data(board.views["sizes"]) == data(oracle)


def test_lifetimes_are_updated_at_most_once_per_interval_and_nothing_is_lost():
    board, clock = board_with_clock()
    parts = increments(20)
    interval = SLOW["lifetimes"]
    feed(board, parts[0])  # the first increment shows at once
    lifetimes = board.views["lifetimes"]
    shown = [data(lifetimes)]
    for part in parts[1:]:
        clock.now += interval / 4
        feed(board, part)
        shown.append(data(lifetimes))
    changes = sum(a != b for a, b in zip(shown, shown[1:], strict=False))
    assert 0 < changes <= len(parts) // 4 + 1
    clock.now += interval
    assert board.flush_due() == []  # the records that waited are delivered
    assert data(lifetimes) == reference(LifetimeView, selection=UnitSelection())
    assert board.flush_due() == []  # nothing waits twice
    feed(board, parts[0][-5:])  # due at once: nothing waits, nothing lost
    clock.now += interval / 4
    feed(board, parts[-1][-5:])
    assert "lifetimes" in board._pending
    assert board.flush_due(everything=True) == [] and not board._pending


def test_a_new_run_drops_what_waited_for_hidden_and_slow_views():
    board, clock = board_with_clock()
    parts = increments()
    feed(board, parts[0])
    board.cards["sizes"].collapsed = True
    feed(board, parts[1])
    assert board.stale and board._pending
    board.new_run(History())
    assert not board.stale and not board._pending
    assert all(len(s.data["step"]) == 0 for s in board.views["sizes"].sources())


@pytest.mark.parametrize("step", [100, 200])
def test_a_hidden_view_of_a_replay_scrubbed_back_shows_no_later_step(step):
    board, clock = board_with_clock()
    board.history.extend(run_records())
    records = [r for r in run_records() if r.get("step", 0) <= step]
    board.cards["sizes"].collapsed = True
    board.update(group_records(records))
    board.cards["sizes"].collapsed = False
    assert max(board.views["sizes"].steps.data["step"]) <= step


def test_the_step_plots_share_one_step_axis_that_follows_each_run():
    """The step axis is set from the server (explorer.views.step_axis): it spans the steps
    shown, in coarse steps while running, exactly once the run stops, and a new run starts
    it afresh (issue 12: never the previous run's extent; the browser side:
    tests/test_browser_views.py)."""
    board, _ = board_with_clock()
    parts = increments()
    board.cards["tiny"].visible = True  # a card built later takes the same axis
    axis = board.x_range
    for part in parts:
        feed(board, part)
        last = max(r["step"] for r in part if "step" in r)
        assert last < axis.end <= last + 0.3 * last + 8, (last, axis.end)
        assert axis.start <= min(r["step"] for r in parts[0] if "step" in r)
    step_figures = [f for v in board.views.values() for f in v.figures() if f.x_range is axis]
    assert len(step_figures) >= 5 and axis.syncable  # the browser tells the user's zoom
    assert board.view("spectrum").figures()[0].x_range is axis
    board.settle_step_axis()  # the run stopped: exact, 2% padding
    steps = [r["step"] for r in run_records() if "step" in r]
    first, last = min(steps), max(steps)
    assert axis.end == pytest.approx(last + 0.02 * (last - first))
    board.new_run(History())
    feed(board, parts[0][: len(parts[0]) // 2])
    last = max(r["step"] for r in parts[0][: len(parts[0]) // 2] if "step" in r)
    assert board.x_range is axis and last < axis.end <= 1.3 * last + 8


def test_the_step_axis_stops_following_after_a_zoom_and_follows_again_after_reset():
    from explorer.views.step_axis import StepAxis

    axis = StepAxis()
    r = axis.range
    axis.show(0, 1000)
    followed = (r.start, r.end)
    assert (r.reset_start, r.reset_end) == followed and axis.following
    r.start, r.end = 200.0, 400.0  # what the browser sends for a zoom
    assert not axis.following
    axis.show(None, 5000)
    assert (r.start, r.end) == (200.0, 400.0)  # the user's view stays
    r.start, r.end = r.reset_start, r.reset_end  # the Reset tool: the followed extent
    assert axis.following
    axis.show(None, 5000)
    assert r.end > 5000
    r.end = 7000.0
    axis.reset()  # a new run follows again
    axis.show(10, 50)
    assert axis.following and 50 < r.end <= 50 + 0.3 * 40 + 8 and r.start <= 10


@pytest.mark.parametrize("name", ["units", "tradeoff", "fan_history"])
def test_the_per_unit_views_and_the_tradeoff_plot_refresh_once_a_second(name):
    """Each of these views' updates is a whole plot the browser repaints (issue 17): they take
    their records at most once per SLOW interval, the per-step lines at every refresh."""
    assert SLOW[name] == 1.0
    board, clock = board_with_clock()
    parts = increments(20)
    feed(board, parts[0])
    assert name not in board._pending
    for part in parts[1:4]:
        clock.now += 0.25
        feed(board, part)
    assert name in board._pending and "loss" not in board._pending


def test_a_new_run_archives_the_whole_previous_run_in_the_tradeoff_plot():
    """The size-vs-loss records that waited for their interval reach the plot before it keeps
    the finished run's last point (the run's true end, as the plot fed everything at once)."""
    board, clock = board_with_clock()
    for part in increments(20):
        clock.now += 0.25
        feed(board, part)
    assert "tradeoff" in board._pending
    oracle = Dashboard(method="nonparametric", history=History())
    feed(oracle, list(run_records()))
    board.new_run(History())
    oracle.new_run(History())
    assert data(board.views["tradeoff"]) == data(oracle.views["tradeoff"])


def test_a_plots_reset_follows_the_run_again_when_the_browser_sent_no_range_change():
    """A refresh crossing the user's pan on the wire: the browser ends up showing the
    followed extent while the server holds the pan's, so the Reset tool changes nothing in
    the browser's range and sends no range change back. The plot's Reset event alone must
    give the axis back to the run (a browser test flaked on this under load)."""
    from bokeh.events import Reset

    board, _ = board_with_clock()
    parts = increments()
    feed(board, parts[0])
    axis, r = board.step_axis, board.x_range
    r.start, r.end = r.start + 50.0, r.end + 50.0  # the pan as the server heard it
    assert not axis.following
    for part in parts[1:]:
        feed(board, part)  # the run goes on; the axis is the user's
    panned = (r.start, r.end)
    sizes = board.view("sizes").figures()[0]
    sizes._trigger_event(Reset(sizes))  # what BokehJS sends after the Reset tool
    last = max(rec["step"] for rec in parts[-1] if "step" in rec)
    assert axis.following and (r.start, r.end) != panned and last < r.end <= 1.3 * last + 8


def level(first: int, n: int, sizes: list[int] | None = None) -> list[dict]:
    """``n`` step records from step ``first`` on, as the run's last one (or at ``sizes``)."""
    last = [r for r in run_records() if r["kind"] == "step"][-1]
    return [dict(last, step=s, sizes=list(sizes or last["sizes"])) for s in range(first, first + n)]


def test_the_sizes_plot_waits_while_its_lines_only_extend_level():
    """The layer sizes take every refresh while a size changes, and once per STEADY interval
    while the lines only extend level (issue 17); what waited arrives with the next change or
    at the interval, nothing lost or reordered."""
    board, clock = board_with_clock()
    feed(board, list(run_records()))
    sizes, loss = board.views["sizes"], board.views["loss"]
    before, loss_before = data(sizes), data(loss)
    first = run_records()[-1]["step"] + 1
    held = level(first, 10)
    clock.now += 0.25
    feed(board, held)
    assert data(sizes) == before and "sizes" in board._pending  # level: it waits
    assert data(loss) != loss_before  # the loss takes every refresh
    grown = level(first + 10, 5, sizes=[n + 1 for n in held[0]["sizes"]])
    clock.now += 0.25
    feed(board, grown)  # a size changed: at once, with what waited before it
    assert "sizes" not in board._pending
    oracle = SizesView()
    oracle.update(group_records(list(run_records()) + held + grown))
    assert data(sizes) == data(oracle)
    after = level(first + 15, 5, sizes=grown[0]["sizes"])
    clock.now += 0.25
    feed(board, after)
    assert "sizes" in board._pending
    clock.now += STEADY["sizes"]
    assert board.flush_due() == [] and "sizes" not in board._pending
    oracle.update(group_records(after))
    assert data(sizes) == data(oracle)


def test_what_changes_the_sizes_plot():
    view = SizesView()
    step = level(1, 1)
    assert view.changes({}) is False
    assert view.changes(group_records(step)) is True  # nothing drawn yet
    view.update(group_records(step))
    assert view.changes(group_records(level(2, 3))) is False
    assert view.changes(group_records(level(2, 1, sizes=[1, 1]))) is True
    born = {"kind": "event", "step": 2, "layer": 0, "unit_id": 7, "event": "born", "cause": "c"}
    assert view.changes(group_records([born])) is True
    view.reset()
    assert view.changes(group_records(level(2, 1))) is True
