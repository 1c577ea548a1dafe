"""The page's components on their own: the refresh period, the sliders declared on the Knobs
params, the cards picked by record kinds, the tab hook, and a Session without Panel."""

from __future__ import annotations

import html
import math
import subprocess
import sys
from unittest import mock

import numpy as np
import panel as pn
import param
import pytest

from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.knobs import Knobs, LogNumber, knob_names
from explorer.page import (
    CARDS,
    TABS,
    Dashboard,
    KnobPanel,
    cards_for,
    declared_kinds,
    refresh_period,
    register_tab,
    slider_format,
    slider_range,
    smoothed_cost,
    tab_factories,
    unregister_tab,
)
from kernels.methods import METHODS

ALWAYS = [c.name for c in CARDS if c.kinds is None]


def test_refresh_period_stretches_within_the_floor_and_the_cap():
    assert refresh_period(200, 1.0) == 200  # cheap: the user's floor
    assert refresh_period(200, 20.0) == 500  # 20 ms of fixed cost at a 4% share
    assert refresh_period(200, 1e4) == 3000  # capped
    assert refresh_period(5000, 1e4) == 5000  # a floor above the cap stands
    assert refresh_period(200, 10.0, ui_share=0.1) == 200
    with pytest.raises(ValueError, match="shares"):
        refresh_period(200, 1.0, ui_share=0)
    assert smoothed_cost(None, 7.0) == 7.0
    assert smoothed_cost(10.0, 20.0) == pytest.approx(12.0)


def test_sliders_span_the_knobs_soft_bounds():
    for name in knob_names():
        p = Knobs.param[name]
        lo, hi, step, log = slider_range(name)
        assert log == isinstance(p, LogNumber)
        assert (lo, hi) == (p.softbounds or p.bounds)
        assert p.bounds[0] <= lo < hi <= p.bounds[1]
        assert step is not None and step > 0
        if log:
            assert lo > 0
    # the lambda slider ends at its soft bound 0.1, not at 1.0 (issue 11)
    panel = KnobPanel(Knobs())
    lam = panel.widgets["lam"]
    assert (lam.start, lam.end) == (pytest.approx(-6.0), pytest.approx(-1.0))
    assert panel.widgets["growth_every"].end == 1000


def test_sliders_follow_knobs_set_elsewhere_and_set_knobs_on_release():
    knobs = Knobs()
    panel = KnobPanel(knobs, method="tiny")
    knobs.lam = 1e-4  # a notebook or a snapshot sets it
    assert panel.widgets["lam"].value == pytest.approx(-4.0)
    knobs.lam = 0.5  # beyond the soft bound: the slider shows its end
    assert panel.widgets["lam"].value == pytest.approx(-1.0)
    with param.edit_constant(panel.widgets["tau"]):  # what a slider release sends
        panel.widgets["tau"].value_throttled = -2.0
    assert knobs.tau == pytest.approx(1e-2)
    assert {n for n, r in panel.rows.items() if r.visible} == set(METHODS["tiny"].knobs)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_cards_follow_the_record_kinds_a_method_declares(method):
    kinds = declared_kinds(method)
    assert kinds == frozenset(METHODS[method].record_kinds)
    shown = cards_for(kinds)
    assert shown[: len(ALWAYS)] == ALWAYS
    assert ("tiny" in shown) == (method == "tiny")
    assert ("shrinknets" in shown) == (method == "shrinknets")
    board = Dashboard(method=method)
    visible = [name for name, card in board.cards.items() if card.visible]
    assert visible == shown
    assert board.views == {}  # a page load builds no figure; a run start does
    board.fill()
    # the views of hidden cards are not built at all (a page pays only for its method)
    assert ("spectrum" in board.views) == (method == "tiny")
    assert ("switches" in board.views) == (method == "shrinknets")


def test_records_of_another_kind_show_their_card_and_a_new_run_hides_it():
    board = Dashboard(method="static")
    assert not board.cards["shrinknets"].visible and board.hint.visible
    switch = {
        "kind": "switch",
        "step": 1,
        "layer": np.zeros(3, dtype=np.int64),
        "unit_id": np.arange(3),
        "value": np.ones(3, dtype=np.float32),
        "live": np.ones(3, dtype=bool),
        "sign_variance": np.zeros(3, dtype=np.float32),
        "sign_changes": np.zeros(3, dtype=np.int64),
        "input_neurons": 10,
    }
    assert board.update({"switch": [switch]}) == []
    assert board.cards["shrinknets"].visible and "switches" in board.views
    assert not board.hint.visible
    board.new_run(board.history)
    assert not board.cards["shrinknets"].visible and board.hint.visible
    board.method = "shrinknets"
    assert board.cards["shrinknets"].visible


def test_tabs_are_registered_or_given_per_page():
    seen = []

    def factory(app):
        seen.append(app)
        return pn.pane.Markdown("runs", name="runs_tab")

    before = list(TABS)  # tabs other modules registered at import (e.g. "landscape")
    register_tab("runs", factory)
    try:
        app = ExplorerApp(tabs={"mine": lambda a: pn.pane.Markdown("mine")})
        assert list(tab_factories({"x": factory})) == [*before, "runs", "x"]
        main = app.main()
        tabs = main[-1]
        assert isinstance(tabs, pn.Tabs) and tabs._names == ["live", *before, "runs", "mine"]
        assert seen == [app]
        with pytest.raises(KeyError, match="did you mean 'runs'"):
            unregister_tab("run")
    finally:
        unregister_tab("runs")
    with mock.patch.dict(TABS, clear=True):
        assert not isinstance(ExplorerApp().main()[-1], pn.Tabs)  # one tab: no tab bar
    with pytest.raises(ValueError, match="other than 'live'"):
        register_tab("live", factory)


def test_replay_progress_is_measured_against_its_own_steps():
    from explorer.history import History
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(RunConfig(hidden=[4], eval_every=10), sink=history.add)
    trainer.run(30)
    app = ExplorerApp.from_history(history, trainer.config.to_dict())
    assert app.status_bar.progress.value == 100
    app.scrubber.scrub_to(15)
    assert app.status_bar.progress.value == 50


@pytest.mark.slow
def test_session_imports_no_panel():
    code = (
        "import sys, explorer.session; "
        "assert 'panel' not in sys.modules and 'bokeh' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_log_slider_math_round_trips():
    assert math.isclose(10 ** KnobPanel._shown("lr", 1e-3), 1e-3)


@pytest.mark.slow
def test_a_script_that_never_closes_its_explorer_exits_cleanly():
    # the README's notebook snippet run as a plain script aborted at exit (rc 134,
    # "terminate called without an active exception"): close_all joins the trainer at exit
    code = (
        "import explorer\n"
        "ex = explorer.Explorer(method='static', hidden=(4,), steps=10**7)\n"
        "ex.start(); ex.wait(steps=5)\n"
        "with explorer.Explorer(method='static', hidden=(4,)) as other:\n"
        "    pass\n"
        "print('done', ex.state, other.state)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "done running idle" in out.stdout
    assert "terminate called" not in out.stderr


def test_slider_labels_show_each_knob_at_its_own_precision():
    """A label rounds to the decimals of its param's step: lam2's 1e-4 default reads 0.0001
    (it read "0" with the slider's default two decimals); log sliders are scientific."""
    panel = KnobPanel(Knobs())
    for name in knob_names():
        widget, value = panel.widgets[name], getattr(Knobs(), name)
        if isinstance(Knobs.param[name], LogNumber):
            assert "toExponential" in widget.format.code, name
            continue
        decimals = len(slider_format(name).partition(".")[2])
        assert widget.format == slider_format(name), name
        assert value == 0 or round(value, decimals) != 0, (name, value, decimals)
    assert slider_format("lam2") == "0.0000" and slider_format("gamma") == "0.00"
    assert slider_format("growth_every") == "0,0" and slider_format("radial_lr") == "0,0"


def test_status_line_while_training_is_redrawn_at_most_once_a_second():
    from explorer.page import StatusBar
    from explorer.page.status import TRAINING_EVERY_S

    bar = StatusBar()
    now = [100.0]
    bar.clock = lambda: now[0]
    bar.show("**running** · step 1", None, training=True)
    now[0] += 0.25
    bar.show("**running** · step 80", None, training=True)
    assert bar.text == "**running** · step 1"  # same state, too soon: skipped
    bar.show("**paused** · step 90", None, training=True)
    assert bar.text == "**paused** · step 90"  # a new state shows at once
    bar.show("**running** · step 91", None, training=True)
    bar.pending("pausing")
    bar.show("**running** · step 95", None, training=True)
    assert bar.text == "**running** · step 95"  # after a button: the next one shows
    now[0] += TRAINING_EVERY_S
    bar.show("**running** · step 400", 40, training=True)
    assert bar.text == "**running** · step 400" and bar.progress.value == 40
    bar.show("**replay** · step 10", 10)
    bar.show("**replay** · step 5", 5)  # not training: every line shows
    assert bar.text == "**replay** · step 5" and bar.progress.value == 5


def test_status_line_is_drawn_as_the_markdown_pane_drew_it():
    """``line_html`` gives the HTML the Markdown pane made of the line (markdown-it as the
    oracle), escaped text included."""
    from explorer.page.status import line_html

    lines = [
        "**running** · device cpu · step 12 · sizes [10, 10] · loss 0.5",
        "**pausing…** · a<b & c > d",
        "no state word",
    ]
    for line in lines:
        rendered = pn.pane.Markdown(line)._transform_object(line)["object"]
        assert html.escape(line_html(line)) == rendered.rstrip("\n")


def test_status_line_reaches_the_browser_as_the_param_change_did():
    """On a served page the line is written on the rendered model (Panel's param-to-model
    trip cost 0.6-1.0 ms a line): the PATCH-DOC must carry the same change as the param's
    own path, which a page without a session still takes; the param is kept in step."""
    import weakref

    from bokeh.document import Document
    from bokeh.protocol import Protocol
    from panel.io.state import set_curdoc

    from explorer.page import StatusBar
    from explorer.page.status import line_html

    class Context:  # what a served document has; the direct path needs only its presence
        id = "session"

    bar, doc, context = StatusBar(), Document(), Context()
    doc.add_root(bar.line.get_root(doc))

    def message(line: str) -> list[dict]:
        doc.hold("combine")
        with set_curdoc(doc):
            bar.show(line, None)
        events, doc.callbacks._held_events = list(doc.callbacks._held_events), []
        doc.unhold()
        return Protocol().create("PATCH-DOC", events).content["events"]

    doc._session_context = weakref.ref(context)
    direct = message("**running** · step 3 · a<b")
    assert bar.text == "**running** · step 3 · a<b"
    assert bar.line.object == line_html(bar.text)
    doc._session_context = None
    through_param = message("**paused** · step 4")
    assert bar.line.object == line_html("**paused** · step 4")
    assert len(direct) == len(through_param) == 1
    assert direct[0]["attr"] == "text" and "&lt;strong&gt;running" in direct[0]["new"]
    assert {**direct[0], "new": through_param[0]["new"]} == through_param[0]
    assert direct[0]["new"] == html.escape(line_html("**running** · step 3 · a<b"))


def test_status_line_shows_a_small_loss_in_significant_digits():
    from explorer.session import status_line

    step = {"step": 9, "epoch": 1.0, "sizes": [3], "loss": 3.1e-05}
    assert "loss 3.1e-05" in status_line("training", "cpu", step, None)
    assert "loss 0.2345" in status_line("training", "cpu", {**step, "loss": 0.23451}, None)
