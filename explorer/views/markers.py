"""A line's point markers drawn only while they are far enough apart to read as points.

The validation curves draw a marker at each evaluation. At the default ``eval_every`` a run's
evaluations soon outnumber the plot's pixels (900 rows at ~100 s of a digits run, ~2 a pixel
column): the markers then merge into a band that says no more than the line under them, and
the browser still fills and strokes each one at every repaint (about 3.5 ms of Chromium's
main thread a refresh per plot at steady state, the largest single paint on the refreshing
page; issue 17, notes/s10-paint.md). Plotly's scatter makes the same call on the whole trace
("lines+markers" under 20 points, otherwise "lines"); here it follows what is in view, so
zooming into a stretch of a long run brings its markers back.

The decision runs in the browser (a ``CustomJS`` on the source, the x range, the line's
visibility and the plot's width), so a static export and a notebook behave as the live page;
the markers' renderer is not synced back, since nothing on the server reads it.
"""

from __future__ import annotations

from bokeh.models import CustomJS

#: the closest spacing, in screen pixels a marker on average, at which markers are drawn
SPACING_PX = 8

#: shows each marker renderer while its line is visible and the source's x values inside the
#: x range are at most one per ``spacing`` pixels of its plot's inner width
_CODE = """
const xs = source.data[x] ?? [];
const a = x_range.start, b = x_range.end;
const lo = Number.isFinite(a) && Number.isFinite(b) ? Math.min(a, b) : -Infinity;
const hi = Number.isFinite(a) && Number.isFinite(b) ? Math.max(a, b) : Infinity;
let n = 0;
for (let i = 0; i < xs.length; i++) {
  if (xs[i] >= lo && xs[i] <= hi) n += 1;
}
for (let i = 0; i < markers.length; i++) {
  const width = figures[i].inner_width > 0 ? figures[i].inner_width : 400;
  const show = lines[i].visible && n * spacing <= width;
  if (markers[i].visible !== show) markers[i].visible = show;
}
"""


def readable_markers(source, x: str, x_range, pairs) -> CustomJS:
    """Draw each ``(figure, line, markers)`` of ``pairs``'s markers only while its line is
    visible and the rows of ``source`` with ``x`` inside ``x_range`` leave at least
    ``SPACING_PX`` pixels a marker. Returns the callback (attached already)."""
    figures, lines, markers = (list(t) for t in zip(*pairs, strict=True))
    for renderer in markers:
        renderer.syncable = False
    callback = CustomJS(
        args=dict(
            source=source,
            x=x,
            x_range=x_range,
            figures=figures,
            lines=lines,
            markers=markers,
            spacing=SPACING_PX,
        ),
        code=_CODE,
    )
    source.js_on_change("data", callback)
    source.js_on_change("streaming", callback)
    source.js_on_change("patching", callback)
    x_range.js_on_change("start", callback)
    x_range.js_on_change("end", callback)
    for fig, line in zip(figures, lines, strict=True):
        line.js_on_change("visible", callback)
        fig.js_on_change("inner_width", callback)
    return callback
