"""BokehJS's handling of a stream made once per renderer, not twice (issue 17, session 9): the
page's JavaScript that does it, installed with :mod:`explorer.page.lean_bokeh` by the refresh
acknowledgement component (:mod:`explorer.page.ack`).

Measured on the live page (digits 256-256, a refresh every 240 ms; ``GlyphRendererView
.set_data`` wrapped with a counter, /work/notes/s9-browser/cdpprof.py ``--frames``):

11. **Every stream set each renderer's data twice.** A renderer hears its source's
    ``streaming`` signal and updates its glyph's data (``update_data`` -> ``set_data``: the
    columns selected through the renderer's view, mapped to the screen, the spatial index
    rebuilt, the visuals of the glyph and its four variants set again); its ``CDSView`` hears
    the same signal, recomputes its indices, and their change makes the renderer update
    again, with the same data. 2 ``set_data`` a renderer a refresh (304 calls for the 2
    loss-line renderers in 76 refreshes), ~6.5 ms a refresh in all. Updates without indices
    (a ``patch`` passes the patched ones and stays as it is) asked for while one is pending
    now join it: it runs once, in a microtask after the task that asked, so before any paint
    (paints wait for an animation frame) and with the source and indices as they are by
    then.
12. **Visuals set again whenever the view's mask changed.** A renderer sets its glyphs'
    visuals (colours, widths, alphas of the glyph and its four variants, from the source's
    columns at the renderer's indices) in ``set_data``, then recomputes which rows are in
    the frame (its view's ``masked``), which it does again at every paint; each change of
    ``masked`` set all the visuals again, from the same source and indices (the mask is
    not among their inputs). A ``set_visuals`` asked for while the mask is being updated
    (``_update_masked_indices``: that change's listener) now does nothing; WebGL glyphs,
    not on this page, keep it.

Feature-detected like lean_bokeh: a BokehJS without these methods is left as it is.
``window.Bokeh.__lean_data`` says whether both are installed.
"""

from __future__ import annotations

#: installs the changes once per page; returns whether they are all installed
LEAN_DATA_JS = r"""
function lean_data() {
  const B = window.Bokeh
  if (B == null || typeof B.require !== "function") return false
  if (B.__lean_data) return true
  let done = 0
  try {
    const { GlyphRendererView } = B.require("models/renderers/glyph_renderer")
    const update_data = GlyphRendererView.prototype.update_data
    const set_visuals = GlyphRendererView.prototype.set_visuals
    if (typeof update_data === "function") {
      // change 11: updates without indices asked for in one task run once, in a microtask
      GlyphRendererView.prototype.update_data = function (indices) {
        if (indices != null) return update_data.call(this, indices)
        if (this.__update == null) {
          this.__update = Promise.resolve().then(() => {
            this.__update = null
            if (!this.is_destroyed) return update_data.call(this)
          })
        }
        return this.__update
      }
      done += 1
    }
    const update_masked = GlyphRendererView.prototype._update_masked_indices
    if (typeof update_masked === "function" && typeof set_visuals === "function") {
      // change 12: the visuals asked for again by a change of the mask are left as they are
      GlyphRendererView.prototype._update_masked_indices = function (...args) {
        this.__masking = true
        try {
          return update_masked.apply(this, args)
        } finally {
          this.__masking = false
        }
      }
      GlyphRendererView.prototype.set_visuals = function () {
        if (this.__masking && !this.has_webgl) return Promise.resolve()
        return set_visuals.call(this)
      }
      done += 1
    }
  } catch (e) {}
  B.__lean_data = done == 2
  return B.__lean_data
}
"""
