"""Runs landscape work off the page's thread: the cell study (on a Dask client when one is
given, else a background thread) and "landscape of this network now" for any network (on a
deep copy of its weights, taken when asked, so training goes on untouched).

The worker never touches Panel or Bokeh: it appends plain results to a list under a lock and
updates ``progress`` / ``message`` / ``state``; the page polls them from its own periodic
callback (notes/panel-streaming.md, "Threads and documents").
"""

from __future__ import annotations

import copy
import threading
import traceback
from typing import Any

from explorer.landscape.study import StudyConfig, StudyResult, run_study


class LandscapeWorker:
    """One background job at a time: ``start_study`` or ``analyse_now``; ``cancel`` stops it
    at the next chunk of grid points or training step."""

    def __init__(self, client=None) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._new: list[dict] = []
        self.state = "idle"  # idle | running | done | cancelled | error
        self.progress = 0.0
        self.message = ""
        self.result: StudyResult | None = None
        self.network_result: Any = None  # kernels.landscape.LandscapeResult of analyse_now

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _launch(self, target, *args) -> None:
        if self.running:
            raise RuntimeError("a landscape job is already running; cancel it first")
        self._cancel.clear()
        self.state, self.progress, self.message = "running", 0.0, "starting"
        self._thread = threading.Thread(
            target=self._guard, args=(target, *args), daemon=True, name="landscape-worker"
        )
        self._thread.start()

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
            self.state = "done"
            self.progress = 1.0
        except InterruptedError:
            self.state, self.message = "cancelled", "cancelled"
        except Exception as exc:  # reported on the page, never raised into the server
            self.state = "error"
            self.message = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()

    def _say(self, frac: float, msg: str) -> None:
        self.progress, self.message = float(frac), str(msg)

    # -- the study ------------------------------------------------------------------------
    def start_study(self, config: StudyConfig) -> None:
        config.cells()  # bad N/M fail here, on the caller's thread, with their message
        self.result = None
        self._launch(self._study, config)

    def _study(self, config: StudyConfig) -> None:
        def on_task(out):
            with self._lock:
                self._new.append(out)

        self.result = run_study(
            config,
            on_task=on_task,
            progress=self._say,
            cancel=self._cancel.is_set,
            client=self.client,
        )
        self.message = f"done: {len(self.result.runs)} runs"

    def drain(self) -> list[dict]:
        """Task outputs finished since the last call."""
        with self._lock:
            out, self._new = self._new, []
        return out

    # -- any network ----------------------------------------------------------------------
    def analyse_now(self, model, X, y, **options) -> None:
        """Landscape of ``model`` as it is now (kernels.landscape.analyse_network) on a copy
        of its weights taken here, on the caller's thread."""
        snapshot = copy.deepcopy(model)
        self.network_result = None
        self._launch(self._analyse, snapshot, X, y, options)

    def _analyse(self, model, X, y, options) -> None:
        from kernels.landscape import analyse_network

        self.network_result = analyse_network(
            model,
            X,
            y,
            cancel=self._cancel.is_set,
            progress=lambda stage, f: self._say(f, f"this network: {stage}"),
            **options,
        )
        self.message = "this network: done"

    def analyse_snapshot(
        self, data, split: str = "val", max_examples: int = 512, **options
    ) -> None:
        """Landscape of the network in snapshot data (``Session.capture()``), rebuilt on the
        CPU on the worker's thread, on (at most ``max_examples`` of) one split."""
        self.network_result = None
        self._launch(self._analyse_snapshot, data, split, int(max_examples), options)

    def _analyse_snapshot(self, data, split, max_examples, options) -> None:
        from explorer.snapshot.data import restore

        self._say(0.0, "this network: rebuilding it from the capture")
        trainer, _ = restore(data, sink=lambda record: None, device="cpu")
        X, y = trainer.X[split][:max_examples], trainer.Y[split][:max_examples]
        self._analyse(trainer.model, X.cpu(), y.cpu(), options)

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
