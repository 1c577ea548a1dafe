"""The page's snapshot controls: download the run, reopen an upload, open from the folder.

The panel only holds widgets; what they do is given as callables by the page (``save``
returns the bytes of a ``.zip``; ``open_bytes`` and ``open_name`` reopen a snapshot in the
page), each run through the page's ``safe`` wrapper so a bad file becomes a message.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import panel as pn


def snapshot_folder() -> Path:
    """The one folder the page may open snapshots from (no arbitrary paths from a browser)."""
    return Path(os.environ.get("SIZING_EXPLORER_SNAPSHOTS", "snapshots")).resolve()


def snapshot_files() -> list[str]:
    """The snapshots (``.zip`` files and snapshot folders) in :func:`snapshot_folder`."""
    folder = snapshot_folder()
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir() if p.suffix == ".zip" or (p / "manifest.json").is_file()
    )


class SnapshotPanel(pn.viewable.Viewer):
    """Save / reopen controls of one page."""

    def __init__(
        self,
        save: Callable[[], bytes],
        open_bytes: Callable[[bytes, str], None],
        open_name: Callable[[str | None], None],
        safe: Callable,
        **params,
    ) -> None:
        super().__init__(**params)
        w = pn.widgets
        self.download = w.FileDownload(
            callback=lambda: io.BytesIO(safe(save) or b""),
            filename="sizing-explorer-snapshot.zip",
            label="save snapshot",
            color="default",
            sizing_mode="stretch_width",
            description="the whole session (weights, optimizer, history, knobs) as a .zip, "
            "taken between two steps; training goes on",
        )
        self.upload = w.FileInput(
            accept=".zip",
            sizing_mode="stretch_width",
            description="reopen a saved snapshot: plots as they were, training paused at "
            "the saved step (press resume to go on)",
        )
        self.upload.param.watch(lambda e: safe(open_bytes, e.new, self.upload.filename), "value")
        self.select = w.Select(
            label="snapshot folder",
            options=snapshot_files(),
            sizing_mode="stretch_width",
            description=f"snapshots in {snapshot_folder()} (set SIZING_EXPLORER_SNAPSHOTS); "
            "only files in that folder can be opened from the page",
        )
        self.open_button = w.Button(label="open from folder", sizing_mode="stretch_width")
        self.open_button.on_click(lambda e: safe(open_name, self.select.value))

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("### snapshots"),
            self.download,
            self.upload,
            pn.Row(self.select, self.open_button),
            sizing_mode="stretch_width",
        )
