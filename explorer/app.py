"""The live explorer page: pick a sizing method and a data set, press start, watch the network
choose its size while sliders change the knobs of the very next step.

One :class:`ExplorerApp` per browser session, composed of the components in
:mod:`explorer.page` (a :class:`~explorer.page.RunForm`, :class:`~explorer.page.RunControls`, a
:class:`~explorer.page.KnobPanel`, a :class:`~explorer.page.Dashboard`, a
:class:`~explorer.page.SnapshotPanel`, a :class:`~explorer.page.GroupSparsityPanel`, a
:class:`~explorer.page.StatusBar`, a :class:`~explorer.page.ReplayScrubber` for recorded runs)
and a :class:`~explorer.session.Session` (runner, History, drain; no Panel in it). A periodic
callback on the session's own thread drains the trainer's records into the plots inside one
``pn.io.hold()`` (notes/panel-streaming.md, "Threads and documents"), at a period from
:func:`~explorer.page.refresh_period`. More tabs: ``tabs={name: factory}`` or
:func:`explorer.page.register_tab`.
"""

from __future__ import annotations

import panel as pn
import param

import explorer.landscape.tab  # noqa: F401  (registers the "landscape" tab)
from explorer.config import RunConfig
from explorer.history import History
from explorer.knobs import Knobs, knobs_for
from explorer.page import (
    LIVE,
    Actions,
    Dashboard,
    GroupSparsityPanel,
    KnobPanel,
    Refresher,
    ReplayScrubber,
    RunControls,
    RunForm,
    SnapshotPanel,
    StatusBar,
    set_knob,
    tab_factories,
)
from explorer.page.closed_tab import end_with_its_tab
from explorer.page.knob_panel import lifetime_for
from explorer.session import Session, history_records, progress_percent, status_line

__all__ = ["FORM_PARAMS", "ExplorerApp"]
#: the run form's params, accepted as keyword arguments by ExplorerApp(...)
FORM_PARAMS = ("method", "dataset", "hidden", "seed", "device", "max_steps")
#: what the status line says at once after a button, and from which states (the trainer's
#: own state record replaces it when it arrives)
PENDING = {
    "start": ("starting", ("idle", "stopped", "finished", "error", "paused")),
    "pause": ("pausing", ("running",)),
    "resume": ("resuming", ("paused",)),
    "stop": ("stopping", ("running", "paused")),
}


class ExplorerApp(pn.viewable.Viewer):
    """Controls, status and linked live plots of one training session.

    Python API (what the buttons call): ``start()``, ``pause()``, ``resume()``, ``step()``,
    ``stop()``, ``reset()``, ``set_knob(name, value)``, ``drain()`` (one tick of the periodic
    callback), ``close()``. ``history`` holds everything recorded in the current run; the
    components are ``form``, ``controls``, ``knob_panel``, ``dashboard``, ``snapshots``,
    ``sweep_panel``, ``status_bar``, ``scrubber`` (replays only) and ``session``.
    """

    trainer_in = param.Selector(
        default="thread",
        objects=["thread", "process"],
        doc="where the trainer runs: a thread of this process, or a child process that does "
        "not share the web server's GIL (what the served page uses)",
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
        form = {k: params.pop(k) for k in FORM_PARAMS if k in params}
        super().__init__(**params)
        self.messages: list[str] = []
        self.actions = Actions(self.notify)
        self.knobs = knobs if knobs is not None else knobs_for(config.method, config.knobs)
        self.form = RunForm(actions=self.actions, **{**RunForm.params_from(config), **form})
        self.session = Session(config, self.knobs, self.trainer_in, replay=replay)
        self.status_bar = StatusBar()
        self.refresher = Refresher(lambda: self.actions.safe(self.drain))
        self.controls = RunControls(self._command, self.refresher.param.period)
        safe = self.actions.safe
        self.knob_panel = KnobPanel(
            self.knobs,
            on_change=lambda n, v: safe(self.set_knob, n, v),
            method=self.form.method,
            lifetime=lifetime_for(self.form.dataset),
        )
        self.sweep_panel = GroupSparsityPanel(
            view=lambda: self.dashboard.view("groupsparsity"),
            show=self.dashboard_update,
            reveal=lambda kinds: self.dashboard.reveal(kinds),
            notify=self.notify,
        )
        self.sweep_panel.button.on_click(lambda e: safe(self.sweep_panel.run))
        self.dashboard = Dashboard(
            self.session.history,
            method=self.form.method,
            extras={"shrinknets": lambda: [self.sweep_panel]},
        )
        self.snapshots = SnapshotPanel(
            self.session,
            self.actions,
            on_open=self._open_run,
            before_capture=self.drain,
            max_steps=lambda: self.form.max_steps,
        )
        self.form.param.watch(self._on_method, "method")
        self.form.param.watch(
            lambda e: setattr(self.knob_panel, "lifetime", lifetime_for(e.new)), "dataset"
        )
        self.form.on_preset = lambda knobs: safe(self.knob_panel.apply, knobs)
        self._tabs = tab_factories(tabs)
        self.scrubber: ReplayScrubber | None = None
        if replay is not None:
            self.status = "replay"
            self.dashboard_update(history_records(replay))
            self.dashboard.settle_step_axis()
            self.scrubber = ReplayScrubber(
                self.session, self.dashboard, self.dashboard_update, self._refresh_status, safe
            )
        self._refresh_status()

    history = property(lambda self: self.session.history, doc="the current run's History")
    runner = property(lambda self: self.session.runner, doc="the session's runner (or None)")

    def notify(self, text: str, level: str = "error") -> None:
        """Show a message in the page (an alert, and a toast when served)."""
        self.messages.append(text)
        self.message = text
        self.status_bar.message(text, level)

    # -- commands ----------------------------------------------------------------------------
    def _command(self, name: str) -> None:
        """A button: run the command; the status line says at once what is under way
        ("pausing", ...) until the trainer confirms, refreshed quickly meanwhile."""
        state = self.status
        self.actions.safe(getattr(self, name))
        word, before = PENDING.get(name, ("", ()))
        if state in before and self.status == state:
            self.status_bar.pending(word)
        self.refresher.soon(lambda: self.status != state)

    def set_knob(self, name: str, value) -> None:
        """Set one knob; the trainer uses it from its next step. Out of bounds -> message."""
        set_knob(self.knobs, name, value)
        if self.runner is not None and self.runner.state == "finished":
            self.notify(
                f"{name} set; the run has finished, so it acts on the next run", level="info"
            )

    def build_config(self) -> tuple[RunConfig, object]:
        """The run configuration from the controls (and the uploaded data set, if any)."""
        return self.form.config(self.session.config, self.knobs.values())

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
        self.refresher.stop()
        self.session.close(wait=wait)

    def _on_method(self, event) -> None:
        self.knob_panel.method = self.dashboard.method = event.new
        self.notify(
            f"method {event.new}: the next start begins a new run, from {event.new}'s own "
            "sizes and default knobs",
            level="info",
        )

    def _open_run(self, trainer, history: History) -> None:
        """Show a restored run (a snapshot), paused; the form names its method."""
        self.form.name_method(trainer.config.method)
        self.session.adopt(trainer, history)
        self._new_run()
        self.dashboard_update(history_records(history))

    @classmethod
    def from_history(cls, history: History, config: RunConfig | dict, **params) -> ExplorerApp:
        """Show a recorded run (a snapshot) without training."""
        if isinstance(config, dict):
            config = RunConfig.from_dict(config)
        return cls(config=config, replay=history, **params)

    @classmethod
    def open_snapshot(cls, path, resume: bool = False, **params) -> ExplorerApp:
        """An app showing a snapshot's recorded run; with ``resume`` its trainer is restored
        (paused) so ``resume()`` trains on from where the snapshot was taken."""
        from explorer.snapshot import load_snapshot, restore

        data = load_snapshot(path)
        config = RunConfig.from_dict(data.config)
        if not resume:
            app = cls.from_history(data.history(), config, **params)
        else:
            app = cls(config=config, **params)
            app._open_run(*restore(data, knobs=app.knobs))
        app.snapshots.show_landscape(data.landscape)  # the landscape tab shows them when built
        for problem in data.problems:
            app.notify(problem)
        return app

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
            # records waiting for a throttled view: due ones, or all once the run is not
            # running (a pause or the end shows the whole picture at once)
            for error in self.dashboard.flush_due(everything=self.status != "running"):
                self.notify(error)
            if self.status != "running":
                self.dashboard.settle_step_axis()
            if n:
                self._refresh_status()
        return n

    def _new_run(self) -> None:
        self.dashboard.new_run(self.session.history, self.session.last_method())
        self.status_bar.clear()

    def dashboard_update(self, by_kind: dict[str, list[dict]]) -> list[str]:
        """Hand records to the plots; a view that cannot take one says so in a message."""
        errors = self.dashboard.update(by_kind)
        for error in errors:
            self.notify(error)
        return errors

    def _on_state(self, rec: dict) -> None:
        self.status = rec["state"]
        if rec["state"] == "error":
            self.notify(f"the run stopped: {rec['message']}")
        elif rec["state"] == "finished":
            self.notify(f"run finished: {rec['message']}", level="info")

    def _refresh_status(self) -> None:
        last = self.session.last
        total = self.scrubber.last if self.scrubber is not None else self.form.max_steps
        line = status_line(self.status, self.session.device, last["step"], last["eval"])
        if not total:  # no step limit: no bar, the line says how the run ends
            line += " · trains until you press stop" if self.status == "running" else ""
        percent = progress_percent(last["step"], total) if total else None
        self.status_bar.show(line, percent, training=self.status == "running")

    def start_callback(self) -> None:
        """Start the periodic drain where no server session exists (a Jupyter kernel)."""
        if self.scrubber is None:
            self.refresher.start()

    # -- layout ---------------------------------------------------------------------------
    def sidebar(self) -> list:
        if self.scrubber is not None:
            return [self.scrubber]
        return [self.form, self.controls, self.knob_panel, self.controls.period_row, self.snapshots]

    def main(self) -> list:
        tabs = [(LIVE, self.dashboard)]
        tabs += [(name, factory(self)) for name, factory in self._tabs.items()]
        body = self.dashboard
        if len(tabs) > 1:
            body = pn.Tabs(*tabs, dynamic=True, sizing_mode="stretch_width")
            # the live plots are not updated while another tab is open (redrawn on return)
            body.param.watch(lambda e: setattr(self.dashboard, "on_screen", e.new == 0), "active")
        return [self.status_bar, self.refresher.ack, body]

    def _start_session(self) -> None:
        """Per-session wiring: the periodic drain and the cleanup when the tab closes."""
        if self.refresher.running or self.scrubber is not None:
            return
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return
        self.refresher.start()
        pn.state.on_session_destroyed(lambda ctx: self.close(wait=False))
        end_with_its_tab(pn.state.curdoc)  # a closed tab's trainer goes within seconds

    def template(self) -> pn.template.BaseTemplate:
        tmpl = PageTemplate(
            title="Sizing Explorer",
            sidebar=self.sidebar(),
            main=self.main(),
            sidebar_width=340,
            header_background="#1f77b4",
            # Panel marks the session busy around every periodic callback; with a busy
            # indicator each refresh sends two extra changes and re-renders the spinner: an
            # idle page cost Chromium 0.18 cores at a 200 ms period (0.006 without it).
            busy_indicator=None,
        )
        self._start_session()
        return tmpl

    def servable(self, title=None, location=True, area="main", target=None):
        return self.template().servable(title=title, location=location, area=area, target=target)

    def __panel__(self):
        main = pn.Column(*self.main(), sizing_mode="stretch_width")
        layout = pn.Row(pn.Column(*self.sidebar(), width=340), main, sizing_mode="stretch_width")
        self._start_session()
        return layout


class PageTemplate(pn.template.BootstrapTemplate):
    """The page's template, its Bokeh models added to the session's document in one go.

    Panel adds a template's parts to the document one root at a time, and Bokeh recomputes
    the references of every model in the document after each (14 times for this page's
    ~320 models): a quarter of the server time of a page load. A frozen document recomputes
    them once, when the page is complete (Bokeh's ``doc.models.freeze()``)."""

    def server_doc(self, doc=None, title=None, location=True):
        doc = doc if doc is not None else pn.state.curdoc
        if doc is None:
            return super().server_doc(doc, title, location)
        with doc.models.freeze():
            return super().server_doc(doc, title, location)
