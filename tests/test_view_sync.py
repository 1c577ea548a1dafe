"""What the browser holds equals what the server's sources hold, refresh after refresh.

A refresh holds the Bokeh document and sends its changes when it ends. The browser's copy is
modelled here by a second document that applies every PATCH-DOC message the first one sends
(Bokeh's own serialisation, as the server's websocket does). Issue 12's defect: a refresh
that emptied a source and streamed rows into it sent the rows twice (ShrinkNets' lifetimes on
a page's second run: 400 rows in the browser for 200 units).
"""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import DocumentPatchedEvent
from bokeh.models import ColumnDataSource
from bokeh.protocol import Protocol
from test_view_contract import all_views, record_run
from test_views import _lifetime_records

from explorer.views import LifetimeView, LossView, group_records, history_records
from explorer.views.base import ThinnedStream, replace_data
from kernels.methods import METHODS


class Browser:
    """A copy of ``doc`` that takes every change ``doc`` sends, serialised as Bokeh sends
    it (a PATCH-DOC message per change, made when the change is sent)."""

    def __init__(self, doc: Document) -> None:
        self.copy = Document.from_json(doc.to_json())
        protocol = Protocol()

        def send(event) -> None:
            if isinstance(event, DocumentPatchedEvent):
                protocol.create("PATCH-DOC", [event]).apply_to_document(self.copy)

        doc.on_change(send)

    def differences(self, sources) -> list[str]:
        """The sources whose copy differs from the server's (name, column, lengths)."""
        out = []
        for source in sources:
            mine = self.copy.get_model_by_id(source.id).data
            for key, values in source.data.items():
                theirs, ours = np.asarray(list(values)), np.asarray(list(mine[key]))
                same = theirs.shape == ours.shape and (
                    np.array_equal(theirs, ours, equal_nan=theirs.dtype.kind == "f")
                )
                if not same:
                    out.append(f"{source.name}.{key}: {len(theirs)} rows, browser {len(ours)}")
        return out


def _document(views) -> tuple[Document, list]:
    doc = Document()
    sources = [s for view in views for s in view.sources()]
    for source in sources:
        doc.add_root(source)
    return doc, sources


def refresh(doc: Document, fn) -> None:
    """``fn()`` as one refresh: the document held, its changes sent at the end."""
    doc.hold("combine")
    try:
        fn()
    finally:
        doc.unhold()


def test_an_emptied_source_filled_in_the_same_refresh_reaches_the_browser_once():
    source = ColumnDataSource({"x": np.arange(3.0)}, name="x")
    doc, _ = _document([type("V", (), {"sources": lambda self: [source]})()])
    browser = Browser(doc)

    def empty_then_fill():
        replace_data(source, {"x": []})
        source.stream({"x": np.array([5.0, 6.0])})
        source.patch({"x": [(0, 7.0)]})

    refresh(doc, empty_then_fill)
    assert browser.differences([source]) == []
    assert list(browser.copy.get_model_by_id(source.id).data["x"]) == [7.0, 6.0]


def test_a_new_run_reset_and_first_rows_in_one_refresh():
    """Lifetimes and loss: a first run in two refreshes, then a reset and the next run's first
    records in one refresh (the page's new run when its refresh period is stretched)."""
    views = [LifetimeView(), LossView()]
    doc, sources = _document(views)
    browser = Browser(doc)
    records = _lifetime_records()
    for part in (records[:2], records[2:]):
        refresh(doc, lambda part=part: [v.update(group_records(part)) for v in views])
    assert browser.differences(sources) == []

    def new_run():
        for view in views:
            view.reset()
            view.update(group_records(records))

    refresh(doc, new_run)
    assert browser.differences(sources) == []
    assert len(views[0].source.data["unit_id"]) == 5


def test_a_thinned_course_replaced_and_streamed_in_one_refresh():
    """A course thinned (its source replaced) then streamed into within one refresh."""
    source = ColumnDataSource({"x": []}, name="course")
    doc, _ = _document([type("V", (), {"sources": lambda self: [source]})()])
    browser = Browser(doc)
    course = ThinnedStream(source, recent=4, past=8)

    def two_increments():
        course.stream({"x": np.arange(20.0)})  # past 12 rows: replaced by the thinned course
        course.stream({"x": np.arange(20.0, 22.0)})

    refresh(doc, two_increments)
    assert browser.differences([source]) == []


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_view_in_the_browser_equals_the_server_across_runs(method):
    """Every view: a run in live refreshes, then each view emptied and redrawn from the
    History in one refresh (a new run, a card shown again, a replay)."""
    _, records, history = record_run(method)
    views = all_views(history)
    doc, sources = _document(views)
    browser = Browser(doc)
    for part in np.array_split(np.arange(len(records)), 7):
        increment = group_records([records[i] for i in part])
        refresh(doc, lambda increment=increment: [v.update(increment) for v in views])
    assert browser.differences(sources) == []

    def redraw():
        for view in views:
            view.reset()
            view.update(history_records(history))

    refresh(doc, redraw)
    assert browser.differences(sources) == []
