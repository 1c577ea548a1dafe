"""The live explorer page: pick a sizing method and a data set, press start, watch the network
choose its size while sliders change the knobs of the very next step.

One :class:`ExplorerApp` per browser session, composed of the components in
:mod:`explorer.page`: a :class:`~explorer.page.RunForm`, a :class:`~explorer.page.KnobPanel`, a
:class:`~explorer.session.Session` (runner, History, drain; no Panel in it), a
:class:`~explorer.page.Dashboard` (the plots, cards picked by record kinds), a
:class:`~explorer.page.SnapshotPanel`, a :class:`~explorer.page.GroupSparsityPanel` and a
:class:`~explorer.page.StatusBar`. A periodic callback on the session's own thread drains the
trainer's records into the plots inside one ``pn.io.hold()`` (notes/panel-streaming.md,
"Threads and documents"), at a period from :func:`~explorer.page.refresh_period`. The page
never touches the model; the trainer never touches Bokeh. More tabs: ``tabs={name: factory}``
or :func:`explorer.page.register_tab`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import panel as pn
import param

import explorer.landscape.tab  # noqa: F401  (registers the "landscape" tab)
from explorer.config import RunConfig
from explorer.history import History
from explorer.knobs import Knobs, knobs_for
from explorer.page import (
    LIVE,
    MAX_PERIOD_MS,
    UI_SHARE,
    UPLOAD,
    Dashboard,
    GroupSparsityPanel,
    KnobPanel,
    RunForm,
    SnapshotPanel,
    StatusBar,
    parse_hidden,
    refresh_period,
    set_knob,
    smoothed_cost,
    snapshot_files,
    snapshot_folder,
    tab_factories,
)
from explorer.session import (
    TORCH_THREADS,
    Session,
    history_records,
    progress_percent,
    status_line,
)

log = logging.getLogger(__name__)

__all__ = [
    "MAX_PERIOD_MS",
    "TORCH_THREADS",
    "UI_SHARE",
    "UPLOAD",
    "ExplorerApp",
    "parse_hidden",
    "snapshot_files",
    "snapshot_folder",
]
#: the run form's params, accepted by ExplorerApp(...) and readable/settable on it
FORM_PARAMS = ("method", "dataset", "hidden", "seed", "device", "max_steps")
#: the views under their old attribute names (``app.loss`` is ``app.dashboard.view("loss")``)
VIEW_NAMES = {
    "loss": "loss",
    "sizes": "sizes",
    "units": "units",
    "lifetimes": "lifetimes",
    "fan_history": "fan_history",
    "tradeoff": "tradeoff",
    "spectrum": "spectrum",
    "switches": "switches",
    "cost_view": "cost",
    "groupsparsity": "groupsparsity",
}
COMMANDS = ("start", "pause", "resume", "step", "stop", "reset")
LABELS = {"step": "step once"}
COLORS = {"start": "primary", "stop": "warning"}


class ExplorerApp(pn.viewable.Viewer):
    """Controls, status and linked live plots of one training session.

    Python API (what the buttons call): ``start()``, ``pause()``, ``resume()``, ``step()``,
    ``stop()``, ``reset()``, ``set_knob(name, value)``, ``drain()`` (one tick of the periodic
    callback), ``close()``. ``history`` holds everything recorded in the current run.
    """

    period = param.Integer(
        default=200,
        bounds=(50, 10_000),
        doc="Shortest time (ms) between two refreshes of the plots. The "
        "page stretches it when refreshes get expensive, so that they "
        "take at most 2.5% of the wall clock (UI_SHARE); a longer "
        "period leaves more of the machine to training.",
    )
    trainer_in = param.Selector(
        default="thread",
        objects=["thread", "process"],
        doc="where the trainer runs: a thread of this process, or a "
        "child process that does not share the web server's GIL "
        "(what the served page uses)",
    )
    status = param.String(default="idle", doc="the run's state")
    message = param.String(default="", doc="the last error or notice shown")

    def __init__(
        self,
        config: RunConfig | None = None,
        knobs: Knobs | None = None,
        replay: History | None = None,
        tabs: dict | None = None,
        **params,
    ) -> None:
        config = config or RunConfig()
        form = {
            **RunForm.params_from(config),
            **{k: params.pop(k) for k in FORM_PARAMS if k in params},
        }
        super().__init__(**params)
        self.messages: list[str] = []
        self.knobs = knobs if knobs is not None else knobs_for(config.method, config.knobs)
        self.form = RunForm(**form)
        self.session = Session(config, self.knobs, self.trainer_in, replay=replay)
        self.status_bar = StatusBar()
        self.knob_panel = KnobPanel(
            self.knobs,
            on_change=lambda n, v: self._safe(self.set_knob, n, v),
            method=self.form.method,
        )
        self.sweep_panel = GroupSparsityPanel(
            view=lambda: self.dashboard.view("groupsparsity"),
            show=self.dashboard_update,
            reveal=lambda kinds: self.dashboard.reveal(kinds),
            notify=self.notify,
        )
        self.sweep_panel.button.on_click(lambda e: self._safe(self.run_sweep))
        self.dashboard = Dashboard(
            self.session.history,
            method=self.form.method,
            extras={"shrinknets": lambda: [self.sweep_panel]},
        )
        self.snapshots = SnapshotPanel(
            self.snapshot_bytes, self.load_snapshot_bytes, self.open_from_folder, self._safe
        )
        self.form.param.watch(self._on_method, "method")
        self.form.on_preset = lambda knobs: self._safe(self._preset_knobs, knobs)
        self.form.upload.param.watch(
            lambda e: self._safe(self.load_upload, e.new, self.form.upload.filename), "value"
        )
        self.buttons = {
            name: pn.widgets.Button(label=LABELS.get(name, name), color=COLORS.get(name, "default"))
            for name in COMMANDS
        }
        for name, button in self.buttons.items():
            button.on_click(lambda e, name=name: self._command(name))
        self.period_slider = pn.widgets.IntSlider.from_param(
            self.param.period, step=50, label="refresh every (ms, at least)"
        )
        self._tabs = tab_factories(tabs)
        self._callback = None
        self._tick_ms: float | None = None
        self.replay = replay is not None
        self.scrubber = None
        if replay is not None:
            self.status = "replay"
            self.dashboard_update(history_records(replay))
            last = max((r["step"] for r in replay.rows.get("step", ())), default=0)
            self.scrubber = pn.widgets.IntSlider(
                label="replay: show up to step",
                start=0,
                end=max(last, 1),
                value=last,
                sizing_mode="stretch_width",
            )
            self.scrubber.param.watch(lambda e: self._safe(self.scrub_to, e.new), "value_throttled")
        self._refresh_status()

    # -- the run form's values and the session's state, under their old names --------------
    history = property(lambda self: self.session.history)
    runner = property(lambda self: self.session.runner)
    config = property(lambda self: self.session.config)
    _last = property(lambda self: self.session.last)
    upload_dataset = property(lambda self: self.form.upload_dataset)
    views = property(lambda self: list(self.dashboard.views.values()))
    knob_rows = property(lambda self: self.knob_panel.rows)
    knob_widgets = property(lambda self: self.knob_panel.widgets)
    alert = property(lambda self: self.status_bar.alert)
    status_pane = property(lambda self: self.status_bar.line)
    progress = property(lambda self: self.status_bar.progress)
    spectrum_card = property(lambda self: self.dashboard.cards["tiny"])
    switch_card = property(lambda self: self.dashboard.cards["shrinknets"])
    sweep = property(lambda self: self.sweep_panel.sweep)
    selection = property(lambda self: self.dashboard.selection)

    # -- messages --------------------------------------------------------------------------
    def notify(self, text: str, level: str = "error") -> None:
        """Show a message in the page (an alert, and a toast when served)."""
        self.messages.append(text)
        self.message = text
        self.status_bar.message(text, level)

    def _safe(self, fn, *args):
        """Run a UI action; a bad value becomes a message, never a broken session."""
        try:
            return fn(*args)
        except (ValueError, TypeError, RuntimeError, OSError) as exc:
            self.notify(str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - anything else still gets a message
            log.exception("page action %s failed", getattr(fn, "__name__", fn))
            text = " ".join(str(exc).split())[:300]
            self.notify(f"unexpected {type(exc).__name__}: {text}")
            return None

    def _in_background(self, parse, apply, *args) -> None:
        """``parse(*args)`` on a worker thread (an upload's parsing never blocks the
        server's event loop), then ``apply(result)`` back on the page's event loop; both
        through ``_safe``, so errors become messages. Without a served document (tests, a
        notebook cell) both run here, in order."""
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            result = self._safe(parse, *args)
            if result is not None:
                self._safe(apply, result)
            return

        def work():
            result = self._safe_threaded(doc, parse, *args)
            if result is not None:
                doc.add_next_tick_callback(lambda: self._safe(apply, result))

        threading.Thread(target=work, daemon=True, name="upload-parse").start()

    def _safe_threaded(self, doc, fn, *args):
        """``_safe`` for a worker thread: the message is shown from the event loop."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            if not isinstance(exc, (ValueError, TypeError, RuntimeError, OSError)):
                log.exception("page action %s failed", getattr(fn, "__name__", fn))
            text = " ".join(str(exc).split())[:400]
            doc.add_next_tick_callback(lambda: self.notify(text))
            return None

    def _command(self, name: str) -> None:
        """A button: run the command, then refresh soon so its effect shows at once."""
        self._safe(getattr(self, name))
        if self._callback is not None:
            pn.state.add_periodic_callback(self._tick, period=100, count=3)

    # -- commands ----------------------------------------------------------------------------
    def set_knob(self, name: str, value) -> None:
        """Set one knob; the trainer uses it from its next step. Out of bounds -> message."""
        set_knob(self.knobs, name, value)
        if self.runner is not None and self.runner.state == "finished":
            self.notify(
                f"{name} set; the run has finished, so it acts on the next run", level="info"
            )

    def _preset_knobs(self, knobs: dict) -> None:
        """A preset was chosen: its knobs move the sliders (the others go back to their
        defaults)."""
        values = {**Knobs().values(), **knobs}
        auto = bool(values.pop("radial_auto"))
        for name, value in values.items():
            set_knob(self.knobs, name, value)
        self.knobs.radial_auto = auto  # set last: a hand-set radial_lr turns it off

    def build_config(self) -> tuple[RunConfig, object]:
        """The run configuration from the controls (and the uploaded data set, if any)."""
        return self.form.config(self.session.config, self.knobs.values())

    def _ensure_runner(self):
        return self.session.ensure_runner()

    def start(self) -> None:
        """Start a new run with the current controls (or resume a paused one)."""
        self.dashboard.fill()  # before the trainer runs: building the plots takes the GIL
        self.session.start(self.build_config)

    def step(self) -> None:
        """One training step (a paused run goes on by one; otherwise a new run, paused)."""
        self.dashboard.fill()
        self.session.step(self.build_config)

    def pause(self) -> None:
        self.session.pause()

    def resume(self) -> None:
        self.session.resume()

    def stop(self) -> None:
        self.session.stop()

    def reset(self) -> None:
        """Drop the run and clear the plots (earlier runs stay in the trade-off plot)."""
        if not self.session.reset():  # else the plots clear when "idle" arrives (drain)
            self._new_run()

    def close(self, wait: bool = True) -> None:
        """Stop the trainer and free the model (the session ends); ``wait=False`` returns
        at once (the server's event loop never waits for a trainer)."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        self.session.close(wait=wait)

    def _on_method(self, event) -> None:
        self.knob_panel.method = self.dashboard.method = event.new
        if self.runner is not None and self.runner.state not in ("idle",):
            self.notify(f"method {event.new}: the next start begins a new run", level="info")

    # -- the periodic drain -----------------------------------------------------------------
    def drain(self) -> int:
        """Move waiting records into the History and the plots; returns how many."""
        if self.sweep_panel.waiting:
            with pn.io.hold():
                self.sweep_panel.drain()
        if self.runner is None:
            return 0
        with pn.io.hold():
            n = self.session.drain(self._new_run, self.dashboard_update, self._on_state)
            if n:
                self._refresh_status()
        return n

    def drain_sweep(self) -> int:
        return self.sweep_panel.drain()

    def run_sweep(
        self, dataset: str | None = None, points: int | None = None, max_iter: int = 3000
    ) -> bool:
        """The group-sparsity sweep (ShrinkNets fig. 1); see GroupSparsityPanel.run."""
        kwargs = {"points": points} if points is not None else {}
        return self.sweep_panel.run(dataset, max_iter=max_iter, **kwargs)

    def _new_run(self) -> None:
        self.dashboard.new_run(self.session.history, self.session.last_method())
        self.status_bar.clear()

    def dashboard_update(self, by_kind: dict[str, list[dict]]) -> list[str]:
        """Hand records to the plots; a view that cannot take one says so in a message."""
        errors = self.dashboard.update(by_kind)
        for error in errors:
            self.notify(error)
        return errors

    _apply = dashboard_update

    def _on_state(self, rec: dict) -> None:
        self.status = rec["state"]
        if rec["state"] == "error":
            self.notify(f"the run stopped: {rec['message']}")
        elif rec["state"] == "finished":
            self.notify(f"run finished: {rec['message']}", level="info")

    def _refresh_status(self) -> None:
        last = self.session.last
        if self.replay:
            total = max((r["step"] for r in self.history.rows.get("step", ())), default=1)
        else:
            total = self.form.max_steps
        self.status_bar.show(
            status_line(self.status, self.session.device, last["step"], last["eval"]),
            progress_percent(last["step"], total),
        )

    def scrub_to(self, step: int) -> None:
        """Show a recorded run as it was at ``step`` (replay mode): the plots are rebuilt
        from the History's records up to that step."""
        if not self.replay:
            raise RuntimeError("scrubbing needs a recorded run (ExplorerApp.from_history)")
        records = {
            kind: [r for r in rows if r.get("step", 0) <= step]
            for kind, rows in history_records(self.history).items()
        }
        records = {k: v for k, v in records.items() if v}
        with pn.io.hold():
            self.dashboard.clear()
            self.session.last.update(step=None, eval=None)
            self.session.note(records)
            self.dashboard_update(records)
            if records.get("units"):  # the throttled scatter shows its table at once
                self.dashboard.show_units_at_once(records["units"][-1])
            self._refresh_status()

    @classmethod
    def from_history(cls, history: History, config: RunConfig | dict, **params) -> ExplorerApp:
        """Show a recorded run (a snapshot) without training."""
        if isinstance(config, dict):
            config = RunConfig.from_dict(config)
        return cls(config=config, replay=history, **params)

    # -- uploads and snapshots ---------------------------------------------------------------
    def load_upload(self, content: bytes | None, filename: str | None) -> None:
        """Read an uploaded .npz/.csv (size-limited, parsed off the event loop when served:
        :func:`explorer.data.upload.load_upload`); a bad file gives a message and keeps the
        last one."""
        from explorer.data.upload import load_upload

        if content is None:
            return
        self._in_background(
            load_upload,
            lambda ds: self._use_upload(ds, filename),
            content,
            filename,
            self.form.seed,
        )

    def _use_upload(self, dataset, filename: str | None) -> None:
        self.form.upload_dataset = dataset
        self.notify(f"loaded {dataset.name}: {len(dataset.y_train)} training samples", level="info")

    def capture_snapshot(self, timeout: float = 60.0):
        """Snapshot data of the current run, taken between two steps by the trainer."""
        if self.session.device is None:
            raise RuntimeError("nothing to save yet: start a run first")
        self.drain()
        return self.session.capture(timeout)

    def save_snapshot(self, path, timeout: float = 60.0, writer=None):
        """Write a snapshot (``.zip`` or folder) of the run; training goes on meanwhile."""
        from explorer.snapshot import write

        return (writer or write)(self.capture_snapshot(timeout), path)

    def snapshot_bytes(self) -> bytes:
        """The run's snapshot as the bytes of a ``.zip`` (the page's download button)."""
        with tempfile.TemporaryDirectory() as tmp:
            return Path(self.save_snapshot(Path(tmp) / "snapshot.zip")).read_bytes()

    def _snapshot_file(self):
        import io

        return io.BytesIO(self.snapshot_bytes())

    @classmethod
    def open_snapshot(cls, path, resume: bool = False, **params) -> ExplorerApp:
        """An app showing a snapshot's recorded run; with ``resume`` its trainer is restored
        (paused) so ``resume()`` trains on from where the snapshot was taken."""
        from explorer.snapshot import load_snapshot, restore

        data = load_snapshot(path)
        config = RunConfig.from_dict(data.config)
        if not resume:
            return cls.from_history(data.history(), config, **params)
        app = cls(config=config, **params)
        app._adopt(*restore(data, knobs=app.knobs))
        return app

    def _adopt(self, trainer, history: History) -> None:
        self.session.adopt(trainer, history)
        self._new_run()
        self.dashboard_update(history_records(history))

    def load_snapshot_bytes(self, content: bytes | None, filename: str | None) -> None:
        """Reopen an uploaded snapshot in this page (paused at its step). The upload is
        size-limited and parsed off the event loop; its config is checked whole and may
        name registered data sets only, path options dropped
        (:func:`explorer.snapshot.untrusted.load_uploaded_snapshot`)."""
        from explorer.data.upload import upload_name
        from explorer.snapshot.untrusted import load_uploaded_snapshot

        if content is None:
            return
        name = upload_name(filename, "snapshot.zip")
        self._in_background(
            load_uploaded_snapshot, lambda data: self._open_data(data, name), content, filename
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

        self._open_data(load_snapshot(path), Path(path).name)

    def _open_data(self, data, name: str) -> None:
        """Restore loaded snapshot data into this page, paused; resuming trains up to the
        page's step limit (the form's max steps), not the snapshot's own."""
        from explorer.snapshot import SnapshotError, restore

        data.config = {**data.config, "steps": max(int(self.form.max_steps), data.step + 1)}
        try:
            trainer, history = restore(data, knobs=self.knobs)
        except SnapshotError as exc:
            raise ValueError(str(exc)) from None
        self.session.stop()
        self.form.method = trainer.config.method
        self._adopt(trainer, history)
        self.notify(
            f"opened {name}: step {trainer.step_count}, paused (press resume to "
            f"train on, up to {trainer.config.steps} steps)",
            level="info",
        )

    # -- the refresh ---------------------------------------------------------------------------
    def start_callback(self) -> None:
        """Start the periodic drain where no server session exists (a Jupyter kernel)."""
        if self._callback is None and not self.replay:
            self._callback = pn.state.add_periodic_callback(self._tick, period=self.period)

    def _tick(self) -> None:
        """One refresh; then stretch the refresh period so the page's Python time stays
        within ``UI_SHARE`` of the wall clock (refresh_period)."""
        t0 = time.perf_counter()
        self._safe(self.drain)
        self._tick_ms = smoothed_cost(self._tick_ms, (time.perf_counter() - t0) * 1e3)
        period = refresh_period(self.period, self._tick_ms)
        if self._callback is not None and abs(period - self._callback.period) > 50:
            self._callback.period = period

    # -- layout ---------------------------------------------------------------------------
    def sidebar(self) -> list:
        if self.scrubber is not None:
            c = self.config
            return [
                pn.pane.Markdown(
                    f"### replay of a recorded run\n{c.method} on {c.dataset}, hidden {c.hidden}"
                ),
                self.scrubber,
            ]
        b = self.buttons
        return [
            self.form,
            pn.Row(b["start"], b["pause"], b["resume"]),
            pn.Row(b["step"], b["stop"], b["reset"]),
            self.knob_panel,
            pn.Row(
                self.period_slider,
                pn.widgets.TooltipIcon(value=self.param.period.doc),
                sizing_mode="stretch_width",
            ),
            self.snapshots,
        ]

    def main(self) -> list:
        tabs = [(LIVE, self.dashboard)]
        tabs += [(name, factory(self)) for name, factory in self._tabs.items()]
        body = (
            pn.Tabs(*tabs, dynamic=True, sizing_mode="stretch_width")
            if len(tabs) > 1
            else self.dashboard
        )
        return [self.status_bar, body]

    def _start_session(self) -> None:
        """Per-session wiring: the periodic drain and the cleanup when the tab closes."""
        if self._callback is not None or self.replay:
            return
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return
        self._callback = pn.state.add_periodic_callback(self._tick, period=self.period)
        pn.state.on_session_destroyed(lambda ctx: self.close(wait=False))

    def template(self) -> pn.template.BaseTemplate:
        tmpl = pn.template.BootstrapTemplate(
            title="Sizing Explorer",
            sidebar=self.sidebar(),
            main=self.main(),
            sidebar_width=340,
            header_background="#1f77b4",
            # Panel marks the session busy around every periodic callback; with a busy
            # indicator each refresh sends two extra changes and re-renders the spinner: an
            # idle page cost Chromium 0.18 cores at a 200 ms period (0.006 without it). The
            # status line and progress bar already say what the trainer is doing.
            busy_indicator=None,
        )
        self._start_session()
        return tmpl

    def servable(
        self,
        title: str | None = None,
        location: bool = True,
        area: str = "main",
        target: str | None = None,
    ):
        return self.template().servable(title=title, location=location, area=area, target=target)

    def __panel__(self):
        layout = pn.Row(
            pn.Column(*self.sidebar(), width=340),
            pn.Column(*self.main(), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
        self._start_session()
        return layout


def _form_property(name: str) -> property:
    def get(self):
        return getattr(self.form, name)

    def set_(self, value):
        setattr(self.form, name, value)

    return property(get, set_, doc=f"the run form's {name}")


def _view_property(name: str) -> property:
    return property(lambda self: self.dashboard.view(name), doc=f"the '{name}' view")


for _name in FORM_PARAMS:
    setattr(ExplorerApp, _name, _form_property(_name))
for _alias, _name in VIEW_NAMES.items():
    setattr(ExplorerApp, _alias, _view_property(_name))
