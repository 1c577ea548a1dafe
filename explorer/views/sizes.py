"""Hidden layer sizes over training steps, one line per layer; unit births (up triangles)
and deaths (down triangles) as light marks on the line of their layer, drawn beneath the
lines so a burst of events does not hide them. The legend sits beside the plot; clicking
an entry hides it (e.g. the marks).

The marks of one growth step's units on one layer coincide (same step, same layer size):
they are drawn as one mark whose alpha is that of ``k`` stacked marks, ``1 - (1 - a)^k``
(stacked alpha composes so), with the ``k`` unit ids in its hover (:func:`merge_marks`).
On a 256-256 digits page they were half of the marks, and the marks the largest paint of a
refresh (issue 17, session 10). The legend draws its swatches from row-less key glyphs
(BokehJS draws a glyph's swatch with its first row's alpha), each linked to its marks'
``visible``, so a click on the entry still hides the marks. The keys sit on the plot's
overlay layer, which a stream does not repaint (they draw nothing there).

A layer the run does not have yet keeps its line hidden and reads no rows (an empty
:func:`absent` view): BokehJS sets a renderer's data at every stream of its source, hidden
or not, and the 6 lines of absent layers of a 2-layer net were half of the browser's
``set_data`` time a refresh (issue 17, session 9). The layer's line gets all rows when the
layer appears."""

from __future__ import annotations

import numpy as np
from bokeh.models import CDSView, ColumnDataSource, GroupFilter, HoverTool, IndexFilter
from bokeh.plotting import figure

from explorer.views.base import (
    LEGEND_KEY,
    LINE_ROWS,
    View,
    columns,
    figure_defaults,
    outside_legend,
    step_range,
)
from explorer.views.palette import BORN_COLOR, DIED_COLOR, MAX_LAYERS, layer_color
from kernels.records import EVENT, STEP

#: alpha of one unit's birth or death mark
MARK_ALPHA = 0.35
#: unit ids a merged mark's hover lists (then "...")
HOVER_IDS = 8
#: each event's legend entry and look
MARK_STYLES = {
    "unit born": {"color": BORN_COLOR, "marker": "triangle"},
    "unit died": {"color": DIED_COLOR, "marker": "inverted_triangle"},
}


class SizesView(View):
    #: record kinds this view draws
    kinds = (STEP, EVENT)

    def __init__(self, x_range=None, recent: int = LINE_ROWS, **params) -> None:
        super().__init__(**params)
        x_range = x_range if x_range is not None else step_range()
        self.steps = ColumnDataSource(
            {"step": [], **{f"size_{i}": [] for i in range(MAX_LAYERS)}}, name="sizes_steps"
        )
        self.events = ColumnDataSource(
            {k: [] for k in ("step", "y", "layer", "unit_id", "event", "cause", "alpha")},
            name="sizes_events",
        )
        self.step_course = self.course(self.steps, recent)
        self.event_course = self.course(self.events, recent)
        self.fig = figure(
            title="hidden layer sizes",
            x_range=x_range,
            name="sizes_figure",
            **figure_defaults(height=440),
        )
        legend = outside_legend(self.fig)
        # marks first: later glyphs are drawn on top, so the lines stay visible
        marks = []
        for event, style in MARK_STYLES.items():
            mark = self.fig.scatter(
                "step",
                "y",
                source=self.events,
                view=CDSView(filter=GroupFilter(column_name="event", group=event)),
                size=6,
                alpha="alpha",
                **style,
            )
            key = self.fig.scatter(
                x=[np.nan],
                y=[np.nan],
                size=6,
                alpha=MARK_ALPHA,
                legend_label=event,
                name=LEGEND_KEY,
                level="overlay",  # draws nothing: kept off the layer every stream repaints
                **style,
            )
            key.js_link("visible", mark, "visible")
            marks.append(mark)
        self.marks = marks
        self.lines = [
            self.fig.line(
                "step",
                f"size_{i}",
                source=self.steps,
                color=layer_color(i),
                line_width=2,
                visible=False,
                legend_label=f"layer {i}",
                view=absent(),
            )
            for i in range(MAX_LAYERS)
        ]
        self.line_items = [item for item in legend.items if item.renderers[0] in self.lines]
        self.fig.add_tools(
            HoverTool(
                renderers=marks,
                tooltips=[
                    ("units", "@unit_id"),
                    ("layer", "@layer"),
                    ("step", "@step"),
                    ("", "@event"),
                    ("cause", "@cause"),
                ],
            )
        )
        for item in self.line_items:
            item.visible = False
        self.fig.xaxis.axis_label = "step"
        self.fig.yaxis.axis_label = "units"
        self._sizes_at: dict[int, list[int]] = {}
        self._steps: list[dict] | None = None  # the last step records (for _sizes_at)
        self._last_sizes: list[int] = []

    def sources(self):
        return [self.steps, self.events]

    def reset(self):
        super().reset()
        self._sizes_at, self._last_sizes, self._steps = {}, [], None
        for line, item in zip(self.lines, self.line_items, strict=True):
            line.visible = item.visible = False
            line.view.filter.indices = []  # no rows (in place, see absent)

    def changes(self, records_by_kind):
        """A birth or death, or a step whose sizes differ from the last ones drawn: a step at
        the same sizes only extends the lines level."""
        if any(e.get("event") in ("born", "died") for e in records_by_kind.get(EVENT, ())):
            return True
        return any(r.get("sizes") != self._last_sizes for r in records_by_kind.get(STEP, ()))

    def update(self, records_by_kind):
        steps = records_by_kind.get(STEP, ())
        if steps:
            sizes = [r["sizes"] for r in steps]
            n = max(map(len, sizes))
            for i in range(min(n, MAX_LAYERS)):
                if not self.lines[i].visible:
                    self.lines[i].view.filter.indices = None  # every row
                    self.lines[i].visible = True
                    self.line_items[i].visible = True
            self.step_course.stream(size_columns([r["step"] for r in steps], sizes, n))
            self._steps = steps
        events = [e for e in records_by_kind.get(EVENT, ()) if e.get("event") in ("born", "died")]
        if events:
            if self._steps is not None:
                # the step record of step s+1 holds the sizes after step s's surgery
                self._sizes_at = {r["step"] - 1: r["sizes"] for r in self._steps}
                self._steps = None
            ys = []
            for e in events:
                sizes = self._sizes_at.get(e["step"], self._last_sizes)
                ys.append(sizes[e["layer"]] if e["layer"] < len(sizes) else 0)
            self.event_course.stream(merge_marks(events, ys))
        if steps:
            self._last_sizes = list(steps[-1]["sizes"])

    def __panel__(self):
        return self._pane(self.fig)


def merge_marks(events: list[dict], ys: list) -> dict:
    """The events source's columns for birth/death ``events`` (their marks at heights
    ``ys``): one row per (step, layer, event), in first-seen order, with the unit ids (the
    first :data:`HOVER_IDS`) and causes of its ``k`` events and alpha ``1 - (1 - a)^k``,
    the alpha of ``k`` marks of alpha ``a`` drawn over each other (source-over compositing:
    each lets ``1 - a`` of what is beneath through)."""
    groups: dict[tuple, list[int]] = {}
    for i, e in enumerate(events):
        groups.setdefault((e["step"], e["layer"], e["event"]), []).append(i)
    rows = list(groups.values())
    counts = np.array([len(r) for r in rows])
    return {
        **columns(
            {
                "step": [events[r[0]]["step"] for r in rows],
                "y": [ys[r[0]] for r in rows],
                "layer": [events[r[0]]["layer"] for r in rows],
            }
        ),
        "unit_id": [_unit_ids([events[i]["unit_id"] for i in r]) for r in rows],
        "event": ["unit " + events[r[0]]["event"] for r in rows],
        "cause": [
            "; ".join(dict.fromkeys(str(events[i].get("cause", "")) for i in r)) for r in rows
        ],
        "alpha": 1.0 - (1.0 - MARK_ALPHA) ** counts,
    }


def _unit_ids(ids: list) -> str:
    shown = ", ".join(str(i) for i in ids[:HOVER_IDS])
    if len(ids) == 1:
        return shown
    return f"{len(ids)} units: {shown}" + (", ..." if len(ids) > HOVER_IDS else "")


def absent() -> CDSView:
    """The view of a layer's line before the layer exists: no rows; its filter's ``indices``
    become None (every row) when the layer appears. Changed in place: a new view model in
    a served document makes Bokeh walk the whole document's models again (~0.5-1 s of the
    server's CPU on this page, measured: the first refresh of a run cost 1 s)."""
    return CDSView(filter=IndexFilter([]))


def size_columns(steps: list, sizes: list, width: int) -> dict:
    """The sizes source's columns for step records: ``step`` and ``size_0..`` (NaN past a
    record's layers), as numpy arrays. Built as one array when every record has ``width``
    layers (a refresh carries a few hundred records: the loop over rows and layers was a
    tenth of its server time, issue 17); column by column otherwise."""
    n = len(sizes)
    out = {"step": np.asarray(steps)}
    if all(len(s) == width for s in sizes):
        table = np.asarray(sizes).reshape(n, width).T.copy()  # one contiguous row per layer
        for i in range(MAX_LAYERS):
            out[f"size_{i}"] = table[i] if i < width else np.full(n, np.nan)
        return out
    for i in range(MAX_LAYERS):
        out[f"size_{i}"] = np.asarray([s[i] if i < len(s) else float("nan") for s in sizes])
    return columns(out)
