"""The landscape page: choose N, M, random variants, data set and budget; run the cell study in
the background (on a Dask client when given) with progress and cancel; see each cell's loss
contour and gradient-variance map side by side with linked axes, the convergence curves, and
width/depth against convergence speed and test accuracy (Shu, Wang & Cai 2020, sec. 4-5).
Also hosts "landscape of this network now" for a network handed in by another page.
"""

from __future__ import annotations

import panel as pn
import param

from explorer.landscape import views
from explorer.landscape.runtime import LandscapeWorker
from explorer.landscape.study import StudyConfig, StudyResult
from explorer.page.closed_tab import end_with_its_tab

CONTROLS = (
    "n_nodes",
    "n_inputs",
    "n_variants",
    "variant_seed",
    "seeds",
    "steps",
    "width",
    "n_cells",
    "grid",
    "variance_grid",
    "span",
)


def parse_rates(text: str) -> list[float]:
    """'0.025, 0.25' -> [0.025, 0.25]; a clear message for anything else."""
    try:
        rates = [float(x) for x in str(text).replace(";", ",").split(",") if x.strip()]
    except ValueError:
        raise ValueError(
            f"learning rates {text!r}: accepted: numbers separated by commas, e.g. 0.025, 0.25"
        ) from None
    if not rates or any(not (0 < r < 10) for r in rates):
        raise ValueError(f"learning rates {text!r}: accepted: one or more numbers in (0, 10)")
    return rates


class LandscapePage(pn.viewable.Viewer):
    """The study's controls, progress and figures; one worker per page (per session)."""

    period = param.Integer(
        default=500, bounds=(100, 5000), doc="Milliseconds between polls of the background worker."
    )

    def __init__(self, study: StudyResult | None = None, client=None, **params) -> None:
        super().__init__(**params)
        from explorer.data.registry import DATASETS

        self.config = StudyConfig()
        self.worker = LandscapeWorker(client=client)
        self.result = study
        #: the "this network now" result on show (kept in the session's snapshots)
        self.network_result = None
        self._callback = None
        self.dataset_select = pn.widgets.Select(
            label="data set", options=sorted(DATASETS), value=self.config.dataset
        )
        self.rates_input = pn.widgets.TextInput(
            label="learning rates (first: landscape)", value="0.025"
        )
        self.controls = pn.Param(
            self.config,
            parameters=list(CONTROLS),
            show_name=False,
            widgets={"span": pn.widgets.FloatInput},
        )
        self.run_button = pn.widgets.Button(label="run study", color="primary")
        self.cancel_button = pn.widgets.Button(label="cancel", color="warning", disabled=True)
        self.run_button.on_click(lambda e: self.run())
        self.cancel_button.on_click(lambda e: self.worker.cancel())
        self.progress = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", bar_color="info"
        )
        self.status = pn.pane.Markdown(
            "", sizing_mode="stretch_width", css_classes=["landscape-status"]
        )
        self.lr_select = pn.widgets.Select(label="learning rate of the curves", options=[])
        self.lr_select.param.watch(lambda e: self._redraw(), "value")
        self.surface_pane = pn.pane.HoloViews(None, sizing_mode="stretch_width")
        self.curve_pane = pn.pane.HoloViews(None)
        self.scatter_pane = pn.pane.HoloViews(None)
        self.table_pane = pn.pane.HoloViews(None)
        self.network_pane = pn.pane.HoloViews(None)
        self.figures = pn.Tabs(
            ("landscapes", self.surface_pane),
            ("convergence", pn.Column(self.lr_select, self.curve_pane)),
            ("width / depth", self.scatter_pane),
            ("table", self.table_pane),
            ("this network", self.network_pane),
            dynamic=False,
        )
        if study is not None:
            self._show_config(study.config)
            self._set_status(f"saved study: {len(study.runs)} runs of {len(study.cells)} cells")
            self.progress.value = 100
            self._redraw()

    # -- actions --------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.config.dataset = self.dataset_select.value
            self.config.learning_rates = parse_rates(self.rates_input.value)
            self.worker.start_study(self.config)
        except (ValueError, RuntimeError) as exc:
            self._set_status(f"**cannot start**: {exc}")
            return
        self.result = StudyResult(self.config.to_dict(), [c.to_dict() for c in self.config.cells()])
        self._set_status("running")
        self._sync_buttons()
        self._start_polling()

    def analyse_network_now(self, model, X, y, **options) -> None:
        """ "Landscape of this network now": contour, gradient variance and top Hessian
        eigenvalue of ``model`` on a copy of its weights, beside whatever trains it."""
        try:
            self.worker.analyse_now(model, X, y, **options)
        except RuntimeError as exc:
            self._set_status(f"**busy**: {exc}")
            return
        self._sync_buttons()
        self._start_polling()

    # -- polling (the session's own thread) -------------------------------------------------
    def poll(self) -> None:
        new = self.worker.drain()
        if new and self.result is not None:
            for out in new:
                self.result.add(out)
        w = self.worker
        self.progress.value = int(round(100 * w.progress))
        self._set_status(f"{w.state}: {w.message}")
        if new:
            self._redraw()
        if not w.running:
            if w.network_result is not None and self.network_pane.object is None:
                self.network_result = w.network_result
                self.network_pane.object = views.network_now(w.network_result)
                self.figures.active = 4
            self._sync_buttons()

    # -- snapshots ----------------------------------------------------------------------------
    def saved_results(self) -> dict:
        """What a snapshot of the session keeps: the study as far as it has run ("study", a
        copy) and the network result on show ("network")."""
        out: dict = {}
        r = self.result
        if r is not None and (r.runs or r.surfaces):
            out["study"] = StudyResult(
                dict(r.config), list(r.cells), list(r.runs), list(r.records), dict(r.surfaces)
            )
        if self.network_result is not None:
            out["network"] = self.network_result
        return out

    def show_saved(self, landscape: dict) -> None:
        """Show a reopened snapshot's landscape results in place of the page's own (a job
        under way is cancelled); figures that cannot be drawn are reported, not raised."""
        if self.worker.running:
            self.worker.cancel()
        self.worker.network_result = None
        self.result = landscape.get("study")
        self.network_result = landscape.get("network")
        try:
            with pn.io.hold():
                for pane in (self.surface_pane, self.curve_pane, self.scatter_pane):
                    pane.object = None
                self.table_pane.object = None
                self.network_pane.object = None
                if self.network_result is not None:
                    self.network_pane.object = views.network_now(self.network_result)
                if self.result is not None:
                    self._show_config(self.result.config)
                    self._redraw()
        except Exception as exc:  # noqa: BLE001 - a saved result never breaks the page
            self._set_status(f"**saved landscape not shown**: {type(exc).__name__}: {exc}")
            return
        r = self.result
        parts = [f"study: {len(r.runs)} runs of {len(r.cells)} cells"] if r is not None else []
        parts += ["this network"] if self.network_result is not None else []
        self.progress.value = 100 if parts else 0
        self._set_status(f"from the snapshot: {', '.join(parts)}" if parts else "")

    def _redraw(self) -> None:
        r = self.result
        if r is None:
            return
        with pn.io.hold():
            lrs = sorted({run["lr"] for run in r.runs})
            if lrs and self.lr_select.options != lrs:
                self.lr_select.options = lrs
                self.lr_select.value = r.config["learning_rates"][0]
            self.surface_pane.object = views.surfaces(r)
            self.curve_pane.object = views.curves(r, self.lr_select.value)
            self.scatter_pane.object = views.scatter(r)
            self.table_pane.object = views.table(r)

    def _sync_buttons(self) -> None:
        busy = self.worker.running
        self.run_button.disabled = busy
        self.cancel_button.disabled = not busy

    def _set_status(self, text: str) -> None:
        if self.status.object != text:
            self.status.object = text

    def _show_config(self, cfg: dict) -> None:
        for k in CONTROLS:
            if k in cfg:
                setattr(self.config, k, cfg[k])
        self.rates_input.value = ", ".join(f"{x:g}" for x in cfg.get("learning_rates", []))
        if cfg.get("dataset") in self.dataset_select.options:
            self.dataset_select.value = cfg["dataset"]

    def _start_polling(self, anywhere: bool = False) -> None:
        """Poll from the session's periodic callback; outside a server session (tests call
        ``poll`` themselves) only when ``anywhere`` (a Jupyter kernel: ``start_callback``)."""
        in_session = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        if self._callback is None and (in_session or anywhere):
            self._callback = pn.state.add_periodic_callback(self.poll, period=self.period)

    def start_callback(self) -> None:
        """Start polling in a notebook, where no server session exists."""
        self._start_polling(anywhere=True)

    def close(self) -> None:
        self.worker.cancel()
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # -- layout ---------------------------------------------------------------------------
    def sidebar(self) -> list:
        return [
            pn.pane.Markdown("### cell study (Shu et al. 2020)"),
            self.dataset_select,
            self.rates_input,
            self.controls,
            pn.Row(self.run_button, self.cancel_button),
        ]

    def main(self) -> list:
        return [pn.Column(self.status, self.progress, sizing_mode="stretch_width"), self.figures]

    def __panel__(self):
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda ctx: self.close())
            end_with_its_tab(pn.state.curdoc)
        return pn.Row(
            pn.Column(*self.sidebar(), width=320),
            pn.Column(*self.main(), sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def template(self) -> pn.template.BaseTemplate:
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(lambda ctx: self.close())
            end_with_its_tab(pn.state.curdoc)
        return pn.template.BootstrapTemplate(
            title="Sizing Explorer: cell landscapes",
            sidebar=self.sidebar(),
            main=self.main(),
            sidebar_width=340,
            header_background="#1f77b4",
            busy_indicator=None,
        )
