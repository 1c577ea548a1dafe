"""The page's refresh period rule as numbers in, period out (issue 17): the fixed cost per
refresh sets the period (not the whole cost, which grows with the records a longer period
carries), and the browser's acknowledgements hold and stretch it.

Oracle: a simulated page whose refresh costs ``fixed + per_record * records`` with records
arriving at a constant rate, so the period the rule should settle at is known in closed form
(``fixed / UI_SHARE``), and the old rule's fixed point at the cap is reproduced."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer.page import BrowserAck, CostModel, Refresher, refresh_period
from explorer.page.refresh import (
    ACK_TIMEOUT_S,
    BROWSER_SHARE,
    FLOOR_MS,
    MAX_PERIOD_MS,
    UI_SHARE,
)


def settle(rule, fixed_ms=8.0, per_record_ms=0.01, records_per_s=300.0, start_ms=3000, n=60):
    """Run the page for ``n`` refreshes from ``start_ms``: each refresh carries the records
    that arrived during the period in use, costs ``fixed + per_record * records``, and the
    rule sets the next period from what it has seen. Returns the periods."""
    costs, period, periods = CostModel(), start_ms, []
    for i in range(n):
        records = max(1, round(records_per_s * period / 1e3 * (1 + 0.3 * ((i % 3) - 1))))
        cost = fixed_ms + per_record_ms * records
        costs.add(records, cost)
        period = rule(costs, cost, period)
        periods.append(period)
    return periods


def test_the_fixed_cost_rule_leaves_the_cap_the_whole_cost_rule_stays_there():
    def new(costs, cost, period):
        return refresh_period(200, costs.fixed_ms, current_ms=period)

    def old(costs, cost, period):  # session 4's rule: the whole (wall) cost per refresh
        return refresh_period(200, costs.mean_cost, ui_share=0.025)

    # a refresh's wall time grew with its records: 0.08 ms a record held the old rule at the cap
    assert settle(old, fixed_ms=8.0, per_record_ms=0.08)[-10:] == [MAX_PERIOD_MS] * 10
    periods = settle(new, fixed_ms=8.0, per_record_ms=0.08)
    assert all(p == pytest.approx(8.0 / UI_SHARE, abs=2) for p in periods[-10:])  # 200 ms
    periods = settle(new, fixed_ms=12.0, per_record_ms=0.02)
    assert all(p == pytest.approx(12.0 / UI_SHARE, abs=2) for p in periods[-10:])  # 300 ms


def test_cost_model_recovers_fixed_and_per_record_costs_and_ignores_outliers():
    model = CostModel()
    for i in range(20):
        records = 100 + 40 * (i % 5)
        model.add(records, 5.0 + 0.02 * records + (200.0 if i in (0, 7) else 0.0))
    assert model.slope == pytest.approx(0.02, rel=1e-6)
    assert model.fixed_ms == pytest.approx(5.0, rel=1e-6)
    # records that hardly vary: no slope can be told, the whole cost counts as fixed
    flat = CostModel()
    for i in range(10):
        flat.add(100 + i % 2, 7.0)
    assert flat.slope == 0.0 and flat.fixed_ms == pytest.approx(7.0)
    with pytest.raises(ValueError, match="window"):
        CostModel(window=2)


def test_the_browser_holds_refreshes_it_has_not_drawn_and_stretches_the_period():
    ack = BrowserAck()
    ack.sent(0.0)
    assert not ack.behind(0.1)  # no acknowledgement yet: a page without a browser never holds
    ack.acked(1, 0.4)
    assert ack.latency_ms == pytest.approx(400.0)
    ack.sent(1.0)
    assert ack.behind(1.2)  # refresh 2 not drawn yet: hold
    assert not ack.behind(1.0 + ACK_TIMEOUT_S + 0.01)  # ... but not for ever
    ack.acked(2, 1.6)
    assert not ack.behind(1.7) and ack.acked_seq == 2
    ack.acked(1, 1.8)  # late and old: ignored
    assert ack.acked_seq == 2 and ack.latency_ms == pytest.approx(500.0)  # median of 400, 600
    # the period follows: the latency over BROWSER_SHARE, whatever the server's cost
    assert refresh_period(200, 1.0, ack.latency_ms) == pytest.approx(500 / BROWSER_SHARE, abs=1)
    assert refresh_period(200, 1.0, 50.0) == 200  # a browser that keeps up: the floor


def test_the_refresher_skips_a_tick_while_the_browser_is_behind():
    drained = []
    refresher = Refresher(lambda: drained.append(1) or 10)
    now = [0.0]
    refresher.clock = lambda: now[0]
    refresher.callback = SimpleNamespace(period=200)
    refresher.tick()
    assert len(drained) == 1 and refresher.ack.sent == 1
    refresher.ack.acked = 1  # as the browser's answer arrives through Panel
    now[0] = 0.2
    refresher.tick()
    assert len(drained) == 2 and refresher.ack.sent == 2
    now[0] = 0.4
    refresher.tick()  # refresh 2 not acknowledged: held, nothing drained
    assert len(drained) == 2 and refresher.ack.sent == 2
    refresher.ack.acked = 2
    refresher.tick()
    assert len(drained) == 3
    assert [n for *_, n in refresher.log] == [10, 10, 10]
    refresher.callback = None


def test_a_tick_whose_refresh_stops_the_refresher_ends_quietly():
    """A closing app stops the refresher while a tick runs (seen at a bench's teardown:
    "'NoneType' object has no attribute 'period'" from the tick, on the server's loop)."""
    refresher = Refresher(lambda: refresher.stop() or 10)
    refresher.callback = SimpleNamespace(period=200, stop=lambda: None)
    refresher.tick()
    assert refresher.callback is None and len(refresher.log) == 1


def test_a_tick_held_for_the_browser_runs_when_it_answers_not_a_period_later():
    drained = []
    refresher = Refresher(lambda: drained.append(1) or 10)
    now = [0.0]
    refresher.clock = lambda: now[0]
    refresher.callback = SimpleNamespace(period=1000)
    refresher.period = 1000  # the user's floor: the period stays 1000 ms
    soon = []
    refresher.next_tick = soon.append  # the event loop's next turn
    refresher.tick()
    refresher.ack.acked = 1
    assert soon == []  # nothing was held
    now[0] = 1.0
    refresher.tick()
    now[0] = 2.0
    refresher.tick()  # refresh 2 not drawn yet: held
    assert len(drained) == 2
    now[0] = 2.3
    refresher.ack.acked = 2  # the browser answers: the held tick runs at once
    assert len(soon) == 1
    soon.pop()()
    assert len(drained) == 3 and refresher.ack.sent == 3
    refresher.ack.acked = 3
    now[0] = 2.5  # the periodic tick 0.2 s after the catch-up: too soon, waits
    refresher.tick()
    assert len(drained) == 3
    now[0] = 3.0
    refresher.tick()
    assert len(drained) == 4
    refresher.callback = None


def test_the_refresh_callbacks_do_not_mark_the_session_busy():
    """Panel counts a periodic callback as a busy event (two updates of ``pn.state``'s busy
    counter around each call, ~2 ms of the event loop each refresh here) unless it is a
    background one: the refresh and the quick burst after a button are background work."""
    import asyncio

    import panel as pn

    from explorer.page.refresher import background_callback

    changes = []
    watcher = pn.state.param.watch(lambda e: changes.append(e.new), "_busy_counter")
    calls = []
    try:
        cb = background_callback(lambda: calls.append(1), 1000)
        asyncio.run(cb._periodic_callback())
        asyncio.run(cb._periodic_callback())
        cb.stop()
        assert calls == [1, 1] and changes == []
        plain = pn.state.add_periodic_callback(lambda: calls.append(2), period=1000, start=False)
        plain.running = True
        asyncio.run(plain._periodic_callback())  # the check sees what it should catch
        plain.stop()
        assert calls[-1] == 2 and changes
    finally:
        pn.state.param.unwatch(watcher)


def test_the_refresh_number_reaches_the_browser_as_the_param_change_did():
    """``RefreshAck.send`` on a served page writes ``sent`` on the rendered model (Panel's
    param-to-model trip cost 0.6-1.8 ms a refresh): the PATCH-DOC it makes must carry the
    same change as the param's own path, which a page without a session still takes."""
    import weakref

    from bokeh.document import Document
    from bokeh.protocol import Protocol
    from panel.io.state import set_curdoc

    from explorer.page.ack import RefreshAck

    class Context:  # what a served document has; the direct path needs only its presence
        id = "session"

    ack, doc, context = RefreshAck(), Document(), Context()
    doc.add_root(ack.get_root(doc))

    def message(seq: int) -> list[dict]:
        doc.hold("combine")
        with set_curdoc(doc):
            ack.send(seq)
        events, doc.callbacks._held_events = list(doc.callbacks._held_events), []
        doc.unhold()
        return Protocol().create("PATCH-DOC", events).content["events"]

    doc._session_context = weakref.ref(context)
    direct = message(3)
    assert ack.sent == 3
    doc._session_context = None
    through_param = message(4)
    assert ack.sent == 4
    assert len(direct) == len(through_param) == 1
    assert direct[0]["attr"] == "sent" and direct[0]["new"] == 3
    assert {**direct[0], "new": 4} == through_param[0]


def test_the_default_floor_keeps_a_fast_page_at_4_hz_and_no_faster():
    """Issue 17 asks for "live at 4 Hz" (a median period of 250 ms or less) beside a trainer
    the page must not slow by more than 5%: a page whose server and browser keep up refreshes
    at the default floor, 240 ms (under 250 with the callback's jitter), not faster."""
    refresher = Refresher(lambda: 0)
    assert refresher.period == FLOOR_MS == 240
    assert refresh_period(refresher.period, 1.0, 50.0) == 240  # cheap: the floor
    assert refresh_period(refresher.period, 1.0, 0.75 * 400) == 400  # a slow browser stretches it


def test_the_period_returns_to_the_floor_after_a_burst_of_costly_refreshes():
    """Within the hysteresis (a change of 25 ms or less is not made) a period stretched by a
    few costly refreshes used to stay 8-24 ms above the floor once they had passed (248 ms in
    the bench, where issue 17 asks for 250 or less): the floor itself is always taken."""
    cost = [30.0]
    refresher = Refresher(lambda: 1)
    now = [0.0]
    refresher.clock = lambda: now[0]
    refresher.callback = SimpleNamespace(period=FLOOR_MS)
    refresher.costs = SimpleNamespace(fixed_ms=cost[0], add=lambda records, ms: None)
    for _ in range(3):
        now[0] += 1.0
        refresher.tick()
        refresher.ack.acked = refresher.ack.sent  # drawn at once: the browser is quick
    assert refresher.callback.period == int(30.0 / UI_SHARE)  # stretched: 750 ms
    refresher.costs.fixed_ms = (FLOOR_MS + 20) * UI_SHARE  # within 25 ms of it: not moved
    refresher.callback.period = FLOOR_MS + 10
    now[0] += 1.0
    refresher.tick()
    refresher.ack.acked = refresher.ack.sent
    assert refresher.callback.period == FLOOR_MS + 10
    refresher.costs.fixed_ms = 1.0  # cheap again: the rule asks for the floor, and gets it
    now[0] += 1.0
    refresher.tick()
    refresher.ack.acked = refresher.ack.sent
    assert refresher.callback.period == FLOOR_MS
    refresher.callback = None
