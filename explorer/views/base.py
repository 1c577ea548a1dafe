"""What every view shares: increments in, Bokeh sources out.

A view takes ``update(records_by_kind)`` with only the records that arrived since the last
call and pushes only new rows to its ColumnDataSources (``stream``/``patch``), never a
redraw (notes/panel-streaming.md, "Streaming rates"). ``records_by_kind`` maps a record kind
("step", "eval", "units", ...) to the list of new records of that kind, oldest first.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import panel as pn
from bokeh.document.events import ColumnDataChangedEvent, ModelChangedEvent
from bokeh.models import CDSView, DataRange1d, GroupFilter, Legend, Plot

from explorer.views.step_axis import STEP_AXIS
from kernels.records import UNITS

#: rows of a step line drawn at full resolution (the newest); the older course of the run is
#: drawn thinned to at most as many rows again (:class:`ThinnedStream`)
ROLLOVER = 2000
#: rows of the newest stretch of the loss, size and cost lines (the thinned past adds at most
#: twice as many): 750-1500 rows in all, about 1-3 per pixel of a card's plot (ROLLOVER's
#: 3000-6000 rows were 5-10 per pixel). Every update of a source makes BokehJS re-index and
#: redraw all of its rows (``set_data``/``index_data``: about a fifth of Chromium's main-thread
#: time on a refreshing 256-256 page in a JS profile, issue 17)
LINE_ROWS = 500


def group_records(records) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        out[r.get("kind", "")].append(r)
    return dict(out)


def columns(data: dict) -> dict:
    """``data`` with each numeric column as a numpy array, ready for ``stream``/``patch``.

    Bokeh sends a numeric array as one binary buffer but encodes a list value by value in
    Python, on the thread the trainer shares the GIL with: list streams made most of the
    page's server time per refresh (measured in ``python -m explorer bench --app``).
    Columns of strings or mixed values stay lists."""
    out = {}
    for key, values in data.items():
        array = values if isinstance(values, np.ndarray) else np.asarray(values)
        out[key] = array if array.dtype.kind in "biuf" else list(values)
    return out


class ThinnedStream:
    """A ColumnDataSource that shows a run's whole course at every moment: the newest
    ``recent`` rows at full resolution, everything older thinned to one row in ``stride``.

    Rows are numbered in arrival order (``key``; rows of one record may share a number so
    they are kept or dropped together). Most increments are plain ``stream`` calls. When
    the rows would pass ``recent + past``, the source is replaced once by the thinned course:
    the older rows keep those whose number is a multiple of the stride, the stride doubling
    until they are at most ``past // 4`` (so the next replacement is at least ``3 past / 4``
    rows away: with the defaults, one increment in several on a busy page). The first row
    (the run's beginning) is always kept and the past is thinned evenly, so the plot keeps
    the run's shape, where a rollover dropped its start (the History keeps recent rows full
    and older ones thinned too; DESIGN.md "History is bounded").
    """

    def __init__(self, source, recent: int = ROLLOVER, past: int = 2 * ROLLOVER) -> None:
        if recent < 1 or past < 4:
            raise ValueError(f"recent must be >= 1 and past >= 4, got {recent}, {past}")
        self.source, self.recent, self.past = source, recent, past
        self.reset()

    def reset(self) -> None:
        self.stride, self.count = 1, 0
        self._keys = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._keys)

    def stream(self, data: dict, key=None) -> None:
        """Append ``data`` (columns of equal length); ``key``: the rows' record numbers
        relative to this call (0, 1, ...; default one per row)."""
        n = len(next(iter(data.values()), ()))
        if n == 0:
            return
        key = np.arange(n) if key is None else np.asarray(key, dtype=np.int64)
        keys = self.count + key
        self.count = int(keys[-1]) + 1
        if len(self._keys) + n <= self.recent + self.past:
            self.source.stream(data)
            self._keys = np.concatenate([self._keys, keys])
            return
        merged = {k: _concat(self.source.data[k], data[k]) for k in data}
        all_keys = np.concatenate([self._keys, keys])
        old = max(len(all_keys) - self.recent, 0)
        old = int(np.searchsorted(all_keys, all_keys[old]))  # a record stays whole
        while True:
            keep_old = all_keys[:old] % self.stride == 0
            if keep_old.sum() <= self.past // 4:
                break
            self.stride *= 2
        keep = np.concatenate([keep_old, np.ones(len(all_keys) - old, dtype=bool)])
        self._keys = all_keys[keep]
        replace_data(self.source, {k: _take(v, keep) for k, v in merged.items()})


def _concat(a, b):
    if len(a) == 0:
        return b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.dtype.kind in "biuf" and b_arr.dtype.kind in "biuf":
            return np.concatenate([a_arr, b_arr])
    return list(a) + list(b)


def _take(values, keep: np.ndarray):
    if isinstance(values, np.ndarray):
        return values[keep]
    return [v for v, k in zip(values, keep, strict=True) if k]


def replace_data(source, data: dict) -> None:
    """``source.data = data``, safe from a ``stream`` or ``patch`` of ``source`` later in the
    same held refresh.

    Every refresh holds the document (``pn.io.hold``): Bokeh keeps each change as an event
    and serialises it when the hold ends. A replacement's event holds the source's live
    column dict, which a later ``stream`` or ``patch`` changes in place before it adds its
    own event, so the browser got the streamed rows twice: once in the replacement, once
    from the stream. That happened whenever a refresh emptied a view and filled it again: a
    new run's reset and its first rows (ShrinkNets' lifetimes: 400 rows in the browser for
    200 units, the copies never patched, issue 12), a card redrawn from the History, a
    replay scrubbed. Here the held event keeps the columns as they are now (a copy)."""
    source.data = data
    doc = source.document
    if doc is None or not doc.callbacks.hold_value:
        return  # not held: the event was sent with its value as it is now
    live = source.data
    for event in getattr(doc.callbacks, "_held_events", ()):  # Bokeh's held events
        if getattr(event, "model", None) is not source or getattr(event, "attr", None) != "data":
            continue
        if isinstance(event, ColumnDataChangedEvent) and event.data is None:  # read when sent
            event.data = {k: _copy(v) for k, v in live.items()}
        elif isinstance(event, ModelChangedEvent) and event.new is live:
            event.new = {k: _copy(v) for k, v in live.items()}


def _copy(values):
    return values.copy() if isinstance(values, np.ndarray) else list(values)


def history_records(history) -> dict[str, list[dict]]:
    """All of a History as one increment (replaying a recorded run)."""
    out = {kind: list(rows) for kind, rows in history.rows.items() if rows}
    if history.tables:
        out[UNITS] = list(history.tables)
    return out


def step_range() -> DataRange1d:
    """An auto x range for plots whose x axis is the training step, shared by the views of a
    notebook or an exported page. The live page's views share a range set from the server
    instead (:class:`explorer.views.step_axis.StepAxis`): this one moves in the browser at
    every refresh and repaints every plot on it."""
    return DataRange1d(name="step_range", range_padding=0.02, only_visible=True, syncable=False)


class View(pn.viewable.Viewer):
    """Base of the plots: subclasses build figures and implement ``update`` and ``reset``."""

    #: the record kinds this view draws (others it ignores); a page shows a view's card when
    #: the running method emits one of them
    kinds: tuple[str, ...] = ()

    def changes(self, records_by_kind: dict[str, list[dict]]) -> bool:
        """Whether these records (not yet given to ``update``) change what the view shows
        beyond extending it to newer steps as it is; a page may hold the ones that do not
        for a while (``STEADY`` in explorer/page/cards.py). Any record does, unless a view
        says otherwise."""
        return bool(records_by_kind)

    def update(self, records_by_kind: dict[str, list[dict]]) -> None:
        raise NotImplementedError  # abstract: each view says how it takes its records

    def reset(self) -> None:
        """Empty every source (a new run starts)."""
        for source in self.sources():
            replace_data(source, {k: [] for k in source.data})
            source.selected.indices = []
        for course in getattr(self, "_courses", ()):
            course.reset()

    def course(self, source, recent: int = ROLLOVER, past: int | None = None) -> ThinnedStream:
        """``source`` drawn as a whole course (:class:`ThinnedStream`), emptied by reset."""
        course = ThinnedStream(source, recent, 2 * recent if past is None else past)
        if not hasattr(self, "_courses"):
            self._courses: list[ThinnedStream] = []
        self._courses.append(course)
        return course

    def sources(self) -> list:
        return []

    def figures(self) -> list:
        """The Bokeh figures this view draws in."""
        return [v for v in vars(self).values() if isinstance(v, Plot)]

    def _pane(self, *figures) -> pn.viewable.Viewable:
        for fig in figures:
            quiet_ranges(fig)
            anchor_ranges(fig)
        panes = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures]
        return pn.Column(*panes, sizing_mode="stretch_width") if len(panes) > 1 else panes[0]


def quiet_ranges(fig) -> None:
    """Keep the browser from sending a figure's ranges back to the server.

    An auto-ranging figure reports its new start and end after every render; with the page
    refreshing, those messages took more of the server's GIL than the refresh itself (618
    of them in a 30 s run; 141 without, nearly all at page load) and slowed the trainer.
    Nothing on the server reads them: linked ranges are linked in the browser, and the
    server may still set a range."""
    for axis_range in (
        fig.x_range,
        fig.y_range,
        *fig.extra_x_ranges.values(),
        *fig.extra_y_ranges.values(),
    ):
        if axis_range.name != STEP_AXIS:  # the live page's step axis hears the user's zoom
            axis_range.syncable = False


#: name of glyphs that only give a legend entry its swatch (no data of the run)
LEGEND_KEY = "legend_key"


def figure_sources(fig) -> list:
    """The ColumnDataSources a figure's glyphs draw the run's data from."""
    out = []
    for renderer in fig.renderers:
        if renderer.name in (LEGEND_KEY, "range_anchor"):
            continue
        source = getattr(renderer, "data_source", None)
        if source is not None and source not in out:
            out.append(source)
    return out


def has_rows(source) -> bool:
    return any(len(column) for column in source.data.values())


def anchor_ranges(fig) -> None:
    """Give an empty figure's auto ranges something to span, and take it away once data
    arrives.

    An auto-ranged figure without data has no range: BokehJS logs "could not set initial
    ranges" (and, on a log axis, "could not determine minimum/maximum data value for log
    axis") at each render, and every step plot re-renders when the shared step range moves;
    that made 300-400 console warnings a session (issue 12; bokeh issue 6639). An invisible
    one-point line at (0, 1) spans the ranges while the figure's sources are empty; it is
    hidden as soon as one holds a row (and shown again after a reset), and the figure's
    ranges count visible glyphs only, so it never stretches a range with data. Safe to call
    more than once."""
    if getattr(fig, "_range_anchor", None) is not None:
        return
    sources = figure_sources(fig)
    for axis_range in (fig.x_range, fig.y_range):
        if isinstance(axis_range, DataRange1d):
            axis_range.only_visible = True
    anchor = fig.line(x=[0.0], y=[1.0], line_alpha=0.0, name="range_anchor")
    fig._range_anchor = anchor

    def follow(attr, old, new) -> None:
        empty = not any(has_rows(s) for s in sources)
        if anchor.visible != empty:
            anchor.visible = empty

    for source in sources:
        source.on_change("data", follow)
    follow("data", None, None)


def outside_legend(fig, location: str = "top_left") -> Legend:
    """A legend to the right of the plot frame, so it never covers the newest points.

    Added before any glyph with a ``legend_*`` argument: Bokeh's plotting API then puts
    every legend item into this legend (bokeh discussion 13409) instead of making one
    inside the frame. Click an item to hide its glyphs."""
    legend = Legend(
        location=location,
        click_policy="hide",
        label_text_font_size="8pt",
        spacing=0,
        padding=4,
        margin=4,
        glyph_height=14,
        glyph_width=14,
        border_line_alpha=0,
    )
    fig.add_layout(legend, "right")
    return legend


def figure_defaults(**overrides) -> dict:
    base = dict(
        height=260,
        sizing_mode="stretch_width",
        toolbar_location="above",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        output_backend="canvas",
    )
    base.update(overrides)
    return base


def legend_groups(fig, x: str, y: str, source, column: str, groups: dict, **common) -> list:
    """One scatter per value of ``column`` (``groups``: value -> its constant colour and
    marker), each a legend entry named by the value, all over the one ``source``.

    Not one glyph with ``legend_field`` and a colour per row: BokehJS draws a legend swatch
    with the glyph's colour at a row index found in the *new* data, and when a stream or a
    replacement has just made the source longer the old colour array is read past its end
    ("RangeError: Offset is outside the bounds of the DataView" in ``draw_legend_for_index``),
    which drops the rest of that update (seen as layer-size lines that never appeared on a
    page's second run). Constant colours have no index to overrun."""
    return [
        fig.scatter(
            x,
            y,
            source=source,
            view=CDSView(filter=GroupFilter(column_name=column, group=value)),
            legend_label=value,
            **{**common, **style},
        )
        for value, style in groups.items()
    ]


def legend_items(fig, renderers) -> list:
    """The legend entries of ``renderers`` (to show only the groups that hold data)."""
    return [
        item
        for legend in fig.select(type=Legend)
        for item in legend.items
        if item.renderers and item.renderers[0] in renderers
    ]


def layer_groups(fig, x: str, y: str, source, **common) -> dict:
    """:func:`legend_groups` over ``layer_name``, one colour per layer; returns the legend
    entry of each layer name, hidden until :func:`show_layers` sees that layer."""
    from explorer.views.palette import MAX_LAYERS, layer_color

    names = [f"layer {i}" for i in range(MAX_LAYERS)]
    renderers = legend_groups(
        fig,
        x,
        y,
        source,
        "layer_name",
        {n: {"color": layer_color(i)} for i, n in enumerate(names)},
        **common,
    )
    items = dict(zip(names, legend_items(fig, renderers), strict=True))
    show_layers(items, ())
    return items


def show_layers(items: dict, layers) -> None:
    """Show the legend entries of ``layers`` (layer indices) only."""
    present = {f"layer {int(i)}" for i in layers}
    for name, item in items.items():
        item.visible = name in present
