"""Session snapshots: save a session whole, reopen it, resume training from it.

    data = capture(trainer, history)      # fast, between two steps (copies to CPU)
    write(data, "run.zip")                # slow, may run on another thread; atomic
    write_in_background(data, "run.zip")  # the same on a background thread -> Future
    data = load_snapshot("run.zip")       # checked; raises SnapshotError, never unpickles
    trainer, history = restore(data)      # training goes on as if it had never stopped

The format is described in :mod:`explorer.snapshot.schema`.
"""

from explorer.snapshot.data import SnapshotData, capture, restore
from explorer.snapshot.load import load_snapshot
from explorer.snapshot.save import write, write_in_background
from explorer.snapshot.schema import SCHEMA_VERSION, SnapshotError


def save_snapshot(trainer, history, path, summary: dict | None = None):
    """``capture`` then ``write`` on the calling thread; returns the path written."""
    return write(capture(trainer, history, summary), path)


__all__ = [
    "SCHEMA_VERSION",
    "SnapshotData",
    "SnapshotError",
    "capture",
    "load_snapshot",
    "restore",
    "save_snapshot",
    "write",
    "write_in_background",
]
