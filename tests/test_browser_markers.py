"""The validation curves' markers are drawn only while the evaluations in view are far enough
apart to read as points, and hide with their line (explorer/views/markers.py)."""

from __future__ import annotations

import pytest
from conftest import lean_page

from explorer.views.markers import SPACING_PX

pytestmark = pytest.mark.browser

#: streams ``n`` evaluations (steps ``first``, ``first + 50``, ...) into the loss view's eval
#: source in the browser, as a server stream arrives, then sets the step axis to
#: ``[start, end]`` when given; resolves to the markers' visibility in (loss, accuracy) and
#: the loss plot's inner width
STREAM = """([first, n, start, end]) => new Promise((resolve) => {
  const doc = Bokeh.documents[0];
  const source = doc.get_model_by_name("loss_eval");
  const step = [...Array(n).keys()].map((k) => first + 50 * k);
  source.stream({step, val_loss: step.map(() => 0.5), val_acc: step.map(() => 0.9)});
  const axis = doc.get_model_by_name("step_axis");
  if (start !== null) axis.setv({start, end});
  const figs = ["loss_figure", "accuracy_figure"].map((name) => doc.get_model_by_name(name));
  const marks = figs.map((f) => f.renderers.find(
    (r) => r.data_source === source && r.glyph.type === "Scatter"));
  setTimeout(() => resolve({shown: marks.map((r) => r.visible), width: figs[0].inner_width}), 50);
})"""

#: hides (or shows) the loss plot's validation line as its legend entry does
TOGGLE_LINE = """(visible) => new Promise((resolve) => {
  const doc = Bokeh.documents[0];
  const source = doc.get_model_by_name("loss_eval");
  const fig = doc.get_model_by_name("loss_figure");
  fig.renderers.find((r) => r.data_source === source && r.glyph.type === "Line").visible = visible;
  const marks = fig.renderers.find((r) => r.data_source === source && r.glyph.type === "Scatter");
  setTimeout(() => resolve(marks.visible), 50);  // CustomJS runs asynchronously
})"""


def _page():
    import panel as pn
    from bokeh.models import Range1d

    from explorer.page.ack import RefreshAck
    from explorer.views import LossView
    from explorer.views.step_axis import STEP_AXIS

    view = LossView(x_range=Range1d(0, 1000, name=STEP_AXIS))
    return pn.Column(RefreshAck(), pn.Column(view.loss_fig, view.acc_fig, width=700))


def test_validation_markers_show_only_while_readable():
    with lean_page(_page, "__lean_paint", "the page built") as page:
        page.wait_for_timeout(500)
        few = page.evaluate(STREAM, [0, 10, None, None])
        assert few["shown"] == [True, True], few  # 10 evaluations in 1000 steps
        width = few["width"]
        assert width > 200, few
        # evaluations every 50 steps, ~one per SPACING_PX pixels at the edge
        fit = int(width // SPACING_PX)
        many = page.evaluate(STREAM, [500, fit, 0, 50 * (fit + 10)])
        assert many["shown"] == [False, False], (many, fit)
        # a zoom into a stretch of them brings the markers back
        zoomed = page.evaluate(STREAM, [10**6, 1, 1000, 2000])
        assert zoomed["shown"] == [True, True], zoomed
        # hiding the line (its legend entry) hides its markers, and only its own
        assert page.evaluate(TOGGLE_LINE, False) is False
        assert page.evaluate(STREAM, [2 * 10**6, 1, None, None])["shown"] == [False, True]
        assert page.evaluate(TOGGLE_LINE, True) is True
