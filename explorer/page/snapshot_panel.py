"""The page's snapshots: save the run, reopen an upload, open one from the folder.

:class:`SnapshotPanel` takes the page's :class:`~explorer.session.Session` and its
:class:`~explorer.page.actions.Actions` (messages, safe handlers, parsing off the event loop).
Capturing a snapshot happens between two steps of the trainer while training goes on;
reopening one stops the current run and hands the restored trainer and its History to the
page's ``on_open`` (which clears the plots and redraws them from that History).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from explorer.config import MAX_STEPS
from explorer.history import History
from explorer.page.actions import Actions
from explorer.session import Session


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
    """Save / reopen controls of one page, and what they do.

    ``on_open(trainer, history)`` shows a restored run in the page; ``before_capture()``
    moves waiting records into the History first (so the snapshot holds them);
    ``max_steps()`` is the page's step limit (a reopened run trains on up to it; 0 = until
    stopped).
    """

    def __init__(
        self,
        session: Session,
        actions: Actions,
        on_open: Callable[[Any, History], None],
        before_capture: Callable[[], object] = lambda: None,
        max_steps: Callable[[], int] = lambda: 0,
        **params,
    ) -> None:
        super().__init__(**params)
        self.session = session
        self.actions = actions
        self.on_open = on_open
        self.before_capture = before_capture
        self.max_steps = max_steps
        safe = actions.safe
        w = pn.widgets
        self.download = w.FileDownload(
            callback=lambda: io.BytesIO(safe(self.zip_bytes) or b""),
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
        self.upload.param.watch(
            lambda e: safe(self.load_bytes, e.new, self.upload.filename), "value"
        )
        self.select = w.Select(
            label="snapshot folder",
            options=snapshot_files(),
            sizing_mode="stretch_width",
            description=f"snapshots in {snapshot_folder()} (set SIZING_EXPLORER_SNAPSHOTS); "
            "only files in that folder can be opened from the page",
        )
        self.open_button = w.Button(label="open from folder", sizing_mode="stretch_width")
        self.open_button.on_click(lambda e: safe(self.open_from_folder, self.select.value))
        self._landscape: tuple[Callable[[], dict], Callable[[dict], None]] | None = None
        self._waiting: dict | None = None

    def keep_landscape(self, get: Callable[[], dict], put: Callable[[dict], None]) -> None:
        """Keep the page's landscape results in its snapshots (the landscape tab calls this):
        ``get()`` gives them at each save, ``put(landscape)`` shows a reopened snapshot's.
        A snapshot opened before the tab exists is shown when it registers."""
        self._landscape = (get, put)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            put(waiting)

    def show_landscape(self, landscape: dict) -> None:
        """Hand a reopened snapshot's landscape results (maybe none) to the landscape tab."""
        if self._landscape is None:
            self._waiting = dict(landscape)
        else:
            self._landscape[1](dict(landscape))

    # -- saving ------------------------------------------------------------------------------
    def capture(self, timeout: float = 60.0):
        """Snapshot data of the current run, taken between two steps by the trainer."""
        if self.session.device is None:
            raise RuntimeError("nothing to save yet: start a run first")
        self.before_capture()
        data = self.session.capture(timeout)
        if self._landscape is not None:
            data.landscape = self._landscape[0]()
        return data

    def save(self, path, timeout: float = 60.0, writer=None):
        """Write a snapshot (``.zip`` or folder) of the run; training goes on meanwhile."""
        from explorer.snapshot import write

        return (writer or write)(self.capture(timeout), path)

    def zip_bytes(self) -> bytes:
        """The run's snapshot as the bytes of a ``.zip`` (the page's download button)."""
        with tempfile.TemporaryDirectory() as tmp:
            return Path(self.save(Path(tmp) / "snapshot.zip")).read_bytes()

    # -- reopening ---------------------------------------------------------------------------
    def load_bytes(self, content: bytes | None, filename: str | None) -> None:
        """Reopen an uploaded snapshot in this page (paused at its step). The upload is
        size-limited and parsed off the event loop; its config is checked whole and may
        name registered data sets only, path options dropped
        (:func:`explorer.snapshot.untrusted.load_uploaded_snapshot`)."""
        from explorer.data.upload import upload_name
        from explorer.snapshot.untrusted import load_uploaded_snapshot

        if content is None:
            return
        name = upload_name(filename, "snapshot.zip")
        self.actions.in_background(
            load_uploaded_snapshot, lambda data: self.open_data(data, name), content, filename
        )

    def open_from_folder(self, name: str | None) -> None:
        """Open a snapshot by name from the configured folder; other paths are refused."""
        if not name:
            raise ValueError(
                f"no snapshot chosen; the folder {snapshot_folder()} holds "
                f"{len(snapshot_files())} snapshot(s)"
            )
        if Path(name).name != name or name not in snapshot_files():
            raise ValueError(
                f"'{name}' is not a snapshot in {snapshot_folder()}; "
                "only files listed there can be opened"
            )
        self.open_in_page(snapshot_folder() / name)

    def open_in_page(self, path) -> None:
        """Replace this page's run by a snapshot's (the current run stops); the sliders
        follow the restored knobs."""
        from explorer.snapshot import load_snapshot

        self.open_data(load_snapshot(path), Path(path).name)

    def open_data(self, data, name: str) -> None:
        """Restore loaded snapshot data into this page, paused; resuming trains up to the
        page's step limit, or until stopped when the page has none."""
        from explorer.snapshot import SnapshotError, restore

        limit = int(self.max_steps() or 0)
        steps = max(limit, data.step + 1) if limit else MAX_STEPS
        data.config = {**data.config, "steps": steps}
        try:
            trainer, history = restore(data, knobs=self.session.knobs)
        except SnapshotError as exc:
            raise ValueError(str(exc)) from None
        self.session.stop()
        self.on_open(trainer, history)
        self.show_landscape(data.landscape)
        until = f"up to {limit} steps" if limit else "until stopped"
        text = (
            f"opened {name}: step {trainer.step_count}, paused (press resume to train on, {until})"
        )
        # a part of the snapshot that could not be used (the rest is open): say so, named
        dropped = "; ".join(data.problems)
        self.actions.notify(
            f"{text}. Not loaded: {dropped}" if dropped else text,
            level="error" if dropped else "info",
        )

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("### snapshots"),
            self.download,
            self.upload,
            pn.Row(self.select, self.open_button),
            sizing_mode="stretch_width",
        )
