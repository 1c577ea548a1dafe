"""A scatter's markers set their style once while it stays the same, and draw the same
picture (explorer/page/lean_paint.py, change 13)."""

from __future__ import annotations

import pytest
from conftest import open_page, require_chromium, start_server, wait_for

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
    require_chromium()
    url, server = start_server(_page)
    console: list[tuple[str, str]] = []
    try:
        with open_page(url, console) as page:
            wait_for(
                lambda: page.evaluate("() => window.Bokeh?.__lean_paint === true"),
                what="the lean paint change installed",
                page=page,
            )
            for name in ("uniform", "by_row"):
                got = page.evaluate(DRAW_BOTH, name)
                assert got["installed"] and got["markers"] == 200, got
                assert got["drawn"] > 1000, got  # the markers were drawn
                assert got["differ"] == 0, got  # the same picture
                assert got["each"] == 200, got  # BokehJS: a dash array per marker
                # the page: one per style change (the row alphas change 3 times)
                assert got["lean"] == (1 if name == "uniform" else 4), got
    finally:
        server.stop()
    assert [t for kind, t in console if kind == "error"] == []


#: counts the swatch draws of every legend entry (by label) while ``action`` changes the
#: page, once the plot has painted; then checks each swatch against a paint of the plot that
#: draws every entry again (what BokehJS does at every paint): pixel-equal or not
SWATCHES = """(action) => new Promise((resolve) => {
  const doc = Bokeh.documents[0];
  const legend = doc.get_model_by_name("lean_legend");
  const view = Bokeh.index.find_one(legend);
  const counts = {};
  const restore = [];
  for (const entry of view.entries) {
    const prepare = entry.glyph.prepare;
    counts[entry.label] = 0;
    entry.glyph.prepare = function (...args) {
      counts[entry.label] += 1;
      return prepare.apply(this, args);
    };
    restore.push(() => { entry.glyph.prepare = prepare; });
  }
  // row and column 0 left out: BokehJS clears a swatch at a half-pixel offset, so a line
  // reaching the left edge leaves there a trace that each redraw darkens
  const pixels = () => view.entries.map(({glyph}) => {
    const c = glyph.canvas;
    return Array.from(glyph.ctx.getImageData(1, 1, c.width - 1, c.height - 1).data);
  });
  const fig = doc.get_model_by_name("lean_figure");
  if (action == "range") fig.x_range.start = fig.x_range.start - 0.5;
  if (action == "restyle") {
    doc.get_model_by_name("dots_rows").patch({alpha: [[0, 0.9]]});
  }
  if (action == "first rows") doc.get_model_by_name("later_rows").stream({x: [1, 2], y: [3, 1]});
  const frame = (then) => requestAnimationFrame(() => setTimeout(then, 0));
  const painted = (then) => requestAnimationFrame(() => frame(then));
  painted(() => {
    restore.forEach((f) => f());
    const lean = pixels();
    for (const entry of view.entries) delete entry.__swatch;  // each drawn at the next paint
    view.plot_view.request_paint(view);
    painted(() => {
      const stock = pixels();
      const same = lean.map((p, k) => p.every((v, j) => v === stock[k][j]));
      const drawn = stock.map((p) => p.some((v) => v !== 0));
      resolve({counts, same, drawn, labels: view.entries.map((e) => e.label),
               installed: Bokeh.__lean_paint === true});
    });
  });
})"""


def _legend_page():
    import panel as pn
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    from explorer.page.ack import RefreshAck

    fig = figure(name="lean_figure", width=400, height=300, x_range=Range1d(0, 10))
    fig.line([0, 5, 10], [1, 3, 2], legend_label="line")
    dots = ColumnDataSource({"x": [2, 4, 6], "y": [2, 2, 2], "alpha": [0.2, 0.5, 1.0]})
    dots.name = "dots_rows"
    fig.scatter("x", "y", source=dots, alpha="alpha", size=10, legend_label="dots")
    later = ColumnDataSource({"x": [], "y": []}, name="later_rows")
    fig.line("x", "y", source=later, color="red", legend_label="later")
    fig.legend[0].name = "lean_legend"
    return pn.Column(RefreshAck(), pn.pane.Bokeh(fig))


def test_legend_swatches_are_drawn_again_only_when_what_they_show_changed():
    require_chromium()
    url, server = start_server(_legend_page)
    console: list[tuple[str, str]] = []
    try:
        with open_page(url, console) as page:
            wait_for(
                lambda: page.evaluate("() => window.Bokeh?.__lean_paint === true"),
                what="the lean paint changes installed",
                page=page,
            )
            page.wait_for_timeout(500)
            page.evaluate(SWATCHES, "range")  # the plot may have painted before the change
            for action, redrawn, later in (
                ("range", set(), False),  # BokehJS: every swatch at every paint
                ("restyle", {"dots"}, False),  # its first row's alpha: the swatch's
                ("first rows", {"later"}, True),  # no rows, no swatch; then one
                ("range", set(), True),
            ):
                got = page.evaluate(SWATCHES, action)
                assert got["installed"] and got["labels"] == ["line", "dots", "later"], got
                assert all(got["same"]), (action, got)  # each swatch as BokehJS draws it
                assert got["drawn"] == [True, True, later], (action, got)
                drawn_again = {label for label, n in got["counts"].items() if n}
                assert drawn_again == redrawn, (action, got["counts"])
    finally:
        server.stop()
    assert [t for kind, t in console if kind == "error"] == []
