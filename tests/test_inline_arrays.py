"""A refresh's document patch carries its small arrays inline (explorer/page/inline_arrays.py):
one message of three websocket frames, the arrays read back the same; a large array still
travels as a binary buffer."""

from __future__ import annotations

import numpy as np
from bokeh.core.serialization import Deserializer, Serialized
from bokeh.document import Document
from bokeh.models import ColumnDataSource
from bokeh.protocol import Protocol

from explorer.page.inline_arrays import INLINE_BYTES, install


def _streamed(columns: dict):
    """The PATCH-DOC of one ``stream`` of ``columns`` into a document's source."""
    doc = Document()
    source = ColumnDataSource({k: np.zeros(0, dtype=v.dtype) for k, v in columns.items()})
    doc.add_root(source)
    events = []
    doc.on_change(events.append)
    source.stream(columns)
    return Protocol().create("PATCH-DOC", events)


def _decoded(msg) -> dict:
    [event] = msg.content["events"]
    return Deserializer().deserialize(Serialized(event["data"], list(msg.buffers)))


def test_a_refresh_sends_its_arrays_inside_its_message():
    assert install() and install()  # installed once per process, again is a no-op
    columns = {
        "step": np.arange(300, dtype=np.int32),
        "loss": np.linspace(2.0, 0.1, 300),
        "size_2": np.full(300, np.nan),
    }
    msg = _streamed(columns)
    assert msg.buffers == []  # header, metadata, content: 3 frames
    data = _decoded(msg)
    for key, values in columns.items():
        np.testing.assert_array_equal(np.asarray(data[key]), values)
        assert np.asarray(data[key]).dtype == values.dtype


def test_a_large_array_still_travels_as_a_buffer():
    assert install()
    big = np.arange(INLINE_BYTES // 8 + 1, dtype=np.float64)
    small = np.ones(len(big), dtype=np.int8)  # the same rows, 1/8 of the bytes
    msg = _streamed({"big": big, "small": small})
    assert len(msg.buffers) == 1 and len(msg.buffers[0].to_bytes()) == big.nbytes
    data = _decoded(msg)
    np.testing.assert_array_equal(np.asarray(data["big"]), big)
    np.testing.assert_array_equal(np.asarray(data["small"]), small)
