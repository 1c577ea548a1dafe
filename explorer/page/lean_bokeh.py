"""Two BokehJS habits that made each refresh cost the browser several times its drawing, and the
page's JavaScript that stops them (installed once per page by the refresh acknowledgement
component, :mod:`explorer.page.ack`; issue 17).

Measured on the live page (digits 256-256, a refresh every 500 ms, BokehJS 3.9 methods wrapped
with ``performance.now()`` counters, /work/notes/s6-browser/probe.py):

1. **Style sheets rewritten at every paint.** Every renderer of a plot (glyphs, axes, grids,
   legend, title: about 40 on the page) rewrites the text of its position style sheet each time
   it paints (``RendererView.update_position`` -> ``InlineStyleSheet._update``), almost always
   with the same text. Each write invalidates the page's style, and BokehJS reads CSS custom
   properties through ``getComputedStyle`` for every visual it paints with (about 2000 reads a
   refresh), so the next read recomputes the style: 46-52 style recalculations a refresh, 100-
   125 ms. Writing a sheet only when its text changes left 14-15 (38-52 ms).
2. **Legends rebuilt at every stream.** A legend listens to every model its items reach (the
   renderers, their sources and views); a stream changes a view's ``masked`` indices, and the
   legend then throws its entries away and builds them again (new elements and a canvas per
   entry, ``LegendView._render_items``): 40 rebuilds a refresh, 50-110 ms. It rebuilds now only
   when its entries (item, label) changed; otherwise it only updates which entries are hidden
   (an item's ``visible``) or inactive (a hidden renderer), what a rebuild would have changed.

Both are guarded: a BokehJS without these methods (another version) is left as it is, and the
page works the same, only slower. Nothing else of BokehJS is changed.
"""

from __future__ import annotations

#: installs the two changes once per page (``window.Bokeh.__lean_refresh`` marks it done);
#: returns whether they are installed
LEAN_BOKEH_JS = r"""
function lean_bokeh() {
  const B = window.Bokeh
  if (B == null || typeof B.require !== "function") return false
  if (B.__lean_refresh) return true
  let done = 0
  try {
    const Sheet = B.require("core/dom").InlineStyleSheet
    const update = Sheet.prototype._update
    if (typeof update === "function") {
      Sheet.prototype._update = function (css) {
        if (this.el.textContent !== css) update.call(this, css)
      }
      done += 1
    }
  } catch (e) {}
  try {
    const Legend = B.require("models/annotations/legend").LegendView
    const hidden = B.require("styles/legend.css").hidden ?? "bk-hidden"
    const render = Legend.prototype._render_items
    if (typeof render === "function" && typeof Legend.prototype._toggle_inactive === "function") {
      Legend.prototype._render_items = function () {
        if (this.entries.length == 0 || this._should_rerender_items) return render.call(this)
        for (const entry of this.entries) {
          entry.el.classList.toggle(hidden, !entry.item.visible)
          this._toggle_inactive(entry)
        }
      }
      done += 1
    }
  } catch (e) {}
  B.__lean_refresh = done == 2
  return B.__lean_refresh
}
"""
