"""The live plots in Chromium across runs: a new run's step axis starts afresh (issue 12).

BokehJS's DataRange1d keeps the data bounds of every plot view that ever drew with it and
never forgets one; a plot drawn again (a tab switch, a card shown again) leaves its old view's
bounds behind, so a shared step axis kept the previous run's extent (a TINY run at step
11278 drawn on an axis to 16000).
"""

from __future__ import annotations

import re

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


def test_a_new_run_starts_the_step_axis_afresh(served):
    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1366, 900), timeout_ms=240_000) as page:
        page.get_by_role("button", name="start").click(timeout=180_000)
        wait_for(lambda: apps and apps[0].status == "running", what="first run", page=page)
        app = apps[0]
        wait_for(lambda: _step(app) >= 3000, timeout=240, what="3000 steps", page=page)
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
        page.get_by_role("button", name="start").click(timeout=180_000)  # a new run
        wait_for(
            lambda: app.status == "running" and 0 < _step(app) < first,
            what="second run",
            page=page,
        )
        app.pause()
        wait_for(lambda: app.status == "paused", what="pause", page=page)
        second = _step(app)
        assert 0 < second < first * 0.8  # paused early enough to tell the extents apart
        page.wait_for_timeout(1500)  # the last refresh drawn
        end = wait_for(lambda: _range_end(page), what="the step range", page=page)
        # the axis spans the new run (2% padding), not the first run's extent
        assert second <= end < min(first, 1.05 * second + 50), (first, second, end)
    # an auto range with no data makes BokehJS warn at each render (issue 12: 300-400 a
    # session before the empty figures got an anchor); none over two runs and a tab switch
    unranged = [t for _, t in console if "could not set initial ranges" in t or "log axis" in t]
    assert unranged == []
