"""Every registered sizing method on one served page, one run after another: the idle page
shows its hint; each run fills every card shown for its method (data read from the Bokeh
document in the browser), shows no error banner and writes no console error; cards of other
methods stay hidden."""

from __future__ import annotations

import re

import pytest
from conftest import open_page, wait_for

pytestmark = pytest.mark.browser

#: the Bokeh sources (by name) that must hold data when a card shows during a run. Cards not
#: listed fill only on a user action: "selected units" draws the units one clicks (covered by
#: test_browser.py) and ShrinkNets' group-sparsity plot the sweep one starts with its button.
CARD_SOURCES = {
    "loss": ("loss_steps",),
    "sizes": ("sizes_steps",),
    "units": ("units_scatter",),
    "lifetimes": ("lifetimes",),
    "tradeoff": ("tradeoff_run",),
    "tiny": ("spectrum_points",),
    "shrinknets": ("switch_points", "cost_steps"),
}
#: the cards only one method shows (decided by the record kinds it declares)
METHOD_CARDS = {"tiny": {"tiny"}, "shrinknets": {"shrinknets"}}

#: rows of a Bokeh source in the browser (its longest column; -1 when the page has none)
ROWS = """(name) => {
  const m = Bokeh.documents[0].get_model_by_name(name);
  return m ? Math.max(0, ...Object.values(m.data).map((c) => c.length ?? 0)) : -1;
}"""

#: visible error banners (Panel's Alert pane of type danger) in the page, through shadow roots
DANGER_ALERTS = """() => {
  const found = [];
  function walk(root) {
    for (const el of root.querySelectorAll('*')) {
      if (el.classList && el.classList.contains('alert-danger') && el.getClientRects().length > 0
          && el.textContent.trim()) found.push(el.textContent.trim());
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  }
  walk(document);
  return found;
}"""


@pytest.fixture
def served_default(serve):
    """The page as `python -m explorer serve` builds it, default knobs, short eval periods."""
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig

    return serve(lambda: ExplorerApp(RunConfig(eval_every=20, units_every=5), trainer_in="process"))


def test_every_method_fills_its_cards_without_alerts(served_default):
    from explorer.page.dashboard import cards_for, declared_kinds
    from kernels.methods import METHODS

    url, apps = served_default
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1366, 768)) as page:
        app = apps[0]
        # the idle page explains itself
        hint = page.get_by_text("Pick a sizing method", exact=False).first
        hint.wait_for(state="visible", timeout=30_000)
        # with what each card of the default method will show, and no card of another one
        page.get_by_text("training loss per step", exact=False).first.wait_for(
            state="visible", timeout=10_000
        )
        assert page.get_by_text("eigenvalues at each growth step").count() == 0
        method_select = (
            page.locator("select")
            .filter(has=page.locator("option", has_text=re.compile("^nonparametric$")))
            .first
        )
        assert sorted(METHODS) == ["nonparametric", "shrinknets", "static", "tiny"]
        for method in sorted(METHODS):
            method_select.select_option(method)
            wait_for(
                lambda method=method: app.form.method == method,
                what=f"the form to name {method}",
                page=page,
            )
            page.get_by_role("button", name="start").click()
            shown = cards_for(declared_kinds(method))
            for other, cards in METHOD_CARDS.items():
                if other != method:
                    assert not cards & set(shown), (method, shown)
            wait_for(
                lambda method=method: (
                    app.session.last_method() == method and app.status == "running"
                ),
                what=f"{method} to run",
                page=page,
            )
            names = [s for card in shown for s in CARD_SOURCES.get(card, ())]

            def empty(names=names, method=method):
                alerts = page.evaluate(DANGER_ALERTS)  # a banner fails at once
                assert alerts == [], (method, alerts)
                danger = (
                    app.status_bar.alert.visible and app.status_bar.alert.alert_type == "danger"
                )
                assert not danger, (method, app.status_bar.alert.object)
                return [n for n in names if page.evaluate(ROWS, n) <= 0]

            try:
                wait_for(
                    lambda empty=empty: not empty(),
                    timeout=120,
                    what=f"{method}: data in {names}",
                    page=page,
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}; empty: {empty()}") from None
            page.wait_for_timeout(2000)  # a few seconds of training and refreshes
            alerts = page.evaluate(DANGER_ALERTS)
            assert alerts == [], (method, alerts)
            assert not (
                app.status_bar.alert.visible and app.status_bar.alert.alert_type == "danger"
            ), (
                method,
                app.status_bar.alert.object,
            )
            errors = [t for kind, t in console if kind == "error"]
            assert errors == [], (method, errors)
            visible = {name for name, card in app.dashboard.cards.items() if card.visible}
            assert visible == set(shown), (method, visible, shown)
            # a loaded 2-core machine starves the browser while it draws a ShrinkNets run
            # (5 animation frames in 3 s measured): Playwright's "stable" check of the button
            # then needs far more than its default 30 s, though the button never moves
            page.get_by_role("button", name="stop").click(timeout=180_000)
            wait_for(lambda: app.status == "stopped", what=f"{method} to stop", page=page)
    # no console error at all: the BokehJS RangeError of a run that follows another (fixed
    # in b738583) was allowed as xfail until 3 runs in a row here showed none (session 4)
    errors = [t for kind, t in console if kind == "error"]
    assert errors == [], errors
