"""The served explorer in headless Chromium: training fills the plots, a slider move reaches
the trainer, a mouse click on a unit highlights the same units in another plot, no console
errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import open_page, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def served(serve):
    """The page as `python -m explorer serve` builds it (the trainer in a child process),
    with short eval and growth periods."""
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig

    config = RunConfig(hidden=[10, 10], eval_every=20, units_every=5, knobs={"growth_every": 10})
    return serve(lambda: ExplorerApp(config, trainer_in="process"))


def _model_data(page, name, column):
    return page.evaluate(
        f"() => {{ const m = Bokeh.documents[0].get_model_by_name({name!r});"
        f" return m ? Array.from(m.data[{column!r}] ?? []) : null; }}"
    )


#: screen position of point ``index`` of source ``source`` in figure ``figure`` (BokehJS
#: scales of the figure's view, offset by its canvas on the page)
POINT_ON_SCREEN = """([figure, source, index]) => {
  const data = Bokeh.documents[0].get_model_by_name(source).data;
  function find(view) {
    if (view.model && view.model.name === figure) return view;
    for (const child of (view.child_views ?? [])) {
      const found = find(child);
      if (found) return found;
    }
    return null;
  }
  const roots = Bokeh.index instanceof Map ? [...Bokeh.index.values()]
                                           : Object.values(Bokeh.index);
  const plot = roots.map(find).find((v) => v);
  const box = plot.canvas_view.el.getBoundingClientRect();
  return [box.left + plot.frame.x_scale.compute(data.fan_in[index]),
          box.top + plot.frame.y_scale.compute(data.fan_out[index])];
}"""


#: figures of the live views (explorer.views) on the nonparametric page
LIVE_FIGURES = [
    "loss_figure",
    "accuracy_figure",
    "sizes_figure",
    "units_figure",
    "lifetimes_figure",
    "fan_history_figure",
    "tradeoff_figure",
]
#: names of those figures whose x or y range has no finite start and end in the browser
UNRANGED_FIGURES = """(names) => names.filter((name) => {
  const fig = Bokeh.documents[0].get_model_by_name(name);
  if (!fig) return false;
  const finite = (r) => Number.isFinite(r.start) && Number.isFinite(r.end);
  return !(finite(fig.x_range) && finite(fig.y_range));
})"""


def _selected(page, name):
    return page.evaluate(
        f"() => Array.from(Bokeh.documents[0].get_model_by_name({name!r}).selected.indices)"
    )


#: the loss plot's legend view in the browser: its first entry's element is kept on the page
#: object (``mark``) or compared with the one kept (``same``)
LEGEND_ENTRY = """(what) => {
  const fig = Bokeh.documents[0].get_model_by_name("loss_figure");
  const legend = fig.right.find((m) => m.type == "Legend");
  const view = Bokeh.index.find_one(legend);
  const el = view.entries[0].el;
  if (what == "mark") { window.__legend_entry = el; return true; }
  return window.__legend_entry === el && el.isConnected;
}"""


#: the accuracy plot's y axis measured, its range widened 1e6 times (wider tick labels: 200000
#: where 0.2 was) and measured again in the same
#: task: the kept extents (explorer/page/lean_bokeh.py, change 5) must be those of the new range
AXIS_EXTENTS = """() => {
  const fig = Bokeh.documents[0].get_model_by_name("accuracy_figure");
  const axis = Bokeh.index.find_one(fig.left[0]);
  const range = axis.ranges[0];
  const [start, end] = [range.start, range.end];
  const before = JSON.stringify(axis.extents);
  range.setv({start, end: start + 1e6 * (end - start)});
  const kept = JSON.stringify(axis.extents);
  axis.__extents_key = undefined;
  const fresh = JSON.stringify(axis.extents);
  range.setv({start, end});
  return {before, kept, fresh};
}"""
#: the loss plot's y axis: how often its tick labels are measured (``max_size``) when its extent
#: is asked for again with the same labels (0: kept, lean_bokeh.py change 8), and again with a
#: larger font (1: measured anew, and wider)
LABELS_MEASURED = """() => {
  const fig = Bokeh.documents[0].get_model_by_name("loss_figure");
  const axis = Bokeh.index.find_one(fig.left[0]);
  const labels = axis.compute_labels(axis.tick_coords.major[axis.dimension]);
  const proto = Object.getPrototypeOf(labels);
  const max_size = proto.max_size;
  let calls = 0;
  proto.max_size = function () { calls += 1; return max_size.call(this); };
  try {
    const first = axis._tick_label_extents()[0];
    calls = 0;
    const again = axis._tick_label_extents()[0];
    const same = calls;
    const size = axis.model.major_label_text_font_size;
    axis.model.major_label_text_font_size = "30px";
    calls = 0;
    const larger = axis._tick_label_extents()[0];
    const anew = calls;
    axis.model.major_label_text_font_size = size;
    return {first, again, same, larger, anew};
  } finally {
    proto.max_size = max_size;
  }
}"""
#: a glyph renderer's position style sheet on the loss plot (lean_bokeh.py change 7: written
#: once, not at every paint, since the renderer's element is empty)
GLYPH_POSITION = """() => {
  const fig = Bokeh.documents[0].get_model_by_name("loss_figure");
  const view = Bokeh.index.find_one(fig.renderers.find((r) => r.data_source?.name == "loss_steps"));
  return {css: view.position.css, painted: Bokeh.index.find_one(fig).__painted};
}"""
#: minor ticks of a log ticker over 9 decades (none: lean_bokeh.py change 9) and over 2
LOG_MINOR_TICKS = """() => {
  const { LogTicker } = Bokeh.require("models/tickers/log_ticker");
  const ticker = new LogTicker();
  const wide = ticker.get_ticks_no_defaults(1e-9, 1, null, 6);
  const narrow = ticker.get_ticks_no_defaults(1e-2, 1, null, 6);
  return [wide.major.length, wide.minor.length, narrow.major.length, narrow.minor.length];
}"""
#: how often a canvas measures a text whose width BokehJS asks for twice (once: kept after the
#: first, lean_bokeh.py change 10), and whether both widths agree with a fresh measurement
TEXT_MEASURED = """() => {
  const { text_width } = Bokeh.require("core/graphics");
  const proto = CanvasRenderingContext2D.prototype;
  const measure = proto.measureText;
  let calls = 0;
  proto.measureText = function (text) { calls += 1; return measure.call(this, text); };
  try {
    const text = `${Math.random()}`, font = "bold 17px sans-serif";
    const widths = [text_width(text, font), text_width(text, font)];
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = font;
    return {calls, widths, fresh: measure.call(ctx, text).width};
  } finally {
    proto.measureText = measure;
  }
}"""
#: when the "selected units" plot (no data while nothing is selected) last painted: it has
#: only the shared step range to follow (explorer/page/lean_bokeh.py, change 4)
FAN_PAINTED = """() => {
  const fig = Bokeh.documents[0].get_model_by_name("fan_history_figure");
  return Bokeh.index.find_one(fig).__painted ?? null;
}"""


def test_live_page_trains_links_and_takes_knobs(served):
    url, apps = served
    console: list[tuple[str, str]] = []
    with open_page(url, console) as page:
        app = apps[0]
        page.get_by_role("button", name="start").click()
        wait_for(
            lambda: len(_model_data(page, "loss_steps", "step") or []) > 30,
            what="loss points in the browser",
            page=page,
        )
        wait_for(
            lambda: len(_model_data(page, "units_scatter", "unit_id") or []) >= 20,
            what="units in the scatter",
            page=page,
        )
        wait_for(
            lambda: len(_model_data(page, "lifetimes", "unit_id") or []) >= 20,
            what="lifetime bars",
            page=page,
        )
        # the page's BokehJS is the lean one (explorer/page/lean_bokeh.py), and a legend keeps
        # its entries across refreshes (it rebuilt them at every stream of its sources)
        assert page.evaluate("() => window.Bokeh.__lean_refresh === true")
        page.evaluate(LEGEND_ENTRY, "mark")
        streamed = len(_model_data(page, "loss_steps", "step") or [])
        wait_for(
            lambda: len(_model_data(page, "loss_steps", "step") or []) != streamed,
            what="more loss points in the browser",
            page=page,
        )
        assert page.evaluate(LEGEND_ENTRY, "same")
        extents = page.evaluate(AXIS_EXTENTS)
        assert extents["kept"] == extents["fresh"] != extents["before"], extents
        measured = page.evaluate(LABELS_MEASURED)
        assert measured["same"] == 0 and measured["again"] == measured["first"], measured
        assert measured["anew"] == 1 and measured["larger"] > measured["first"], measured
        measured = page.evaluate(TEXT_MEASURED)
        assert measured["calls"] == 1 and measured["widths"] == [measured["fresh"]] * 2, measured
        wide_major, wide_minor, narrow_major, narrow_minor = page.evaluate(LOG_MINOR_TICKS)
        assert wide_major >= 5 and wide_minor == 0 and narrow_major >= 2 and narrow_minor > 0
        position = page.evaluate(GLYPH_POSITION)
        streamed = len(_model_data(page, "loss_steps", "step") or [])
        wait_for(
            lambda: (
                len(_model_data(page, "loss_steps", "step") or []) > streamed + 20
                and page.evaluate(GLYPH_POSITION)["painted"] != position["painted"]
            ),
            what="more loss points drawn",
            page=page,
        )
        assert page.evaluate(GLYPH_POSITION)["css"] == position["css"]
        # the empty "selected units" plot repaints as the run's step range moves (it kept
        # its first axis, -1..1, when the range was replaced at the run's start)
        painted = page.evaluate(FAN_PAINTED)
        wait_for(
            lambda: page.evaluate(FAN_PAINTED) != painted,
            what="the empty selected-units plot to repaint with the step range",
            page=page,
        )

        # drag the lambda slider (the first knob of the nonparametric method)
        before = app.knobs.lam
        handle = page.locator(".noUi-handle").first
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        wait_for(lambda: app.knobs.lam != before, what="lambda to change", page=page)
        assert app.knobs.lam > before
        wait_for(
            lambda: any(k["knob"] == "lam" for k in app.history.rows.get("knob", [])),
            what="the trainer to record the knob change",
            page=page,
        )
        knob = [k for k in app.history.rows["knob"] if k["knob"] == "lam"][-1]
        assert knob["old"] == pytest.approx(before) and knob["new"] == pytest.approx(app.knobs.lam)
        wait_for(
            lambda: "lam" in (_model_data(page, "knob_marks", "knob") or []),
            what="the knob mark in the loss plot",
            page=page,
        )

        # click a unit in the scatter: the same units light up in the lifetimes. Pause
        # first: a refresh between reading the ids and clicking would move index 3.
        app.pause()
        wait_for(lambda: app.runner.state == "paused", what="the run to pause", page=page)
        settled = app.history.last("step")["step"]
        wait_for(
            lambda: max(_model_data(page, "loss_steps", "step") or [0]) >= settled,
            what="the last step in the browser",
            page=page,
        )
        page.wait_for_timeout(500)
        ids = _model_data(page, "units_scatter", "unit_id")
        x, y = page.evaluate(POINT_ON_SCREEN, ["units_figure", "units_scatter", 3])
        page.mouse.click(x, y)  # the tap tool: every unit under the cursor is selected
        uid = int(ids[3])

        def scatter_selected():
            return sorted(int(ids[i]) for i in _selected(page, "units_scatter"))

        wait_for(lambda: uid in scatter_selected(), what="the clicked unit selected", page=page)
        chosen = scatter_selected()
        wait_for(
            lambda: sorted(app.dashboard.selection.unit_ids) == chosen,
            what="selection on the server",
            page=page,
        )

        def lifetime_selected():
            rows = _selected(page, "lifetimes")
            life_ids = _model_data(page, "lifetimes", "unit_id")
            return sorted(int(life_ids[i]) for i in rows)

        wait_for(lambda: lifetime_selected() == chosen, what="highlight in lifetimes", page=page)
        wait_for(
            lambda: sorted(set(_model_data(page, "fan_history", "unit_id") or [])) == chosen,
            what="fan history lines of the selected units",
            page=page,
        )
        page.wait_for_timeout(1500)
        shots = ROOT / "test-artifacts"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / "explorer.png"))
        if os.environ.get("SIZING_EXPLORER_UPDATE_SCREENSHOT"):  # refresh the README's
            shutil.copyfile(shots / "explorer.png", ROOT / "assets" / "screenshot.png")
        unranged = page.evaluate(UNRANGED_FIGURES, LIVE_FIGURES)
        page.get_by_role("button", name="stop").click()
        wait_for(lambda: app.status == "stopped", what="stop", page=page)
    errors = [t for kind, t in console if kind == "error"]
    assert errors == []
    # the live views' figures all got finite ranges (an empty one keeps an invisible anchor,
    # so BokehJS has no empty range to warn about; other tabs' figures are not checked here)
    assert unranged == [], unranged
