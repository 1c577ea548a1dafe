"""The explorer inside Jupyter: ``ex = explorer.Explorer(method=..., dataset=...)``.

``ex`` displays the whole explorer inline; each view is also reachable on its own
(``ex.views.lifetimes``) to embed in a user's layout. Training runs on a background thread,
so the notebook stays usable; a periodic callback on the kernel's event loop moves records
into the plots (notes/panel-streaming.md, "Jupyter"). From code: ``ex.start()``,
``ex.pause()``, ``ex.knobs.lam = 3e-4``, ``ex.wait(steps=200)``, ``ex.frame("step")``,
``ex.save("run.zip")`` and ``Explorer.open("run.zip")``.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import panel as pn

from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.history import History


class Explorer(pn.viewable.Viewer):
    """One explorer session driven from Python (and shown inline when displayed)."""

    def __init__(
        self,
        method: str = "nonparametric",
        dataset: str = "digits",
        hidden=(10, 10),
        seed: int = 0,
        device: str = "auto",
        steps: int = 20_000,
        method_options: dict | None = None,
        dataset_options: dict | None = None,
        app: ExplorerApp | None = None,
        **knobs,
    ) -> None:
        super().__init__()
        if app is None:
            config = RunConfig(
                method=method,
                dataset=dataset,
                hidden=list(hidden),
                seed=seed,
                device=device,
                steps=steps,
                method_options=method_options or {},
                dataset_options=dataset_options or {},
                knobs=knobs,
            )
            app = ExplorerApp(config=config, max_steps=steps)
        self.app = app
        #: every view of the page's dashboard by name (loss, sizes, units, lifetimes,
        #: fan_history, tradeoff, spectrum, switches, cost, groupsparsity)
        self.views = SimpleNamespace(**app.dashboard.all_views())

    # -- state ----------------------------------------------------------------------------
    @property
    def knobs(self):
        """The live knobs: ``ex.knobs.lam = 3e-4`` acts on the trainer's next step."""
        return self.app.knobs

    @property
    def history(self) -> History:
        """Everything recorded in this run (``.frame(kind)`` gives a pandas DataFrame)."""
        self.app.drain()
        return self.app.history

    def frame(self, kind: str = "step"):
        """One record kind as a pandas DataFrame (step, eval, units, event, knob, ...)."""
        return self.history.frame(kind)

    @property
    def step_count(self) -> int:
        last = self.history.last("step")
        return int(last["step"]) if last else 0

    @property
    def state(self) -> str:
        return self.app.runner.state if self.app.runner is not None else "idle"

    # -- commands -------------------------------------------------------------------------
    def start(self) -> Explorer:
        self.app.start()
        return self

    def pause(self) -> Explorer:
        self.app.pause()
        return self

    def resume(self) -> Explorer:
        self.app.resume()
        return self

    def stop(self) -> Explorer:
        self.app.stop()
        return self

    def reset(self) -> Explorer:
        self.app.reset()
        return self

    def close(self) -> None:
        """Stop the trainer and wait for it (also done for every open explorer at
        interpreter exit). ``with Explorer(...) as ex:`` closes at the block's end."""
        self.app.close()

    def __enter__(self) -> Explorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait(self, steps: int, timeout: float = 120.0) -> int:
        """Block until the run has taken ``steps`` steps (or ended); returns the step count.

        Records are drained here too, so it works where no periodic callback runs (a script,
        a headless notebook execution)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.app.drain()
            if self.step_count >= steps or self.state in ("finished", "stopped", "error"):
                break
            time.sleep(0.05)
        self.app.drain()
        if self.state == "error":
            raise RuntimeError(self.app.runner.message)
        return self.step_count

    # -- snapshots ------------------------------------------------------------------------
    def save(self, path: str | Path, timeout: float = 60.0) -> Path:
        """Write a snapshot of the session (``.zip`` or a folder), taken between two steps."""
        from explorer.snapshot import write

        return self.app.snapshots.save(path, timeout=timeout, writer=write)

    @classmethod
    def open(cls, path: str | Path, resume: bool = False) -> Explorer:
        """Reopen a snapshot: plots as they were; with ``resume=True`` training can go on
        from it (``ex.resume()``), otherwise it is a replay."""
        return cls(app=ExplorerApp.open_snapshot(path, resume=resume))

    def __panel__(self):
        layout = self.app.__panel__()
        self.app.start_callback()
        return layout
