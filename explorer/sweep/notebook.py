"""``explorer.Sweep`` in a notebook: a sweep on Dask with the runs, compute-to-accuracy and
compare views of the page's "runs" tab.

    sw = explorer.Sweep(methods=["nonparametric", "shrinknets"], dataset="digits",
                        steps=300, lam=[1e-3, 3e-4], search=30, out="runs/digits")
    sw.start()          # background thread; the views fill in as points finish
    sw                  # displays the views (a periodic callback drains the results)
    sw.wait()           # or block until it ends (drains too, for scripts)
    sw.table            # pandas DataFrame, one row per point
    sw.compare_to_search()   # accuracy gap (pp) and compute fraction per sizing run
    sw.open(key)        # an explorer.Explorer replaying that point's snapshot

``Sweep(spec=load_spec("sweep.toml"), out=...)`` takes a TOML sweep; ``scheduler=`` a cluster;
``client=`` an existing ``dask.distributed.Client``.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn

from explorer.page.runs_tab import SweepRunsPanel
from explorer.sweep.frontier import compare_to_search
from explorer.sweep.spec import MethodGrid, SearchSpec, SweepSpec
from explorer.sweep.table import ResultTable


class Sweep(pn.viewable.Viewer):
    def __init__(
        self,
        methods=("nonparametric",),
        dataset: str = "digits",
        steps: int = 300,
        seeds=(0,),
        hidden=(10, 10),
        search: int = 0,
        out: str | Path = "sweep",
        spec: SweepSpec | None = None,
        scheduler: str | None = None,
        client=None,
        **knob_lists,
    ) -> None:
        super().__init__()
        if spec is None:
            knobs = {
                k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in knob_lists.items()
            }
            sizing = [m for m in methods if m != "static"]
            spec = SweepSpec(
                dataset=dataset,
                steps=steps,
                seeds=list(seeds),
                methods=[
                    MethodGrid(name=m, hidden=[list(hidden)], knobs=dict(knobs)) for m in methods
                ],
                search=SearchSpec(samples=search, reference=sizing[0])
                if search and sizing
                else None,
            )
        self.spec, self.out = spec, Path(out)
        self.panel = SweepRunsPanel(
            folder=self.out, scheduler=scheduler, client=client, on_open=lambda path: None
        )
        self.views = self.panel.runs, self.panel.compute, self.panel.compare
        self.panel.load(self.out)

    def start(self) -> Sweep:
        self.panel.start(self.spec, self.out)
        return self

    def run(self) -> Sweep:
        """Start and wait."""
        self.start()
        self.wait()
        return self

    def wait(self, timeout: float | None = None) -> list[dict]:
        return self.panel.wait(timeout)

    def cancel(self) -> None:
        self.panel.cancel()

    @property
    def table(self):
        return ResultTable(self.out).frame()

    def compare_to_search(
        self, size: str = "params", acc: str = "test_acc", compute: str = "wall_s"
    ) -> list[dict]:
        rows = ResultTable(self.out).latest()
        return compare_to_search(
            [r for r in rows if r["kind"] == "search"],
            [r for r in rows if r["kind"] == "sizing"],
            size=size,
            acc=acc,
            compute=compute,
        )

    def open(self, key_or_path: str):
        """An :class:`explorer.Explorer` replaying a point's snapshot (by key or path)."""
        from explorer.notebook import Explorer

        rows = {r["key"]: r for r in ResultTable(self.out).latest()}
        path = rows[key_or_path]["snapshot"] if key_or_path in rows else key_or_path
        return Explorer.open(path)

    def __panel__(self):
        return self.panel.__panel__()
