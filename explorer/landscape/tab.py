"""The "landscape" tab of the main page (explorer.page.tabs registry): the cell study page, and
a "landscape of this network now" button for the page's own run.

The button captures the run's state between two steps (``Session.capture``: the same capture
a snapshot save makes, milliseconds of the trainer's time), then, on the landscape worker's
thread, rebuilds the network on the CPU from that capture and measures its loss contour,
gradient-variance map and top Hessian eigenvalue on (at most ``MAX_EXAMPLES`` of) the
validation split. Training goes on meanwhile, in its own thread or process.
"""

from __future__ import annotations

import panel as pn

from explorer.page.tabs import register_tab

#: validation examples the "this network now" analysis uses at most (per-example gradients of
#: every grid point are held in memory: examples x parameters floats per point)
MAX_EXAMPLES = 512


class LandscapeTab(pn.viewable.Viewer):
    def __init__(self, app, **params) -> None:
        super().__init__(**params)
        from explorer.landscape.page import LandscapePage

        self.app = app
        self.page = LandscapePage()
        self.now_button = pn.widgets.Button(
            label="landscape of this network now", button_type="primary"
        )
        self.now_button.on_click(lambda e: self.network_now())
        snapshots = getattr(app, "snapshots", None)
        if snapshots is not None:  # the results go into the page's snapshots and back
            snapshots.keep_landscape(self.page.saved_results, self.page.show_saved)

    def network_now(self, grid: int = 31, variance_grid: int = 11) -> bool:
        """Start the analysis of the page's current network; False (and a message) if there
        is none yet or the worker is busy."""
        if self.page.worker.running:
            self.page._set_status("**busy**: a landscape job is running; cancel it first")
            return False
        try:
            data = self.app.session.capture()
        except (RuntimeError, TimeoutError) as exc:
            self.page._set_status(f"**no network to analyse**: {exc}")
            return False
        self.page.network_pane.object = None
        self.page.network_result = None
        self.page.worker.analyse_snapshot(
            data, max_examples=MAX_EXAMPLES, grid=grid, variance_grid=variance_grid
        )
        self.page._sync_buttons()
        self.page._start_polling()
        return True

    def __panel__(self):
        return pn.Column(
            pn.Row(
                self.now_button,
                pn.pane.Markdown(
                    "<small>loss contour, gradient variance and top Hessian "
                    "eigenvalue of the run on the live tab, on a copy of its "
                    "weights (result under 'this network')</small>"
                ),
                sizing_mode="stretch_width",
            ),
            self.page,
            sizing_mode="stretch_width",
        )


register_tab("landscape", LandscapeTab)
