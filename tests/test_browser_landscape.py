"""The main page's "landscape" tab in headless Chromium: with a run training in its child
process, "landscape of this network now" draws the network's loss contour while training goes
on, and the page logs no errors."""

from __future__ import annotations

import pytest
from conftest import open_page, wait_for
from test_browser import served  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser

# the title of the network's contour plot (explorer.landscape.views.network_now) in the page
CONTOUR_TITLE = """() => [...Bokeh.documents[0].all_models].some(
    (m) => typeof m.text === "string" && m.text.startsWith("loss, top Hessian eig"))"""


def test_landscape_of_this_network_now_in_the_browser(served):  # noqa: F811
    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console) as page:
        app = apps[0]
        page.get_by_role("button", name="start").click()
        wait_for(
            lambda: (app.session.last["step"] or {}).get("step", 0) > 20,
            what="training steps",
            page=page,
        )
        page.get_by_text("landscape", exact=True).first.click()
        page.get_by_role("button", name="landscape of this network now").click()
        wait_for(
            lambda: page.get_by_text("this network: done").count() > 0,
            timeout=240,
            what="the analysis to finish",
            page=page,
        )
        steps_then = app.session.last["step"]["step"]
        wait_for(lambda: page.evaluate(CONTOUR_TITLE), what="the contour plot", page=page)
        # training went on beside the analysis
        wait_for(
            lambda: app.session.last["step"]["step"] > steps_then,
            what="training to go on",
            page=page,
        )
    errors = [t for kind, t in console if kind == "error"]
    assert not errors, errors
