"""The live plots in Chromium across runs: a new run's step axis starts afresh (issue 12).

BokehJS's DataRange1d keeps the data bounds of every plot view that ever drew with it and
never forgets one; a plot drawn again (a tab switch, a card shown again) leaves its old view's
bounds behind, so a shared step axis kept the previous run's extent (a TINY run at step
11278 drawn on an axis to 16000). The live page's step axis is now set from the server
(explorer/views/step_axis.py): it follows each run and leaves a user's pan alone until Reset.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import open_page, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def served(serve):
    """The page as `python -m explorer serve` builds it (the trainer in a child process)."""
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig

    config = RunConfig(hidden=[10, 10], eval_every=20, units_every=5, knobs={"growth_every": 10})
    return serve(lambda: ExplorerApp(config, trainer_in="process"))


def _step(app) -> int:
    last = app.history.last("step")
    return int(last["step"]) if last else 0


def _range_end(page) -> float:
    """The end of the step axis the sizes plot draws with (its x range)."""
    return page.evaluate("() => Bokeh.documents[0].get_model_by_name('sizes_figure').x_range.end")


def _first_run(page, apps, steps: int):
    """Start the page's first run and wait until it has taken ``steps`` steps; its app."""
    page.get_by_role("button", name="start").click(timeout=180_000)
    wait_for(lambda: apps and apps[0].status == "running", what="first run", page=page)
    app = apps[0]
    wait_for(lambda: _step(app) >= steps, timeout=240, what=f"{steps} steps", page=page)
    return app


def test_a_new_run_starts_the_step_axis_afresh(served):
    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1366, 900), timeout_ms=240_000) as page:
        app = _first_run(page, apps, 3000)
        app.pause()
        wait_for(lambda: app.status == "paused", what="pause", page=page)
        first = _step(app)
        wait_for(lambda: _range_end(page) >= first, what="the axis to reach the run", page=page)
        # the live plots drawn again: their old plot views keep their bounds in the range
        page.locator(".bk-tab").filter(has_text=re.compile(r"^\s*landscape\s*$")).click(
            timeout=180_000
        )
        page.wait_for_timeout(1000)
        page.locator(".bk-tab").filter(has_text=re.compile(r"^\s*live\s*$")).click(timeout=180_000)
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="stop").click(timeout=180_000)
        wait_for(lambda: app.status == "stopped", what="stop", page=page)
        # the new run ends at a quarter of the first run's steps: its extent is told apart
        # from the first one's however far the page's refreshes lag behind the trainer
        app.form.max_steps = first // 4
        page.get_by_role("button", name="start").click(timeout=180_000)  # a new run
        wait_for(lambda: app.status == "finished", timeout=240, what="second run", page=page)
        second = _step(app)
        assert 0 < second <= first // 4 + 1
        page.wait_for_timeout(1500)  # the last refresh drawn
        end = wait_for(lambda: _range_end(page), what="the step range", page=page)
        # the axis spans the new run (2% padding), not the first run's extent
        assert second <= end < min(first, 1.05 * second + 50), (first, second, end)
        assert page.evaluate(_PAINTS_AFTER_RANGE_FIT_JS) == 1
    # an auto range with no data makes BokehJS warn at each render (issue 12: 300-400 a
    # session before the empty figures got an anchor); none over two runs and a tab switch
    unranged = [t for _, t in console if "could not set initial ranges" in t or "log axis" in t]
    assert unranged == []


#: paints of the loss plot after its auto y range is moved away from its data: the paint that
#: follows fits the range back, and that move must not ask for a second paint (lean_bokeh.py,
#: change 6)
_PAINTS_AFTER_RANGE_FIT_JS = """() => new Promise((resolve) => {
  const fig = Bokeh.documents[0].get_model_by_name("loss_figure");
  const view = Bokeh.index.find_one(fig);
  let paints = 0;
  const own = view._actual_paint;
  view._actual_paint = function () { paints += 1; return own.call(this); };
  view._range_manager.invalidate_dataranges = true;
  fig.y_range.setv({start: fig.y_range.start / 10});
  setTimeout(() => { delete view._actual_paint; resolve(paints); }, 600);
})"""

#: the middle of the sizes plot's frame, in page coordinates
_FRAME_MIDDLE_JS = """() => {
  const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('sizes_figure'));
  const rect = view.canvas_view.el.getBoundingClientRect();
  const {x, y, width, height} = view.frame.bbox;
  return [rect.left + x + width / 2, rect.top + y + height / 2];
}"""


def test_a_panned_step_axis_stays_put_until_reset(served):
    """The step axis follows the run from the server (explorer/views/step_axis.py) but
    leaves a user's pan alone; the plot's Reset gives it back to the run."""
    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1366, 900), timeout_ms=240_000) as page:
        app = _first_run(page, apps, 500)
        x, y = page.evaluate(_FRAME_MIDDLE_JS)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 150, y, steps=6)  # the pan tool: drag to see later steps
        page.mouse.up()
        axis = app.dashboard.step_axis
        wait_for(lambda: not axis.following, what="the server to hear the pan", page=page)
        panned = _range_end(page)
        step = _step(app)
        wait_for(lambda: _step(app) > 2 * step + 200, timeout=240, what="more steps", page=page)
        page.wait_for_timeout(1000)
        assert _range_end(page) == panned  # not pulled back to the run's end
        page.evaluate(
            "() => Bokeh.index.find_one("
            "Bokeh.documents[0].get_model_by_name('sizes_figure')).reset()"
        )  # what the Reset tool does
        wait_for(lambda: axis.following, what="the axis to follow again", page=page)
        wait_for(
            lambda: _range_end(page) > _step(app) - 100 > panned,
            what="the axis at the run's end again",
            page=page,
        )


_ROWS_JS = """names => Object.fromEntries(names.map(name => {
    const source = Bokeh.documents[0].get_model_by_name(name);
    const column = source ? Object.values(source.data)[0] : undefined;
    return [name, column === undefined ? null : column.length];
}))"""

_LIVING_JS = """() => {
    const doc = Bokeh.documents[0];
    const rows = Array.from(doc.get_model_by_name('lifetimes').data.living_row);
    const y = doc.get_model_by_name('lifetimes_figure').y_range;
    return {living: rows.filter(Number.isFinite).length, y_end: y.end};
}"""


def _source_rows(app) -> dict[str, int]:
    """Rows of every named source of the page's views, on the server."""
    return {
        source.name: len(next(iter(source.data.values()), ()))
        for view in app.dashboard.views.values()
        for source in view.sources()
        if source.name
    }


def test_a_second_run_of_another_method_draws_only_its_own_rows(served, monkeypatch):
    """Nonparametric, then ShrinkNets on the same page: the browser's copy of every source
    holds what the server's does, and "living only" lifetimes span only the living units.

    The defect (issue 12): a refresh that empties a source (a new run; a card redrawn from
    the History after a tab switch) and then streams rows into it sent the streamed rows
    twice. Bokeh kept the emptying as a held event that holds the source's live columns,
    which the stream filled before the refresh was sent. ShrinkNets' lifetimes had 400 rows
    in the browser for its 200 first units, the copies never patched: bars at step 0 up to
    row 199 and a y axis to 200 with ~20 units alive."""
    from explorer.runner import RunnerCommands

    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1366, 900), timeout_ms=240_000) as page:
        app = _first_run(page, apps, 300)
        page.get_by_role("button", name="stop").click(timeout=180_000)
        wait_for(lambda: app.status == "stopped", what="stop", page=page)

        # the new run's first records reach the page in one refresh (as they do when the
        # refresh period is stretched on a busy machine): its reset and its first rows
        drain = RunnerCommands.drain
        waiting: list[dict] = []
        gate = {"open": False}

        def gathered(self, limit=None):
            waiting.extend(drain(self, limit))
            if not gate["open"]:
                return []
            out = list(waiting)
            waiting.clear()
            return out

        monkeypatch.setattr(RunnerCommands, "drain", gathered)
        select = page.locator("select").filter(
            has=page.locator("option", has_text=re.compile("^shrinknets$"))
        )
        select.first.select_option("shrinknets", timeout=180_000)
        wait_for(lambda: app.form.method == "shrinknets", what="method", page=page)
        page.get_by_role("button", name="start").click(timeout=180_000)
        wait_for(lambda: any(r.get("kind") == "units" for r in waiting), what="a table")
        gate["open"] = True
        wait_for(lambda: app.status == "running", what="the ShrinkNets run", page=page)

        def living() -> int:
            rows = app.dashboard.views["lifetimes"].source.data["living_row"]
            return int(np.isfinite(np.asarray(rows, dtype=float)).sum())

        # ShrinkNets starts with 100 + 100 units and eliminates most of them early
        wait_for(lambda: 0 < living() < 150, timeout=300, what="eliminations", page=page)
        # the live plots drawn again from the History (another tab was open)
        for tab in ("landscape", "live"):
            page.locator(".bk-tab").filter(has_text=re.compile(rf"^\s*{tab}\s*$")).click(
                timeout=180_000
            )
            page.wait_for_timeout(1000)
        app.pause()
        wait_for(lambda: app.status == "paused", what="pause", page=page)
        server = _source_rows(app)
        assert server["lifetimes"] == 200  # ShrinkNets' first units; it adds none

        def browser() -> dict:
            return page.evaluate(_ROWS_JS, sorted(server))

        try:
            wait_for(lambda: browser() == server, timeout=120, what="the rows", page=page)
        except AssertionError:
            assert browser() == server  # says which sources differ
        shown = page.evaluate(_LIVING_JS)
        assert shown["living"] == living(), (shown, living())
        # the y axis spans the living rows 0 .. living-1 (it spanned 0-200 with ~20 alive)
        assert living() - 1 < shown["y_end"] < 1.1 * living() + 1, (shown, living())
