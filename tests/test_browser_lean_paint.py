"""A scatter's markers set their style once while it stays the same, and draw the same
picture (explorer/page/lean_paint.py, change 13)."""

from __future__ import annotations

import pytest
from conftest import lean_page

pytestmark = pytest.mark.browser

#: draws the named scatter's glyph into two fresh canvases, once as the page draws it and
#: once marker by marker as BokehJS does (``_paint_each``), counting the dash-array sets of
#: each; returns the counts and whether the two pictures are equal, pixel for pixel
DRAW_BOTH = """(name) => {
  const doc = Bokeh.documents[0];
  const renderer = doc.get_model_by_name(name);
  const view = Bokeh.index.find_one(renderer);
  const glyph = view.glyph;
  const indices = [...Array(glyph.data_size).keys()];
  const draw = (paint) => {
    const canvas = document.createElement("canvas");
    canvas.width = 400; canvas.height = 300;
    const ctx = canvas.getContext("2d");
    const set_dash = ctx.setLineDash;
    let dashes = 0;
    ctx.setLineDash = function (...args) { dashes += 1; return set_dash.apply(this, args); };
    paint.call(glyph, ctx, indices, glyph);
    return {dashes, pixels: ctx.getImageData(0, 0, 400, 300).data};
  };
  const lean = draw(glyph._paint);
  const each = draw(glyph._paint_each ?? glyph._paint);
  let differ = 0, drawn = 0;
  for (let k = 0; k < lean.pixels.length; k++) {
    if (lean.pixels[k] !== each.pixels[k]) differ += 1;
    if (each.pixels[k] !== 0) drawn += 1;
  }
  return {lean: lean.dashes, each: each.dashes, differ, drawn, markers: indices.length,
          installed: Bokeh.__lean_paint === true};
}"""


def _page():
    import numpy as np
    import panel as pn
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    from explorer.page.ack import RefreshAck

    rng = np.random.default_rng(0)
    n = 200
    data = {
        "x": rng.uniform(0, 10, n),
        "y": rng.uniform(0, 10, n),
        # a few runs of equal alphas, as the sizes plot's merged marks
        "alpha": np.repeat([0.35, 0.58, 0.35, 0.9], n // 4),
    }
    source = ColumnDataSource(data)
    fig = figure(width=400, height=300, x_range=(0, 10), y_range=(0, 10))
    fig.scatter("x", "y", source=source, size=8, color="#2ca02c", name="uniform")
    fig.scatter("x", "y", source=source, size=6, marker="triangle", alpha="alpha", name="by_row")
    return pn.Column(RefreshAck(), pn.pane.Bokeh(fig))


def test_scatter_markers_set_their_style_once_and_draw_the_same_picture():
    with lean_page(_page, "__lean_paint", "the lean paint change installed") as page:
        for name in ("uniform", "by_row"):
            got = page.evaluate(DRAW_BOTH, name)
            assert got["installed"] and got["markers"] == 200, got
            assert got["drawn"] > 1000, got  # the markers were drawn
            assert got["differ"] == 0, got  # the same picture
            assert got["each"] == 200, got  # BokehJS: a dash array per marker
            # the page: one per style change (the row alphas change 3 times)
            assert got["lean"] == (1 if name == "uniform" else 4), got


def _sizes_page():
    import panel as pn

    from explorer.page.ack import RefreshAck
    from explorer.views import SizesView
    from explorer.views.base import group_records

    view = SizesView()
    events = [
        {"kind": "event", "step": 5, "layer": 0, "unit_id": u, "event": "born", "cause": "c"}
        for u in range(3)
    ] + [{"kind": "event", "step": 7, "layer": 0, "unit_id": 9, "event": "died", "cause": "c"}]
    view.update(group_records(events))
    return pn.Column(RefreshAck(), view)


#: clicks the sizes legend's entry ``label`` as a user would (its pointerdown); returns
#: whether each mark renderer (born, died) is visible in the browser then
CLICK_ENTRY = """(label) => new Promise((resolve) => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name("sizes_figure");
  const legend = fig.center.concat(fig.right).find((m) => m.type == "Legend");
  const view = Bokeh.index.find_one(legend);
  const entry = view.entries.find((e) => e.label == label);
  entry.el.dispatchEvent(new PointerEvent("pointerdown", {bubbles: true}));
  const source = doc.get_model_by_name("sizes_events");
  const marks = fig.renderers.filter((r) => r.data_source === source);
  // the link is a CustomJS callback, which BokehJS runs asynchronously
  setTimeout(() => resolve(marks.map((r) => r.visible)), 200);
})"""


def test_a_click_on_a_marks_legend_entry_hides_its_merged_marks():
    with lean_page(_sizes_page, "__lean_paint", "the page built") as page:
        page.wait_for_timeout(500)
        assert page.evaluate(CLICK_ENTRY, "unit born") == [False, True]
        assert page.evaluate(CLICK_ENTRY, "unit died") == [False, False]
        assert page.evaluate(CLICK_ENTRY, "unit born") == [True, False]
