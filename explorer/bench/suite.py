"""Every speed figure in one table: ``python -m explorer bench [--quick] [--json PATH]``.

Ratios are timed in alternating blocks of one process and reported as the median of the
per-block ratios with the 25-75% spread (:mod:`explorer.bench.table`). Speed is measured here,
never in timed tests. The table's rows come from the benches registered below, in order
(:func:`register`: one line per bench module); issue 17's targets in brackets:

- ``adarad/adam step`` and ``adarad-m/adam step`` at widths 256 and 1000 (784-w-w-10,
  bias-free, batch 1000): the optimizer step alone, gradients fixed [<= 1.0, <= 2.0]
  (:mod:`explorer.bench.optimizers`).
- ``masked/collected step``: a ShrinkNets 1024-1024 network on digits with 90% of the units
  of each layer dead, trained by the explorer's trainer with ``collect=False`` (dead units kept,
  masked) against ``collect=True`` (removed by garbage collection) [>= 2]
  (:mod:`explorer.bench.training`).
- ``trainer/plain loop step``: a static 256-256 network on digits trained by the explorer's
  trainer (records on: step records, units every 10 steps, evaluation every 50) against a plain
  torch loop on the same data, net, batch and optimizer [<= 1.2] (:mod:`explorer.bench.training`).
- ``tiny growth share``: TINY with its defaults on digits and the MNIST subset; the share of
  wall time spent growing, split into capture, solve, line search, surgery and other [<= 20%],
  and the same share in CPU time (its companion on a shared machine, no target)
  (:mod:`explorer.bench.tiny_growth`).
- ``tiny eigen-solve``: Cholesky + SVD and LOBPCG at width 1024 (see ``bench --tiny``).
- ``snapshot``: capture and write of a digits run's snapshot (:mod:`explorer.bench.snapshot`).
- ``page`` (full run only): what the live page costs training (``bench --app``), when
  Playwright, Chromium and psutil are present; otherwise the row says why it was skipped.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.bench.table import (  # noqa: F401  (re-exported: the table's public names)
    Figure,
    alternate,
    figure,
    format_table,
    machine,
    ratios,
)
from explorer.bench.tiny_growth import tiny_growth_figures


@dataclass(frozen=True)
class Bench:
    """One bench of the table: ``make(quick)`` returns its rows; ``quick`` says whether it is
    part of ``--quick`` (about a minute in all)."""

    name: str
    make: Callable[[bool], list[Figure]]
    quick: bool = True


BENCHES: dict[str, Bench] = {}
"""The table's benches by name, in the order they run and print."""


def register(name: str, make: Callable[[bool], list[Figure]], quick: bool = True) -> None:
    """Add a bench to the table (a later registration under the same name replaces it)."""
    BENCHES[name] = Bench(name, make, quick)


def bench(name: str) -> Bench:
    """The registered bench ``name``; an unknown name is refused with a did-you-mean."""
    if name not in BENCHES:
        close = difflib.get_close_matches(name, list(BENCHES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown bench {name!r}{hint}; known: {', '.join(BENCHES)}")
    return BENCHES[name]


# ---- TINY ------------------------------------------------------------------------------------
def tiny_route_figures(repeats: int, width: int = 1024) -> list[Figure]:
    from explorer.bench.tiny import time_routes

    rows = [time_routes(width, 10, torch.device("cpu"), repeats=1) for _ in range(repeats)]
    return [
        figure(
            f"tiny eigen-solve {name}, width {width}, d_out 10",
            [r[f"{name}_s"] * 1e3 for r in rows],
            "ms",
        )
        for name in ("cholesky", "lobpcg")
    ]


# ---- the page --------------------------------------------------------------------------------
def page_figures(windows: int, window_s: float) -> list[Figure]:
    """The live page's cost and refresh rows (:mod:`explorer.bench.page`)."""
    from explorer.bench.page import page_figures as rows

    return rows(windows, window_s)


# ---- the GPU -----------------------------------------------------------------------------------
def gpu_figures(quick: bool) -> list[Figure]:
    """The AdaRad / Adam rows on the CUDA device; without one, a row that says so (no GPU
    figure is ever reported from a CPU run)."""
    if not torch.cuda.is_available():
        return [{"figure": "GPU rows", "skipped": "not measured: no GPU (no CUDA device)"}]
    from explorer.bench.optimizers import optimizer_figures

    return optimizer_figures(256, 15 if quick else 41, device="cuda") + optimizer_figures(
        1000, 7 if quick else 21, device="cuda"
    )


# ---- the table -------------------------------------------------------------------------------
def _optimizers(width: int, quick_repeats: int, repeats: int) -> Callable[[bool], list[Figure]]:
    def make(quick: bool) -> list[Figure]:
        from explorer.bench.optimizers import optimizer_figures

        return optimizer_figures(width, quick_repeats if quick else repeats)

    return make


def _gc(quick: bool) -> list[Figure]:
    from explorer.bench.training import gc_figure

    return [gc_figure(5 if quick else 21)]


def _trainer(quick: bool) -> list[Figure]:
    from explorer.bench.training import trainer_figure

    return [trainer_figure(11 if quick else 41)]


def _snapshot(quick: bool) -> list[Figure]:
    from explorer.bench.snapshot import snapshot_figures

    return snapshot_figures(5)


register("optimizers 256", _optimizers(256, 15, 41))
register("optimizers 1000", _optimizers(1000, 7, 21))
register("garbage collection", _gc)
register("trainer", _trainer)
register("tiny growth", lambda quick: tiny_growth_figures(quick))  # explorer.bench.tiny_growth
register("tiny routes", lambda quick: tiny_route_figures(3), quick=False)
register("snapshot", _snapshot, quick=False)
register("page", lambda quick: page_figures(61, 3.0), quick=False)
register("gpu", lambda quick: gpu_figures(quick))


def run(quick: bool = False) -> dict:
    """Every registered figure; ``quick`` runs the quick benches with few repetitions."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steadier on a shared machine; the ratios compare like with like
    started = time.time()
    info = machine()
    figures: list[Figure] = []
    try:
        for entry in BENCHES.values():
            if quick and not entry.quick:
                continue
            t0 = time.perf_counter()
            try:
                rows = entry.make(quick)
            except Exception as exc:  # one broken figure must not lose the others
                rows = [{"figure": entry.name, "skipped": f"{type(exc).__name__}: {exc}"}]
            for row in rows:
                row["seconds"] = time.perf_counter() - t0
            figures += rows
            seconds = time.perf_counter() - t0
            print(f"  {entry.name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    finally:
        torch.set_num_threads(threads)
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "quick": quick,
        "machine": info,
        "figures": figures,
    }


def main(quick: bool = False, json_path: str | None = None) -> int:
    result = run(quick=quick)
    print(format_table(result), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {json_path}")
    return 0
