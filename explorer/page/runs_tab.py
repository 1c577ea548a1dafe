"""The page's "runs" tab (and ``explorer.Sweep``'s body): start a sweep on Dask, watch its
points arrive in the runs, compute-to-accuracy and compare views, cancel it, click a point
to open its snapshot.

The sweep runs on a background thread (:func:`explorer.sweep.run_sweep`) on one Dask client
per scheduler address, shared by every page of the server (a LocalCluster of
``default_workers()`` processes unless an address is given). Finished rows go through a
queue; :meth:`SweepRunsPanel.drain`, called on the session's own thread (a periodic
callback), moves them into the views, so no Bokeh model is touched from the sweep's thread
(notes/panel-streaming.md). A sweep started from the page writes under the snapshot folder
(``$SIZING_EXPLORER_SNAPSHOTS/sweeps/NAME``), never to a path typed in a browser.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn
import param

from explorer.sweep.run import SweepProgress, make_client, run_sweep
from explorer.sweep.spec import MethodGrid, SearchSpec, SweepSpec
from explorer.sweep.table import ResultTable
from explorer.views.compare import CompareRunsView
from explorer.views.compute_to_accuracy import ComputeToAccuracyView
from explorer.views.runs import RunsView, snapshot_rows

_CLIENTS: dict[str, Any] = {}  # dask.distributed.Client
_CLIENTS_LOCK = threading.Lock()
SWEEP_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


def shared_client(scheduler: str | None = None, workers: int | None = None):
    """One Dask client per scheduler address (``None``: a LocalCluster), made on first use."""
    key = scheduler or "local"
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None or client.status in ("closed", "closing"):
            client = _CLIENTS[key] = make_client(scheduler, workers)
        return client


class SweepRunsPanel(pn.viewable.Viewer):
    """Sweep controls, progress and the three analysis views."""

    methods = param.ListSelector(
        default=["nonparametric"],
        objects=["nonparametric", "shrinknets", "tiny", "static"],
        doc="Sizing methods of the sweep.",
    )
    dataset = param.String(default="digits", doc="Data set name (see `python -m explorer list`).")
    steps = param.Integer(
        default=300, bounds=(1, 1_000_000), doc="Training steps per point, sizing and search alike."
    )
    lam = param.String(default="1e-3", doc="lambda values, comma separated.")
    seeds = param.String(default="0", doc="Seeds, comma separated.")
    search = param.Integer(
        default=10,
        bounds=(0, 1000),
        doc="Points of the static random search over widths (1x-5x the "
        "largest net of the first method, nonparametric paper sec. "
        "7.4.1); 0: none.",
    )
    sweep_name = param.String(
        default="page-sweep", doc="Folder name under the snapshot folder's sweeps/."
    )
    status = param.String(default="no sweep yet", doc="Progress line.")

    def __init__(
        self,
        folder: str | Path | None = None,
        on_open: Callable[[str], None] | None = None,
        scheduler: str | None = None,
        client=None,
        **params,
    ) -> None:
        super().__init__(**params)
        if folder is None:
            from explorer.page.snapshot_panel import snapshot_folder

            folder = snapshot_folder()
        self.folder = Path(folder)
        self.scheduler, self._client = scheduler, client
        self.runs = RunsView(on_open=self._open)
        self.compute = ComputeToAccuracyView()
        self.compare = CompareRunsView()
        self.on_open = on_open
        self.out: Path | None = None
        self.rows: list[dict] = []
        self._queue: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._callback = None
        self.error = ""
        self.progress = pn.indicators.Progress(value=0, max=1, width=300, bar_color="info")
        self.start_button = pn.widgets.Button(label="start sweep", color="primary")
        self.cancel_button = pn.widgets.Button(label="cancel", disabled=True)
        self.start_button.on_click(lambda e: self._safe(self.start))
        self.cancel_button.on_click(lambda e: self.cancel())
        # the page opens on the last sweep of that name and the folder's own snapshots
        self._safe(self.load, self.folder / "sweeps" / self.sweep_name)

    # -- running ------------------------------------------------------------------------------
    def spec_from_controls(self) -> SweepSpec:
        try:
            lams = [float(v) for v in self.lam.split(",") if v.strip()]
            seeds = [int(v) for v in self.seeds.split(",") if v.strip()]
        except ValueError:
            raise ValueError(
                f"lambda and seeds must be comma-separated numbers, got "
                f"'{self.lam}' and '{self.seeds}'"
            ) from None
        methods = [
            MethodGrid(
                name=m,
                knobs={"lam": lams} if m != "static" else {},
                hidden=[[10, 10]] if m != "tiny" else [[1, 1]],
            )
            for m in self.methods
        ]
        sizing = [m for m in self.methods if m != "static"]
        search = (
            SearchSpec(samples=self.search, reference=sizing[0]) if self.search and sizing else None
        )
        return SweepSpec(
            dataset=self.dataset,
            steps=self.steps,
            seeds=seeds or [0],
            methods=methods,
            search=search,
        )

    def start(self, spec: SweepSpec | None = None, out: str | Path | None = None) -> None:
        """Start a sweep on the background thread (the controls' spec unless given)."""
        if self.running:
            raise RuntimeError("a sweep is running; cancel it first")
        spec = spec or self.spec_from_controls()
        if out is None:
            if not SWEEP_NAME.match(self.sweep_name):
                raise ValueError(
                    f"sweep name '{self.sweep_name}' must be 1-64 letters, "
                    "digits, '.', '_' or '-', not starting with '.'"
                )
            out = self.folder / "sweeps" / self.sweep_name
        self.out = Path(out)
        self.load(self.out)
        self._cancel = threading.Event()
        self.error = ""
        self.cancel_button.disabled, self.start_button.disabled = False, True
        self._thread = threading.Thread(target=self._run, args=(spec,), daemon=True, name="sweep")
        self._thread.start()

    def _run(self, spec: SweepSpec) -> None:
        try:
            client = self._client or shared_client(self.scheduler)
            assert self.out is not None  # set by start before the thread runs
            run_sweep(
                spec,
                self.out,
                client=client,
                on_row=self._queue.put,
                on_progress=lambda p: self._queue.put(_copy(p)),
                cancel=self._cancel,
            )
        except Exception as exc:  # the page says why; the server goes on
            self._queue.put(RuntimeError(f"sweep stopped: {type(exc).__name__}: {exc}"))
        finally:
            self._queue.put(None)

    def cancel(self) -> None:
        self._cancel.set()
        self.status = "cancelling: queued and running points are being cancelled"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> list[dict]:
        """Block until the sweep ends (draining as it goes); returns every row shown."""
        if self._thread is not None:
            self._thread.join(timeout)
        self.drain()
        if self.error:
            raise RuntimeError(self.error)
        return self.rows

    # -- rows into the views (the session's thread) -------------------------------------------
    def load(self, out: str | Path) -> None:
        """Show a sweep folder's table (and the snapshot folder's own snapshots)."""
        self.out = Path(out)
        self.rows = ResultTable(self.out).latest()
        self._refresh()

    def drain(self) -> int:
        """Move finished rows and progress into the views; returns rows taken."""
        new = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.cancel_button.disabled, self.start_button.disabled = True, False
                if not self.error:
                    self.status = f"finished: {self.status}"
            elif isinstance(item, SweepProgress):
                self.progress.max = max(1, item.total)
                self.progress.value = item.done + item.failed + item.skipped
                self.status = item.line()
            elif isinstance(item, Exception):
                self.error = self.status = str(item)
            else:
                self.rows = [r for r in self.rows if r["key"] != item["key"]] + [item]
                new += 1
        if new:
            self._refresh()
        return new

    def _refresh(self) -> None:
        extra = snapshot_rows(self.folder) if self.folder.is_dir() else []
        self.runs.set_rows(self.rows + extra)
        self.compute.set_rows(self.rows)
        for r in self.rows + extra:
            if r.get("status") == "ok" and r.get("snapshot"):
                label = f"{r['method']} {r.get('sizes', '')} {str(r['key'])[:6]}"
                if label not in self.compare.param.runs.objects:
                    self.compare.add_run(label, str(r["snapshot"]), r["method"])

    def _open(self, path: str) -> None:
        if self.on_open is not None:
            self._safe(self.on_open, path)

    def _safe(self, fn, *args):
        try:
            return fn(*args)
        except (ValueError, RuntimeError, OSError, KeyError) as exc:
            self.error = self.status = f"error: {exc}"
            return None

    def __panel__(self):
        if self._callback is None and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self.drain, period=1000)
        w = pn.widgets
        controls = pn.Row(
            w.MultiChoice.from_param(self.param.methods, width=260),
            w.TextInput.from_param(self.param.dataset, width=100),
            w.IntInput.from_param(self.param.steps, width=90),
            w.TextInput.from_param(self.param.lam, width=110),
            w.TextInput.from_param(self.param.seeds, width=70),
            w.IntInput.from_param(self.param.search, width=80),
            w.TextInput.from_param(self.param.sweep_name, width=130),
        )
        return pn.Column(
            controls,
            pn.Row(
                self.start_button, self.cancel_button, self.progress, pn.pane.Str(self.param.status)
            ),
            pn.Tabs(
                ("size vs quality", self.runs),
                ("compute to accuracy", self.compute),
                ("compare runs", self.compare),
                dynamic=True,
            ),
            sizing_mode="stretch_width",
            name="runs",
        )


def _copy(p: SweepProgress) -> SweepProgress:
    return SweepProgress(
        total=p.total, done=p.done, failed=p.failed, skipped=p.skipped, started=p.started
    )


def runs_tab(app) -> SweepRunsPanel:
    """The served page's "runs" tab: a click on a point opens its snapshot in the page.
    ``$SIZING_EXPLORER_SCHEDULER`` (``tcp://host:8786``) sends the page's sweeps to a
    cluster; unset, they run on a LocalCluster in the server."""
    import os

    return SweepRunsPanel(
        on_open=app.snapshots.open_in_page,
        scheduler=os.environ.get("SIZING_EXPLORER_SCHEDULER") or None,
    )


def served_tabs() -> dict:
    """Tabs a served page has beside the live plots."""
    return {"runs": runs_tab}
