"""BokehJS habits that made each refresh cost the browser several times its drawing, and the
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

3. **Plots out of sight painted at every refresh.** A plot scrolled out of the window was
   repainted like the others whenever its data or the shared step axis changed. A plot out of
   sight (an ``IntersectionObserver`` says so) now paints at most once per ``OFFSCREEN_MS``
   (1 s), the last change always painted within that second, and at once when it scrolls into
   sight. Its data is applied as before (the browser's copy of every source stays the
   server's); only the drawing waits.

4. **A plot given a new range did not repaint when that range moved** (a BokehJS gap, not a
   cost). ``PlotView.connect_signals`` connects each range's ``change`` to a repaint once;
   when the figure's ``x_range`` is replaced later, the frame takes the new range but nothing
   listens to it. The page replaced the shared step range at every new run (until the
   server-set step axis, :mod:`explorer.views.step_axis`), after the plots were built, so a plot
   whose own data does not change (the "selected units" plot with nothing selected) kept the
   axis of its first paint, -1..1, while the others showed the run's steps. Each plot view
   now also repaints when its current x or y range changes (views built before this is
   installed are found through ``Bokeh.index``).

5. **Axis extents measured again and again.** An axis's ``extents`` (its ticks, their
   labels formatted and measured, the axis label) is computed about five times per paint of
   its plot (the layout's size, the bounding box, the paint itself) with no cache: 30 a
   refresh, 29-66 ms, the largest single item in the JS counters after the paints themselves.
   It is now kept for the rest of the task while the axis's range, cross range and location
   are the same (a change of font, ticker or formatter comes in another task): 13 ms a
   refresh where it was 66 in the same sitting.

6. **A plot painted twice when its auto range moved.** A paint first fits the plot's auto
   ranges (``DataRange1d``) to its data; a range that moves emits a change, the plot hears
   it and asks for another paint (throttled to the next frame), though the paint under way
   already draws with the new range. The loss plot's log y range moves at most refreshes:
   1.5-2 paints a refresh for one update. A paint request made by the plot's own range fit
   inside its paint is now dropped (the paint invalidates everything it draws anyway); any
   other plot on the same range still repaints, and a request from anything else is kept.

   Not kept: BokehJS reads every visual's CSS custom properties (``--bk-...``) through
   ``getComputedStyle`` at every draw (1300-1700 reads a refresh, 26-42 ms in the counters).
   A cache of those reads per element for one task did not lower that time in the counters
   (24 -> 28 us per read, inclusive, at load 7; perhaps the reads that cost are the first
   after a style change, which recompute the style, but that was not shown), so it was left
   out.

Session 8, from a CDP CPU profile and a style-invalidation trace of the same page (notes s8):

7. **Glyph renderers' position sheets rewritten at every paint.** A glyph renderer's element is
   placed over its glyph's bounding box in screen units, which moves whenever data arrives or a
   range moves, so change 1 did not stop those writes. Each write invalidates style, and the
   next CSS read (the axes' background) forced a style recalculation: 4.3 a refresh, 21 ms.
   The element is empty (the glyph is drawn on the canvas), so it now keeps its first position
   unless it holds content: 2 recalculations a refresh, 6 ms.
8. **Tick labels measured at every paint.** An axis's extent measures every tick label
   (``_oriented_labels_extent``, a canvas ``measureText`` per label) for the plot's layout, at
   every paint (change 5 keeps it only for one task): the largest ``measureText`` caller. It is
   now kept while the labels' texts, font, side, orientation and standoff are the same.
9. **Minor ticks of a log axis over many decades** drew as a dense bar (the loss plot over 9
   decades: 5 minor ticks a decade in 150 px). A log axis spanning more than
   ``MINOR_DECADES`` decades now draws none (a cosmetic fix, and a little less drawing).
10. **Text widths measured again and again.** BokehJS measures a text's width on a canvas
    (``core/graphics`` ``text_width``) for every label it sizes or places, at every paint. A
    width is now kept per (font, text), at most ``TEXT_WIDTHS`` of them, all dropped when a
    web font finishes loading.

All are guarded: a BokehJS without these methods (another version) is left as it is, and the
page works the same, only slower. Nothing else of BokehJS is changed.
"""

from __future__ import annotations

#: how often a plot out of sight is painted at most (ms)
OFFSCREEN_MS = 1000
#: a log axis spanning more decades than this draws no minor ticks (change 9)
MINOR_DECADES = 4
#: how many measured text widths the page keeps at most (change 10)
TEXT_WIDTHS = 4096

#: installs the changes once per page (``window.Bokeh.__lean_refresh`` marks it done);
#: returns whether they are all installed
LEAN_BOKEH_JS = (
    r"""
const OFFSCREEN_MS = """
    + str(OFFSCREEN_MS)
    + """
const MINOR_DECADES = """
    + str(MINOR_DECADES)
    + """
const TEXT_WIDTHS = """
    + str(TEXT_WIDTHS)
    + r"""
let task = 0  // which task (macrotask) runs now: change 5 keeps values for one task
let task_ends = false
function this_task() {
  if (!task_ends) {
    task_ends = true
    setTimeout(() => {
      task_ends = false
      task += 1
    }, 0)
  }
  return task
}
function has_content(view) {
  // a renderer's element holds only its style sheets unless it draws into the DOM
  const root = view.shadow_el ?? view.el?.shadowRoot
  if (root == null) return true
  for (const child of root.children) {
    if (child.tagName !== "STYLE" && child.tagName !== "LINK") return true
  }
  return false
}
function label_text(item) {
  // a tick label's text: a TextBox's, or base^exponent (a log axis's BaseExpo); else undefined
  if (typeof item?.text === "string") return item.text
  if (item?.base != null && item?.expo != null) {
    const [base, expo] = [label_text(item.base), label_text(item.expo)]
    if (typeof base === "string" && typeof expo === "string") return `${base}^${expo}`
  }
  return undefined
}
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
  try {
    const Plot = B.require("models/plots/plot_canvas").PlotView
    const repaint = Plot.prototype.repaint
    const remove = Plot.prototype.remove
    if (typeof repaint === "function" && typeof IntersectionObserver === "function") {
      Plot.prototype.repaint = function () {
        if (this.__in_sight === undefined) {
          this.__in_sight = true  // until the observer says otherwise
          this.__observer = new IntersectionObserver((entries) => {
            this.__in_sight = entries[entries.length - 1].isIntersecting
            if (this.__in_sight && this.__late != null) {
              clearTimeout(this.__late)
              this.__late = null
              if (!this.is_destroyed) this.repaint()
            }
          })
          this.__observer.observe(this.el)
        }
        if (!this.__in_sight) {
          const wait = OFFSCREEN_MS - (performance.now() - (this.__painted ?? -Infinity))
          if (wait > 0) {
            if (this.__late == null) {
              this.__late = setTimeout(() => {
                this.__late = null
                if (!this.is_destroyed) this.repaint()
              }, wait)
            }
            return
          }
        }
        this.__painted = performance.now()
        return repaint.call(this)
      }
      Plot.prototype.remove = function () {
        this.__observer?.disconnect()
        if (this.__late != null) clearTimeout(this.__late)
        return remove.call(this)
      }
      done += 1
    }
  } catch (e) {}
  try {
    const Plot = B.require("models/plots/plot_canvas").PlotView
    const { traverse_views } = B.require("core/build_views")
    const connect_signals = Plot.prototype.connect_signals
    if (typeof connect_signals === "function" && typeof traverse_views === "function") {
      const follow = (view) => {
        if (view.__follows_ranges) return
        view.__follows_ranges = true
        const followed = new WeakSet([view.model.x_range, view.model.y_range])
        const connect = () => {
          for (const range of [view.model.x_range, view.model.y_range]) {
            if (range == null || followed.has(range)) continue
            followed.add(range)
            view.connect(range.change, () => {
              if (range === view.model.x_range || range === view.model.y_range) {
                view.request_repaint()
              }
            })
          }
        }
        const { x_range, y_range } = view.model.properties
        view.on_change([x_range, y_range], connect)
      }
      Plot.prototype.connect_signals = function () {
        connect_signals.call(this)
        follow(this)
      }
      traverse_views([...B.index], (view) => {
        if (view instanceof Plot) follow(view)
      })
      done += 1
    }
  } catch (e) {}
  try {
    const { AxisView } = B.require("models/axes/axis")
    const extents = Object.getOwnPropertyDescriptor(AxisView.prototype, "extents")
    if (extents != null && typeof extents.get === "function") {
      Object.defineProperty(AxisView.prototype, "extents", {
        configurable: true,
        get() {
          const [range, cross] = this.ranges
          const key = [this_task(), range.start, range.end, cross.start, cross.end, this.loc]
          const last = this.__extents_key
          if (last === undefined || key.some((v, i) => v !== last[i])) {
            this.__extents = extents.get.call(this)
            this.__extents_key = key
          }
          return this.__extents
        },
      })
      done += 1
    }
  } catch (e) {}
  try {
    const Plot = B.require("models/plots/plot_canvas").PlotView
    const { RangeManager } = B.require("models/plots/range_manager")
    const actual_paint = Plot.prototype._actual_paint
    const schedule_paint = Plot.prototype.schedule_paint
    const update = RangeManager.prototype.update_dataranges
    if ([actual_paint, schedule_paint, update].every((f) => typeof f === "function")) {
      Plot.prototype._actual_paint = function () {
        this.__in_paint = true
        try {
          return actual_paint.call(this)
        } finally {
          this.__in_paint = false
        }
      }
      RangeManager.prototype.update_dataranges = function () {
        const plot = this.parent
        if (plot == null || !plot.__in_paint) return update.call(this)
        plot.__ranging = true
        try {
          return update.call(this)
        } finally {
          plot.__ranging = false
        }
      }
      Plot.prototype.schedule_paint = function () {
        if (this.__ranging) return  // this paint is drawing with the new ranges already
        return schedule_paint.call(this)
      }
      done += 1
    }
  } catch (e) {}
  try {
    const { GlyphRendererView } = B.require("models/renderers/glyph_renderer")
    const update_position = GlyphRendererView.prototype.update_position
    if (typeof update_position === "function") {
      // change 7: an empty glyph renderer element keeps its first position
      GlyphRendererView.prototype.update_position = function () {
        if (this.__positioned && !has_content(this)) return
        this.__positioned = true
        return update_position.call(this)
      }
      done += 1
    }
  } catch (e) {}
  try {
    const { AxisView } = B.require("models/axes/axis")
    const extent = AxisView.prototype._oriented_labels_extent
    if (typeof extent === "function") {
      // change 8: the tick labels' extent kept while their texts and font are the same
      AxisView.prototype._oriented_labels_extent = function (labels, orient, standoff, visuals) {
        const items = labels?.items
        if (!Array.isArray(items) || typeof visuals?.font_value !== "function") {
          return extent.call(this, labels, orient, standoff, visuals)
        }
        const texts = items.map(label_text)
        if (!texts.every((text) => typeof text === "string")) {
          return extent.call(this, labels, orient, standoff, visuals)
        }
        const key = [
          this.panel?.side, orient, standoff, visuals.doit, visuals.font_value(),
          this.plot_view?.base_font_size, texts.join("\u0001"),
        ].join("\u0002")
        if (this.__label_extent_key !== key) {
          this.__label_extent = extent.call(this, labels, orient, standoff, visuals)
          this.__label_extent_key = key
        }
        return this.__label_extent
      }
      done += 1
    }
  } catch (e) {}
  try {
    const { LogTicker } = B.require("models/tickers/log_ticker")
    const get_ticks = LogTicker.prototype.get_ticks_no_defaults
    if (typeof get_ticks === "function") {
      // change 9: no minor ticks on a log axis that spans more than MINOR_DECADES
      LogTicker.prototype.get_ticks_no_defaults = function (low, high, cross, desired) {
        const ticks = get_ticks.call(this, low, high, cross, desired)
        const decades = Math.abs(Math.log10(high) - Math.log10(low))
        if (decades > MINOR_DECADES && ticks != null) return { ...ticks, minor: [] }
        return ticks
      }
      done += 1
    }
  } catch (e) {}
  try {
    const graphics = B.require("core/graphics")
    const text_width = graphics.text_width
    if (typeof text_width === "function") {
      // change 10: a text's width in a font measured once (until a web font loads)
      const widths = new Map()
      document.fonts?.addEventListener?.("loadingdone", () => widths.clear())
      graphics.text_width = (text, font) => {
        const key = `${font}\u0000${text}`
        let width = widths.get(key)
        if (width === undefined) {
          if (widths.size >= TEXT_WIDTHS) widths.clear()
          width = text_width(text, font)
          widths.set(key, width)
        }
        return width
      }
      done += graphics.text_width !== text_width ? 1 : 0
    }
  } catch (e) {}
  B.__lean_refresh = done == 10
  return B.__lean_refresh
}
"""
)
