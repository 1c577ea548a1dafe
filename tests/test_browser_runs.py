"""The served page's "runs" tab in headless Chromium: the snapshots of a small sweep are
points; a real mouse click on one opens that snapshot in the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import open_page, wait_for

pytestmark = pytest.mark.browser

#: screen position, x field and snapshot of the first point of the runs scatter (the
#: renderer whose source has a "snapshot" column), via the plot view's own scales
RUN_POINT_ON_SCREEN = """() => {
  const roots = Bokeh.index instanceof Map ? [...Bokeh.index.values()]
                                           : Object.values(Bokeh.index);
  function* walk(view) {
    yield view;
    for (const child of (view.child_views ?? [])) yield* walk(child);
  }
  for (const root of roots) for (const view of walk(root)) {
    if (!view.renderer_views) continue;
    for (const [renderer, rview] of view.renderer_views) {
      const data = renderer.data_source?.data;
      if (!data || !data.snapshot || !data.snapshot.length) continue;
      const xf = renderer.glyph.x.field, yf = renderer.glyph.y.field;
      const box = view.canvas_view.el.getBoundingClientRect();
      return [box.left + view.frame.x_scale.compute(data[xf][0]),
              box.top + view.frame.y_scale.compute(data[yf][0]), data.snapshot[0]];
    }
  }
  return null;
}"""


@pytest.fixture
def snapshots(tmp_path_factory):
    from explorer.sweep import run_point, spec_from_dict

    folder = tmp_path_factory.mktemp("snapshots")
    spec = spec_from_dict(
        {"steps": 10, "eval_every": 5, "method": [{"name": "static", "hidden": [[4, 4], [16, 16]]}]}
    )
    for p in spec.sizing_points():
        row = run_point(p.to_dict(), str(folder))
        (folder / "snapshots" / f"{row['key']}.zip").rename(folder / f"{row['key']}.zip")
    return folder


def test_runs_tab_click_opens_snapshot(snapshots, monkeypatch, serve):
    from explorer.app import ExplorerApp
    from explorer.page.runs_tab import served_tabs

    monkeypatch.setenv("SIZING_EXPLORER_SNAPSHOTS", str(snapshots))
    url, apps = serve(lambda: ExplorerApp(tabs=served_tabs()))
    console: list[tuple[str, str]] = []
    with open_page(url, console, viewport=(1500, 1100), timeout_ms=240_000) as page:
        # Bokeh's tab headers (in its shadow DOM, which CSS locators pierce)
        page.locator(".bk-tab").filter(has_text=re.compile(r"^\s*runs\s*$")).click()
        point = wait_for(
            lambda: page.evaluate(RUN_POINT_ON_SCREEN), what="the runs scatter", page=page
        )
        page.wait_for_timeout(500)
        x, y, snapshot = page.evaluate(RUN_POINT_ON_SCREEN)
        page.mouse.click(x, y)
        app = apps[0]
        wait_for(
            lambda: any("opened" in m for m in app.messages),
            what="the snapshot to open in the page",
            page=page,
        )
        assert f"opened {Path(snapshot).name}" in app.messages[-1]
        assert app.history.last("step")["step"] == 10  # the snapshot's run, replayed
        assert point is not None
    assert [t for kind, t in console if kind == "error"] == []
