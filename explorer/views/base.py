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
import param
from bokeh.models import DataRange1d

#: points of a step line kept on screen; the full data stays in the History
ROLLOVER = 2000


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


def history_records(history) -> dict[str, list[dict]]:
    """All of a History as one increment (replaying a recorded run)."""
    out = {kind: list(rows) for kind, rows in history.rows.items() if rows}
    if history.tables:
        out["units"] = list(history.tables)
    return out


def step_range() -> DataRange1d:
    """The x range shared by every plot whose x axis is the training step."""
    return DataRange1d(name="step_range", range_padding=0.02, only_visible=True)


class View(pn.viewable.Viewer):
    """Base of the plots: subclasses build figures and implement ``update`` and ``reset``."""

    title = param.String(default="", doc="heading shown above the plot")

    #: the record kinds this view draws (others it ignores); a page shows a view's card when
    #: the running method emits one of them
    kinds: tuple[str, ...] = ()

    def update(self, records_by_kind: dict[str, list[dict]]) -> None:
        raise NotImplementedError  # abstract: each view says how it takes its records

    def reset(self) -> None:
        """Empty every source (a new run starts)."""
        for source in self.sources():
            source.data = {k: [] for k in source.data}
            source.selected.indices = []

    def sources(self) -> list:
        return []

    def _pane(self, *figures) -> pn.viewable.Viewable:
        for fig in figures:
            quiet_ranges(fig)
        panes = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures]
        return pn.Column(*panes, sizing_mode="stretch_width") if len(panes) > 1 else panes[0]


def quiet_ranges(fig) -> None:
    """Keep the browser from sending a figure's ranges back to the server.

    An auto-ranging figure reports its new start and end after every render; with the page
    refreshing, those messages took more of the server's GIL than the refresh itself (618
    of them in a 30 s run; 141 without, nearly all at page load) and slowed the trainer.
    Nothing on the server reads them: linked ranges are linked in the browser, and the
    server may still set a range."""
    for axis_range in (fig.x_range, fig.y_range, *fig.extra_x_ranges.values(),
                       *fig.extra_y_ranges.values()):
        axis_range.syncable = False


def figure_defaults(**overrides) -> dict:
    base = dict(height=260, sizing_mode="stretch_width", toolbar_location="above",
                tools="pan,wheel_zoom,box_zoom,reset,save", output_backend="canvas")
    base.update(overrides)
    return base
