"""A stream sets each glyph renderer's data once in the browser, not twice
(explorer/page/lean_data.py, changes 11 and 12), and the glyph then holds every row."""

from __future__ import annotations

import pytest
from conftest import lean_page

pytestmark = pytest.mark.browser

#: streams one row into the page's source (in the browser, as a server stream arrives) and
#: counts what the line's renderer did about it before the next task: its glyph's
#: ``set_data`` and ``set_visuals`` calls, and the rows the glyph holds then
STREAM_ONCE = """() => new Promise((resolve) => {
  const doc = Bokeh.documents[0];
  const source = doc.get_model_by_name("lean_rows");
  const fig = doc.get_model_by_name("lean_figure");
  const view = Bokeh.index.find_one(fig.renderers[0]);
  const set_data = view.glyph.set_data;
  const set_visuals = view.glyph.set_visuals;
  let data = 0, visuals = 0;
  view.glyph.set_data = function (...args) { data += 1; return set_data.apply(this, args); };
  view.glyph.set_visuals = function (...args) {
    visuals += 1;
    return set_visuals.apply(this, args);
  };
  const n = source.get_length();
  source.stream({x: [n], y: [n * n]});
  setTimeout(() => {
    view.glyph.set_data = set_data;
    view.glyph.set_visuals = set_visuals;
    resolve({data, visuals, rows: view.glyph.data_size, n: source.get_length(),
             lean: Bokeh.__lean_data === true});
  }, 0);
})"""


def _page():
    import panel as pn
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    from explorer.page.ack import RefreshAck

    source = ColumnDataSource({"x": [0, 1, 2], "y": [0, 1, 4]}, name="lean_rows")
    fig = figure(name="lean_figure", width=400, height=300)
    fig.line("x", "y", source=source)
    return pn.Column(RefreshAck(), pn.pane.Bokeh(fig))


def test_a_stream_sets_a_renderers_data_once():
    with lean_page(_page, "__lean_data", "the lean data changes installed") as page:
        for _ in range(3):
            counts = page.evaluate(STREAM_ONCE)
            assert counts["data"] == 1, counts  # 2 without change 11
            assert counts["visuals"] == 1, counts  # the one in set_data (change 12)
            assert counts["rows"] == counts["n"], counts
