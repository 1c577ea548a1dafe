"""BokehJS's marker drawing without restating the same style for every marker (issue 17,
session 10): the page's JavaScript that does it, installed with :mod:`explorer.page.lean_bokeh`
by the refresh acknowledgement component (:mod:`explorer.page.ack`).

Measured on the live page (digits 256-256, a refresh every 240 ms; each renderer's ``paint``
wrapped with a counter, /work/notes/s10-paint/):

13. **Every marker set its whole style again.** A scatter draws marker by marker, and each
    sets the canvas's fill (a colour turned into CSS text, which the canvas parses again)
    and its whole line style (colour, width, join, cap, a new dash array, dash offset)
    before it fills and strokes, though nearly every marker has the same values as the one
    before: 10-12 us a marker, the validation circles 3.5 ms a paint of the accuracy plot
    (294 circles), the largest item after the birth/death marks. While a scatter of one
    plain marker kind (no hatch, no custom marker) draws, a fill or line style the same as
    the one it set last is not set again. Each marker is still filled and stroked in turn,
    so the picture is the same pixel for pixel (a browser test draws a scatter both ways
    and compares them).

Feature-detected like lean_bokeh: a BokehJS without these methods is left as it is.
``window.Bokeh.__lean_paint`` says whether the change is installed.
"""

from __future__ import annotations

#: marker kinds whose drawing sets no style but through the glyph's fill, hatch and line
#: visuals (the "dot" kinds fill with the line's colour directly: not batched)
PLAIN_MARKERS = (
    "asterisk",
    "circle",
    "circle_cross",
    "circle_x",
    "cross",
    "diamond",
    "hex",
    "inverted_triangle",
    "plus",
    "square",
    "square_cross",
    "square_x",
    "star",
    "triangle",
    "x",
)

#: installs the change once per page; returns whether it is installed
LEAN_PAINT_JS = (
    r"""
const PLAIN_MARKERS = new Set("""
    + repr(list(PLAIN_MARKERS)).replace("'", '"')
    + r""")
function lean_paint() {
  const B = window.Bokeh
  if (B == null || typeof B.require !== "function") return false
  if (B.__lean_paint) return true
  let done = 0
  try {
    const { ScatterView } = B.require("models/glyphs/scatter")
    const { FillVector } = B.require("core/visuals/fill")
    const { LineVector } = B.require("core/visuals/line")
    const { HatchVector } = B.require("core/visuals/hatch")
    const { is_empty } = B.require("core/util/object")
    const paint = ScatterView.prototype._paint
    const set_fill = FillVector.prototype.set_vectorize
    const set_line = LineVector.prototype.set_vectorize
    const hatch = HatchVector.prototype.apply
    if ([paint, set_fill, set_line, hatch, is_empty].every((f) => typeof f === "function")) {
      // change 13: a scatter's markers set a fill or line style only when it changes
      ScatterView.prototype._paint = function (ctx, indices, data) {
        const marker = (data ?? {}).marker ?? this.marker
        const plain = marker?.is_Scalar?.() === true && PLAIN_MARKERS.has(marker.value) &&
          is_empty(this.model.defs) && this.visuals?.hatch?.doit === false
        if (!plain || ctx.__lean_styles != null) return paint.call(this, ctx, indices, data)
        ctx.__lean_styles = {}  // what this scatter set last: {fill: [...], line: [...]}
        try {
          return paint.call(this, ctx, indices, data)
        } finally {
          ctx.__lean_styles = null
        }
      }
      ScatterView.prototype._paint_each = paint  // the unbatched drawing (browser test)
      const same = (last, values) => last != null && values.every((v, k) => v === last[k])
      FillVector.prototype.set_vectorize = function (ctx, i) {
        const styles = ctx.__lean_styles
        if (styles == null) return set_fill.call(this, ctx, i)
        const values = [this.fill_color.get(i), this.fill_alpha.get(i)]
        if (same(styles.fill, values)) return
        set_fill.call(this, ctx, i)
        styles.fill = values
      }
      LineVector.prototype.set_vectorize = function (ctx, i) {
        const styles = ctx.__lean_styles
        if (styles == null) return set_line.call(this, ctx, i)
        const values = [
          this.line_color.get(i), this.line_alpha.get(i), this.line_width.get(i),
          this.line_join.get(i), this.line_cap.get(i), this.line_dash.get(i),
          this.line_dash_offset.get(i),
        ]
        if (same(styles.line, values)) return
        set_line.call(this, ctx, i)
        styles.line = values
      }
      HatchVector.prototype.apply = function (ctx, i, ...rest) {
        const styles = ctx.__lean_styles
        if (styles != null) styles.fill = null  // a hatch sets the fill style to its pattern
        return hatch.call(this, ctx, i, ...rest)
      }
      done += 1
    }
  } catch (e) {}
  B.__lean_paint = done == 1
  return B.__lean_paint
}
"""
)
