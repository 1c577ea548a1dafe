"""The live explorer page: pick a sizing method and a data set, press start, watch the network
choose its size while sliders change the knobs of the very next step.

One :class:`ExplorerApp` per browser session. The trainer runs on a
:class:`~explorer.runner.TrainerThread`; a periodic callback on the session's own thread
(~200 ms) drains its records into a :class:`~explorer.history.History` and pushes only the new
rows to the plots inside one ``pn.io.hold()`` (notes/panel-streaming.md, "Threads and
documents"). The page never touches the model; the trainer never touches Bokeh.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from pathlib import Path

import panel as pn
import param
from bokeh.models import CustomJSTickFormatter

from explorer.config import RunConfig
from explorer.data import DATASETS, load_dataset
from explorer.group_sparsity import DATASETS as SWEEP_DATASETS
from explorer.group_sparsity import SweepThread
from explorer.history import History
from explorer.knobs import Knobs, knob_names
from explorer.runner import TrainerThread
from explorer.views import (
    CostView,
    FanHistoryView,
    GroupSparsityView,
    LifetimeView,
    LossView,
    SizesView,
    SpectrumView,
    SwitchView,
    TradeoffView,
    UnitScatterView,
    UnitSelection,
    group_records,
    history_records,
    step_range,
)
from kernels.methods import METHODS

UPLOAD = "upload .npz/.csv"
#: knobs whose sliders move on a log10 scale: (lowest, highest) value shown
LOG_KNOBS = {"lam": (1e-6, 1.0), "lr": (1e-5, 1.0), "tau": (1e-6, 1.0)}
#: slider ranges of the linear knobs (the Knobs' soft bounds, within their hard bounds)
LINEAR_KNOBS = {"gamma": (0.0, 1.0, 0.01), "lam2": (0.0, 1e-2, 1e-4),
                "growth_rate": (0.0, 8.0, 0.25), "angular_lr": (0.0, 100.0, 0.5),
                "radial_lr": (0.0, 1000.0, 5.0), "growth_every": (0, 1000, 1)}
#: records the drain handles itself (not stored in the History)
CONTROL_KINDS = ("state", "run")
DRAIN_LIMIT = 20_000
#: lambda values per method in the page's group-sparsity sweep (ShrinkNets fig. 1)
SWEEP_POINTS = 10
#: the share of wall-clock time the page's refreshes may take (the rest is the trainer's).
#: Each refresh's server time also sets off the browser's redraw and the messages it sends
#: back, so the trainer loses about 2-3x this share: with 0.05 (about one refresh a second
#: here) the page cost 7-13% of the throughput in ``python -m explorer bench --app``; with
#: 0.025 (about one every 1.5-2 s on this 2-core machine, faster on a faster one) -3% to 10%
#: over six runs, about 5% in the middle.
UI_SHARE = 0.025
#: the slowest refresh the page falls back to when refreshes are expensive
MAX_PERIOD_MS = 3000
#: torch threads of the trainer: one core stays free for the web server (see runner.py)
TORCH_THREADS = max(1, (os.cpu_count() or 2) - 1)


def parse_hidden(text: str) -> list[int]:
    """'10,10' or '10x10' -> [10, 10]; a clear message otherwise."""
    try:
        sizes = [int(s) for s in str(text).replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"hidden sizes must be integers separated by commas, e.g. 10,10; "
                         f"got '{text}'") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"hidden sizes must be integers >= 1, e.g. 10,10; got '{text}'")
    return sizes


def _card(title: str, *objects) -> pn.Card:
    return pn.Card(*objects, title=title, collapsible=True, sizing_mode="stretch_width")


def snapshot_folder() -> Path:
    """The one folder the page may open snapshots from (no arbitrary paths from a browser)."""
    return Path(os.environ.get("SIZING_EXPLORER_SNAPSHOTS", "snapshots")).resolve()


def snapshot_files() -> list[str]:
    folder = snapshot_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.suffix == ".zip" or (p / "manifest.json").is_file())


class ExplorerApp(pn.viewable.Viewer):
    """Controls, status and linked live plots of one training session.

    Python API (what the buttons call): ``start()``, ``pause()``, ``resume()``, ``step()``,
    ``stop()``, ``reset()``, ``set_knob(name, value)``, ``drain()`` (one tick of the periodic
    callback), ``close()``. ``history`` holds everything recorded in the current run.
    """

    method = param.Selector(default="nonparametric", objects=sorted(METHODS),
                            doc="sizing method (kernels.methods registry)")
    dataset = param.Selector(default="digits", objects=[*DATASETS, UPLOAD],
                             doc="built-in data set, or a .npz/.csv file you upload")
    hidden = param.String(default="10,10", doc="starting hidden sizes, e.g. 10,10")
    seed = param.Integer(default=0, bounds=(0, None), doc="random seed of weights and data")
    device = param.Selector(default="auto", objects=["auto", "cpu", "cuda"],
                            doc="auto = CUDA when present, else CPU")
    max_steps = param.Integer(default=20_000, bounds=(1, None),
                              doc="the run finishes after this many steps")
    period = param.Integer(default=200, bounds=(50, 10_000),
                           doc="Shortest time (ms) between two refreshes of the plots. The "
                               "page stretches it when refreshes get expensive, so that they "
                               "take at most 2.5% of the wall clock (UI_SHARE); a longer "
                               "period leaves more of the machine to training.")
    trainer_in = param.Selector(default="thread", objects=["thread", "process"],
                                doc="where the trainer runs: a thread of this process, or a "
                                    "child process that does not share the web server's GIL "
                                    "(what the served page uses)")
    status = param.String(default="idle", doc="the run's state")
    message = param.String(default="", doc="the last error or notice shown")

    def __init__(self, config: RunConfig | None = None, knobs: Knobs | None = None,
                 replay: History | None = None, **params) -> None:
        config = config or RunConfig()
        params.setdefault("method", config.method)
        if config.dataset in DATASETS:
            params.setdefault("dataset", config.dataset)
        params.setdefault("hidden", ",".join(str(h) for h in config.hidden))
        params.setdefault("seed", config.seed)
        params.setdefault("device", config.device if config.device in ("auto", "cpu", "cuda")
                          else "auto")
        super().__init__(**params)
        self.config = config
        self.knobs = knobs if knobs is not None else Knobs(**config.knobs)
        self.history = History()
        self.messages: list[str] = []
        self.runner: TrainerThread | None = None
        self.upload_dataset = None
        self.replay = replay is not None
        self._callback = None
        self._last = {"step": None, "eval": None, "state": None, "run_started": None}
        self._steps_seen = 0
        self._build_views()
        self._build_controls()
        self.scrubber = None
        if replay is not None:
            self.history = replay
            self.fan_history.history = replay
            self._apply(history_records(replay))
            self.status = "replay"
            last = max((r["step"] for r in replay.rows.get("step", ())), default=0)
            self.scrubber = pn.widgets.IntSlider(label="replay: show up to step", start=0,
                                                 end=max(last, 1), value=last,
                                                 sizing_mode="stretch_width")
            self.scrubber.param.watch(lambda e: self._safe(self.scrub_to, e.new),
                                      "value_throttled")
            self._refresh_status()

    def scrub_to(self, step: int) -> None:
        """Show a recorded run as it was at ``step`` (replay mode): the plots are rebuilt
        from the History's records up to that step."""
        if not self.replay:
            raise RuntimeError("scrubbing needs a recorded run (ExplorerApp.from_history)")
        records = {kind: [r for r in rows if r.get("step", 0) <= step]
                   for kind, rows in history_records(self.history).items()}
        with pn.io.hold():
            for view in self.views:
                view.reset()
            self.tradeoff.earlier.data = {k: [] for k in self.tradeoff.earlier.data}
            self.selection.clear()
            self._last.update(step=None, eval=None)
            self._apply({k: v for k, v in records.items() if v})
            for view in self.views:  # the throttled scatter shows its table at once
                if hasattr(view, "show_table") and records.get("units"):
                    view.show_table(records["units"][-1])
            self._refresh_status()

    @classmethod
    def from_history(cls, history: History, config: RunConfig | dict, **params) -> ExplorerApp:
        """Show a recorded run (a snapshot) without training."""
        if isinstance(config, dict):
            config = RunConfig.from_dict(config)
        return cls(config=config, replay=history, **params)

    # -- views -------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.selection = UnitSelection()
        xr = step_range()
        self.loss = LossView(x_range=xr)
        self.sizes = SizesView(x_range=xr)
        self.units = UnitScatterView(self.selection, min_interval=0.4)
        self.lifetimes = LifetimeView(self.selection, x_range=xr)
        self.fan_history = FanHistoryView(self.history, self.selection, x_range=xr)
        self.tradeoff = TradeoffView()
        self.spectrum = SpectrumView(x_range=xr)
        self.switches = SwitchView(self.selection, x_range=xr)
        self.spectrum_card = _card("TINY: eigenvalue spectra", self.spectrum)
        self.cost_view = CostView(x_range=xr)
        self.groupsparsity = GroupSparsityView()
        self.sweep = SweepThread()
        self.sweep_dataset = pn.widgets.Select(
            label="sweep data set", options=list(SWEEP_DATASETS), value=SWEEP_DATASETS[0],
            description="synthetic: 30 inputs, 5 relevant; linnerud: 3 -> 3 regression; "
                        "digits: 64-pixel logistic regression (slow: minutes)")
        self.sweep_button = pn.widgets.Button(label="run group-sparsity sweep",
                                              align="end")
        self.sweep_button.on_click(
            lambda e: self._safe(self.run_sweep, self.sweep_dataset.value))
        self.switch_card = _card(
            "ShrinkNets: switches, cost, group sparsity",
            pn.Row(self.switches, self.cost_view, sizing_mode="stretch_width"),
            pn.Row(self.sweep_dataset, self.sweep_button), self.groupsparsity)
        self.spectrum_card.visible = self.method == "tiny"
        self.switch_card.visible = self.method == "shrinknets"
        self.views = [self.loss, self.sizes, self.units, self.lifetimes, self.fan_history,
                      self.tradeoff, self.spectrum, self.switches, self.cost_view]

    # -- controls -------------------------------------------------------------------------
    # -- group-sparsity sweep (ShrinkNets fig. 1) ---------------------------------------------
    def run_sweep(self, dataset: str | None = None, points: int = SWEEP_POINTS,
                  max_iter: int = 3000) -> bool:
        """Start the loss/sparsity sweep of both methods on a background thread; its points
        reach the plot at each drain. A second call while one runs is refused with a
        message (returns False)."""
        dataset = dataset or self.sweep_dataset.value
        if dataset not in SWEEP_DATASETS:
            raise ValueError(f"unknown group-sparsity data set '{dataset}'; accepted: "
                             f"{', '.join(SWEEP_DATASETS)}")
        if self.sweep.running:
            self.notify("a group-sparsity sweep is already running; wait for it to finish",
                        level="info")
            return False
        self.groupsparsity.reset()
        self.switch_card.visible = True
        self.sweep.start(dataset, points=points, max_iter=max_iter)
        self.notify(f"group-sparsity sweep on {dataset} started ({points} lambdas per "
                    "method)", level="info")
        return True

    def drain_sweep(self) -> int:
        """Move the sweep's waiting records into its plot; returns how many."""
        records = self.sweep.drain()
        points = [r for r in records if r.get("kind") == "groupsparsity"]
        if points:
            try:
                self.groupsparsity.update({"groupsparsity": points})
            except (ValueError, KeyError, TypeError) as exc:
                self.notify(f"GroupSparsityView could not show a record: {exc}")
        for r in records:
            if r.get("kind") == "groupsparsity_error":
                self.notify(r["message"])
            elif r.get("kind") == "groupsparsity_done":
                self.notify(f"group-sparsity sweep on {r['dataset']} finished: {r['fits']} "
                            "fits", level="info")
        return len(records)

    def _build_controls(self) -> None:
        w = pn.widgets
        self.method_select = w.Select.from_param(self.param.method, label="sizing method")
        self.dataset_select = w.Select.from_param(self.param.dataset, label="data set")
        self.upload = w.FileInput(accept=".npz,.csv", visible=False,
                                  description="X and y arrays (.npz) or a CSV whose last "
                                              "column is the label")
        self.upload.param.watch(self._on_upload, "value")
        self.hidden_input = w.TextInput.from_param(self.param.hidden, label="hidden sizes")
        self.seed_input = w.IntInput.from_param(self.param.seed)
        self.device_select = w.Select.from_param(self.param.device)
        self.steps_input = w.IntInput.from_param(self.param.max_steps, label="steps")
        self.period_slider = w.IntSlider.from_param(self.param.period, step=50,
                                                    label="refresh every (ms, at least)")
        self.buttons = {
            "start": w.Button(label="start", button_type="primary"),
            "pause": w.Button(label="pause"),
            "resume": w.Button(label="resume"),
            "step": w.Button(label="step once"),
            "stop": w.Button(label="stop", button_type="warning"),
            "reset": w.Button(label="reset"),
        }
        for name, button in self.buttons.items():
            button.on_click(lambda event, name=name: self._safe(getattr(self, name)))
        self.knob_widgets = {name: self._knob_widget(name) for name in knob_names()}
        # sliders take no tooltip of their own: the knob's doc sits in an icon beside it
        self.knob_rows = {name: pn.Row(widget, pn.widgets.TooltipIcon(value=Knobs.param[name].doc),
                                       sizing_mode="stretch_width")
                          for name, widget in self.knob_widgets.items()}
        self.param.watch(self._show_method_knobs, "method")
        self.param.watch(lambda e: setattr(self.upload, "visible", e.new == UPLOAD), "dataset")
        self._show_method_knobs()
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False,
                                   sizing_mode="stretch_width")
        self.status_pane = pn.pane.Markdown("", sizing_mode="stretch_width",
                                            name="status_line")
        self.progress = pn.indicators.Progress(value=0, max=100, sizing_mode="stretch_width",
                                               height=12, bar_color="primary")
        self.save_snapshot_button = w.FileDownload(
            callback=lambda: self._safe(self._snapshot_file) or io.BytesIO(),
            filename="sizing-explorer-snapshot.zip", label="save snapshot",
            button_type="default", sizing_mode="stretch_width",
            description="the whole session (weights, optimizer, history, knobs) as a .zip, "
                        "taken between two steps; training goes on")
        self.open_snapshot_input = w.FileInput(
            accept=".zip", sizing_mode="stretch_width",
            description="reopen a saved snapshot: plots as they were, training paused at "
                        "the saved step (press resume to go on)")
        self.open_snapshot_input.param.watch(
            lambda e: self._safe(self.load_snapshot_bytes, e.new,
                                 self.open_snapshot_input.filename), "value")
        self.snapshot_select = w.Select(
            name="snapshot folder", options=snapshot_files(), sizing_mode="stretch_width",
            description=f"snapshots in {snapshot_folder()} (set SIZING_EXPLORER_SNAPSHOTS); "
                        "only files in that folder can be opened from the page")
        self.open_snapshot_button = w.Button(label="open from folder",
                                             sizing_mode="stretch_width")
        self.open_snapshot_button.on_click(
            lambda e: self._safe(self.open_from_folder, self.snapshot_select.value))
        self.size_axis = w.RadioButtonGroup(options=["units", "params"], value="units")
        self.size_axis.param.watch(lambda e: self.tradeoff.set_size_axis(e.new), "value")
        self._refresh_status()

    def _knob_widget(self, name: str):
        value = getattr(self.knobs, name)
        if name in LOG_KNOBS:
            lo, hi = LOG_KNOBS[name]
            shown = min(max(value, lo), hi) if value > 0 else lo
            widget = pn.widgets.FloatSlider(
                label=f"{name} (log scale)", start=math.log10(lo), end=math.log10(hi),
                step=0.05, value=math.log10(shown), sizing_mode="stretch_width",
                format=CustomJSTickFormatter(code="return (10 ** tick).toExponential(1)"))
            widget.param.watch(lambda e, n=name: self._safe(self.set_knob, n, 10 ** e.new),
                               "value_throttled")
        else:
            lo, hi, step = LINEAR_KNOBS[name]
            cls = pn.widgets.IntSlider if isinstance(value, int) else pn.widgets.FloatSlider
            widget = cls(label=name, start=lo, end=hi, step=step, value=min(max(value, lo), hi),
                         sizing_mode="stretch_width")
            widget.param.watch(lambda e, n=name: self._safe(self.set_knob, n, e.new),
                               "value_throttled")
        return widget

    def _show_method_knobs(self, event=None) -> None:
        used = set(METHODS[self.method].knobs)
        for name, row in self.knob_rows.items():
            row.visible = name in used

    # -- messages ---------------------------------------------------------------------------
    def notify(self, text: str, level: str = "error") -> None:
        """Show a message in the page (an alert, and a toast when served)."""
        self.messages.append(text)
        self.message = text
        self.alert.object = text
        self.alert.alert_type = "danger" if level == "error" else "info"
        self.alert.visible = True
        notifications = pn.state.notifications
        if notifications is not None:
            getattr(notifications, "error" if level == "error" else "info")(text, duration=8000)

    def _safe(self, fn, *args):
        """Run a UI action; a bad value becomes a message, never a broken session."""
        try:
            return fn(*args)
        except (ValueError, TypeError, RuntimeError, OSError) as exc:
            self.notify(str(exc))
            return None

    # -- knobs ----------------------------------------------------------------------------------
    def set_knob(self, name: str, value) -> None:
        """Set one knob; the trainer uses it from its next step. Out of bounds -> message."""
        if name not in knob_names():
            raise ValueError(f"unknown knob '{name}'; accepted: {', '.join(knob_names())}")
        if isinstance(Knobs.param[name], param.Integer):
            value = int(round(value))
        try:
            setattr(self.knobs, name, value)
        except ValueError as exc:
            lo, hi = Knobs.param[name].bounds
            raise ValueError(f"{name}={value!r} is not accepted (allowed {lo} to {hi}); "
                             f"it stays {getattr(self.knobs, name)}") from exc

    # -- commands ----------------------------------------------------------------------------
    def build_config(self) -> tuple[RunConfig, object]:
        """The run configuration from the controls (and the uploaded data set, if any)."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; accepted: {', '.join(METHODS)}")
        dataset, name = None, self.dataset
        if self.dataset == UPLOAD:
            if self.upload_dataset is None:
                raise ValueError("choose a .npz or .csv file to upload first")
            dataset, name = self.upload_dataset, self.upload_dataset.name
        base = self.config
        config = RunConfig(method=self.method, dataset=name, hidden=parse_hidden(self.hidden),
                           seed=self.seed, device=self.device, steps=self.max_steps,
                           batch_size=base.batch_size, eval_every=base.eval_every,
                           units_every=base.units_every,
                           method_options=base.method_options if base.method == self.method
                           else {},
                           dataset_options=base.dataset_options if dataset is None
                           and base.dataset == name else {},
                           knobs=self.knobs.values())
        return config, dataset

    def _ensure_runner(self) -> TrainerThread:
        if self.runner is None or not self.runner.alive:
            if self.trainer_in == "process":
                from explorer.runner_process import TrainerProcess as Runner
            else:
                Runner = TrainerThread  # noqa: N806 (a class picked at run time)
            self.runner = Runner(self.config, self.knobs, threads=TORCH_THREADS)
        return self.runner

    def _training_runner(self) -> TrainerThread:
        """The session's runner, refusing on a replay page (it has nothing to train)."""
        if self.replay:
            raise RuntimeError("this page replays a recorded run; it does not train")
        return self._ensure_runner()

    def _new_config(self, runner: TrainerThread) -> None:
        """Load a fresh run built from the current controls into ``runner``."""
        config, dataset = self.build_config()
        self.config = config
        runner.reset(config, dataset)

    def start(self) -> None:
        """Start a new run with the current controls (or resume a paused one)."""
        runner = self._training_runner()
        if runner.state == "paused":
            runner.resume()
            return
        if runner.state == "running":
            return
        self._new_config(runner)
        runner.start()

    def pause(self) -> None:
        if self.runner is not None:
            self.runner.pause()

    def resume(self) -> None:
        if self.runner is not None:
            self.runner.resume()

    def step(self) -> None:
        """One training step (a paused run goes on by one; otherwise a new run, paused)."""
        runner = self._training_runner()
        if runner.state in ("idle", "finished", "stopped", "error"):
            self._new_config(runner)
        runner.step_once()

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()

    def reset(self) -> None:
        """Drop the run and clear the plots (earlier runs stay in the trade-off plot)."""
        if self.runner is not None:
            self.runner.reset()  # the plots clear when its "idle" state arrives (drain)
        else:
            self._new_run()

    def close(self) -> None:
        """Stop the trainer thread and free the model (the session ends)."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.runner is not None:
            self.runner.close()

    # -- the periodic drain -----------------------------------------------------------------
    def _new_run(self) -> None:
        self.history = History()
        self.fan_history.history = self.history
        self.tradeoff.method_label = self._last_method()  # names the archived run
        for view in self.views:
            view.reset()
        self.selection.clear()
        self._last.update(step=None, eval=None)
        self.alert.visible = False

    def drain(self) -> int:
        """Move waiting records into the History and the plots; returns how many."""
        if not self.sweep.queue.empty():
            with pn.io.hold():
                self.drain_sweep()
        if self.runner is None:
            return 0
        records = self.runner.drain(DRAIN_LIMIT)
        if not records:
            return 0
        with pn.io.hold():
            batch: list[dict] = []
            for rec in records:
                kind = rec.get("kind")
                if kind == "run":
                    self._apply(group_records(batch))
                    batch = []
                    self._new_run()
                    self._last["run_started"] = rec
                elif kind == "state":
                    if rec["state"] == "idle":  # reset: records after it are a new run's
                        self._apply(group_records(batch))
                        batch = []
                        self._new_run()
                    self._on_state(rec)
                else:
                    self.history.add(rec)
                    batch.append(rec)
            self._apply(group_records(batch))
            self._refresh_status()
        return len(records)

    def _last_method(self) -> str:
        started = self._last.get("run_started")
        return started["config"]["method"] if started else self.method

    def _apply(self, by_kind: dict[str, list[dict]]) -> None:
        if not by_kind:
            return
        for view in self.views:
            try:
                view.update(by_kind)
            except (ValueError, KeyError, TypeError) as exc:
                self.notify(f"{type(view).__name__} could not show a record: {exc}")
        if by_kind.get("step"):
            self._last["step"] = by_kind["step"][-1]
            self._steps_seen += len(by_kind["step"])
        if by_kind.get("eval"):
            self._last["eval"] = by_kind["eval"][-1]
        self.spectrum_card.visible = self.method == "tiny" or bool(
            self.spectrum.points.data["step"])
        self.switch_card.visible = self.method == "shrinknets" or bool(
            self.switches.points.data["step"]) or bool(self.groupsparsity.points.data["loss"])

    def _on_state(self, rec: dict) -> None:
        self.status = rec["state"]
        self._last["state"] = rec
        if rec["state"] == "error":
            self.notify(f"the run stopped: {rec['message']}")
        elif rec["state"] == "finished":
            self.notify(f"run finished: {rec['message']}", level="info")

    def _refresh_status(self) -> None:
        step, ev = self._last["step"], self._last["eval"]
        parts = [f"**{self.status}**"]
        if self.runner is not None and self.runner.trainer is not None:
            parts.append(f"device {self.runner.trainer.device}")
        if step is not None:
            parts += [f"step {step['step']}", f"epoch {step['epoch']:.1f}",
                      f"sizes {step['sizes']}", f"loss {step['loss']:.4f}"]
        if ev is not None:
            total = sum(ev.get(f"time_{k}", 0.0) for k in ("train", "surgery", "eval")) or 1.0
            parts += [f"val acc {ev['val_acc']:.3f}", f"{ev['samples_per_s']:,.0f} samples/s",
                      "time " + " / ".join(f"{k} {100 * ev.get(f'time_{k}', 0.0) / total:.0f}%"
                                           for k in ("train", "surgery", "eval"))]
        self.status_pane.object = " · ".join(parts)
        if step is not None:
            self.progress.value = int(min(100, 100 * step["step"] / max(self.max_steps, 1)))
        else:
            self.progress.value = 0

    # -- uploads -----------------------------------------------------------------------------
    def _on_upload(self, event) -> None:
        self._safe(self.load_upload, self.upload.value, self.upload.filename)

    def load_upload(self, content: bytes | None, filename: str | None) -> None:
        """Read an uploaded .npz/.csv; a bad file gives a message and keeps the last one."""
        from explorer.data import DataError

        if not content or not filename:
            return
        suffix = Path(filename).suffix.lower()
        if suffix not in (".npz", ".csv"):
            raise ValueError(f"{filename}: accepted files are .npz (arrays X, y) and .csv "
                             "(last column = label)")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, Path(filename).name)
            with open(path, "wb") as fh:
                fh.write(content)
            try:
                self.upload_dataset = load_dataset(path, seed=self.seed)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        self.notify(f"loaded {filename}: {len(self.upload_dataset.y_train)} training samples",
                    level="info")

    # -- snapshots ------------------------------------------------------------------------
    def capture_snapshot(self, timeout: float = 60.0):
        """Snapshot data of the current run, taken between two steps on the trainer thread."""
        if self.runner is None or self.runner.trainer is None:
            raise RuntimeError("nothing to save yet: start a run first")
        self.drain()
        return self.runner.capture(self.history).result(timeout)

    def save_snapshot(self, path, timeout: float = 60.0, writer=None):
        """Write a snapshot (``.zip`` or folder) of the run; training goes on meanwhile."""
        from explorer.snapshot import write

        return (writer or write)(self.capture_snapshot(timeout), path)

    def snapshot_bytes(self) -> bytes:
        """The run's snapshot as the bytes of a ``.zip`` (the page's download button)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = self.save_snapshot(Path(tmp) / "snapshot.zip")
            return Path(path).read_bytes()

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
        trainer, history = restore(data, knobs=app.knobs)
        app._adopt(trainer, history)
        return app

    def _adopt(self, trainer, history: History) -> None:
        self._new_run()
        self.history = history
        self.fan_history.history = history
        self._apply(history_records(history))
        self.config = trainer.config
        self._ensure_runner().adopt(trainer)

    def _snapshot_file(self) -> io.BytesIO:
        return io.BytesIO(self.snapshot_bytes())

    def load_snapshot_bytes(self, content: bytes | None, filename: str | None) -> None:
        """Reopen an uploaded snapshot in this page (paused at its step)."""
        if not content:
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(filename or "snapshot.zip").name
            path.write_bytes(content)
            self.open_in_page(path)

    def open_from_folder(self, name: str | None) -> None:
        """Open a snapshot by name from the configured folder; other paths are refused."""
        if not name:
            raise ValueError(f"no snapshot chosen; the folder {snapshot_folder()} holds "
                             f"{len(snapshot_files())} snapshot(s)")
        if Path(name).name != name or name not in snapshot_files():
            raise ValueError(f"'{name}' is not a snapshot in {snapshot_folder()}; "
                             "only files listed there can be opened")
        self.open_in_page(snapshot_folder() / name)

    def open_in_page(self, path) -> None:
        """Replace this page's run by a snapshot's (the current run stops)."""
        from explorer.snapshot import SnapshotError, load_snapshot, restore

        try:
            data = load_snapshot(path)
            trainer, history = restore(data, knobs=self.knobs)
        except SnapshotError as exc:
            raise ValueError(str(exc)) from None
        if self.runner is not None:
            self.runner.stop()
        self.method = trainer.config.method
        self._adopt(trainer, history)
        for name, widget in self.knob_widgets.items():
            value = getattr(self.knobs, name)
            if name in LOG_KNOBS:
                lo, hi = LOG_KNOBS[name]
                widget.value = math.log10(min(max(value, lo), hi))
            else:
                lo, hi, _ = LINEAR_KNOBS[name]
                widget.value = min(max(value, lo), hi)
        self.notify(f"opened {Path(path).name}: step {trainer.step_count}, paused "
                    "(press resume to train on)", level="info")

    def start_callback(self) -> None:
        """Start the periodic drain where no server session exists (a Jupyter kernel)."""
        if self._callback is None and not self.replay:
            self._callback = pn.state.add_periodic_callback(self._tick, period=self.period)

    def _tick(self) -> None:
        """One refresh; then stretch the refresh period so the page's Python time stays
        within ``UI_SHARE`` of the wall clock. The drain holds the GIL that the trainer
        thread needs, so its share is roughly what the page costs training."""
        t0 = time.perf_counter()
        self._safe(self.drain)
        spent_ms = (time.perf_counter() - t0) * 1e3
        self._tick_ms = 0.8 * getattr(self, "_tick_ms", spent_ms) + 0.2 * spent_ms
        # the user's period is a floor: the adaptive stretch never goes below it, and its
        # own cap (MAX_PERIOD_MS) never overrides a longer choice
        period = int(max(self.period, min(MAX_PERIOD_MS, self._tick_ms / UI_SHARE)))
        if self._callback is not None and abs(period - self._callback.period) > 50:
            self._callback.period = period

    # -- layout ---------------------------------------------------------------------------
    def sidebar(self) -> list:
        b = self.buttons
        if self.scrubber is not None:
            return [pn.pane.Markdown(f"### replay of a recorded run\n{self.config.method} on "
                                     f"{self.config.dataset}, hidden {self.config.hidden}"),
                    self.scrubber]
        return [
            self.method_select, pn.pane.Markdown(self._method_doc, margin=(0, 10)),
            self.dataset_select, self.upload, self.hidden_input,
            self.seed_input, self.device_select, self.steps_input,
            pn.Row(b["start"], b["pause"], b["resume"]),
            pn.Row(b["step"], b["stop"], b["reset"]),
            pn.pane.Markdown("### knobs (act on the next step)"),
            *self.knob_rows.values(),
            pn.Row(self.period_slider, pn.widgets.TooltipIcon(value=self.param.period.doc),
                   sizing_mode="stretch_width"),
            pn.pane.Markdown("### snapshots"),
            self.save_snapshot_button, self.open_snapshot_input,
            pn.Row(self.snapshot_select, self.open_snapshot_button),
        ]

    @param.depends("method")
    def _method_doc(self):
        return f"<small>{METHODS[self.method].description}</small>"

    def main(self) -> list:
        card = _card
        return [
            pn.Column(self.status_pane, self.progress, self.alert, sizing_mode="stretch_width"),
            pn.Row(card("loss and accuracy", self.loss), card("layer sizes", self.sizes),
                   sizing_mode="stretch_width"),
            pn.Row(card("units", self.units), card("unit lifetimes", self.lifetimes),
                   sizing_mode="stretch_width"),
            pn.Row(card("selected units", self.fan_history),
                   card("size vs loss", self.size_axis, self.tradeoff),
                   sizing_mode="stretch_width"),
            self.spectrum_card, self.switch_card,
        ]

    def _start_session(self) -> None:
        """Per-session wiring: the periodic drain and the cleanup when the tab closes."""
        if self._callback is not None or self.replay:
            return
        if pn.state.curdoc is None or pn.state.curdoc.session_context is None:
            return
        self._callback = pn.state.add_periodic_callback(self._tick, period=self.period)
        pn.state.on_session_destroyed(lambda ctx: self.close())

    def template(self) -> pn.template.BaseTemplate:
        tmpl = pn.template.BootstrapTemplate(
            title="Sizing Explorer", sidebar=self.sidebar(), main=self.main(),
            sidebar_width=340, header_background="#1f77b4",
            # Panel marks the session busy around every periodic callback; with a busy
            # indicator each refresh sends two extra changes and re-renders the spinner: an
            # idle page cost Chromium 0.18 cores at a 200 ms period (0.006 without it). The
            # status line and progress bar already say what the trainer is doing.
            busy_indicator=None)
        self._start_session()
        return tmpl

    def servable(self, title: str | None = None, location: bool = True, area: str = "main",
                 target: str | None = None):
        return self.template().servable(title=title, location=location, area=area,
                                        target=target)

    def __panel__(self):
        layout = pn.Row(pn.Column(*self.sidebar(), width=340),
                        pn.Column(*self.main(), sizing_mode="stretch_width"),
                        sizing_mode="stretch_width")
        self._start_session()
        return layout
