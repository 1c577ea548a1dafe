"""Every speed figure in one table: ``python -m explorer bench [--quick] [--json PATH]``.

Each figure that compares two things (AdaRad against Adam, masking against garbage
collection, the explorer's trainer against a plain torch loop) times both in alternating
blocks of the same run and reports the median of the per-block ratios, so load from other
processes on a shared machine hits both sides alike. Spread is the 25th-75th percentile of
the per-block values, with n blocks. Speed is measured here, never in timed tests.

Figures (issue 17's targets in brackets):

- ``adarad/adam step`` and ``adarad-m/adam step`` at widths 256 and 1000 (784-w-w-10,
  bias-free, batch 1000): the optimizer step alone, gradients fixed [<= 1.0, <= 2.0].
- ``masked/collected step``: a ShrinkNets 1024-1024 network on digits with 90% of the units
  of each layer dead, trained by the explorer's trainer with ``collect=False`` (dead units kept,
  masked) against ``collect=True`` (removed by garbage collection) [>= 2].
- ``trainer/plain loop step``: a static 256-256 network on digits trained by the explorer's
  trainer (records on: step records, units every 10 steps, evaluation every 50) against a plain
  torch loop on the same data, net, batch and optimizer [<= 1.2].
- ``tiny growth share``: TINY with its defaults on digits (growth every 50 steps); the share
  of wall time spent growing, split into capture, eigen-solve, line search and surgery [<= 20%].
- ``tiny eigen-solve``: Cholesky + SVD and LOBPCG at width 1024 (see ``bench --tiny``).
- ``snapshot``: capture and write of a digits run's snapshot (see ``explorer.bench.snapshot``).
- ``page`` (full run only): what the live page costs training (``bench --app``), when
  Playwright, Chromium and psutil are present; otherwise the row says why it was skipped.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kernels.methods.shrinknets import ShrinkNets
from kernels.methods.tiny import Tiny

Figure = dict


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def figure(
    name: str,
    values: list[float],
    unit: str,
    target: str | None = None,
    ok: Callable[[float], bool] | None = None,
    **detail,
) -> Figure:
    """A table row: the median of ``values`` with its 25-75% spread and the target check."""
    median = float(statistics.median(values))
    return {
        "figure": name,
        "median": median,
        "p25": _percentile(values, 25),
        "p75": _percentile(values, 75),
        "n": len(values),
        "unit": unit,
        "target": target,
        "met": None if ok is None else bool(ok(median)),
        **detail,
    }


def alternate(blocks: dict[str, Callable[[], object]], repeats: int, inner: int) -> dict:
    """Milliseconds per call of each function, timed in alternating blocks of ``inner`` calls
    (the order rotates each repetition)."""
    names = list(blocks)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            for _ in range(inner):
                blocks[n]()
            times[n].append((time.perf_counter() - t0) / inner * 1e3)
    return times


def _ratios(times: dict, num: str, den: str) -> list[float]:
    return [a / b for a, b in zip(times[num], times[den], strict=True)]


# ---- AdaRad against Adam ---------------------------------------------------------------------
def optimizer_figures(width: int, repeats: int, inner: int = 10) -> list[Figure]:
    from kernels.adarad import AdaRad
    from kernels.dynamic_mlp import DynamicMLP

    def make(name: str):
        torch.manual_seed(0)
        model = DynamicMLP(784, [width, width], 10, bias=False)
        params = [lin.weight for lin in model.linears]
        opt: torch.optim.Optimizer
        if name == "adam":
            opt = torch.optim.Adam(params, lr=1e-3)
        else:
            opt = AdaRad(
                params,
                radial_lr=20.0,
                angular_lr=30.0,
                lam=1e-3,
                batch_fraction=0.02,
                momentum=name == "adarad-m",
            )
        x, y = torch.randn(1000, 784), torch.randint(0, 10, (1000,))
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        return opt.step

    times = alternate({n: make(n) for n in ("adam", "adarad", "adarad-m")}, repeats, inner)
    shape = f"784-{width}-{width}-10"
    return [
        figure(
            f"adarad/adam step, {shape}",
            _ratios(times, "adarad", "adam"),
            "x",
            "<= 1.0",
            lambda v: v <= 1.0,
            ms={k: statistics.median(v) for k, v in times.items()},
        ),
        figure(
            f"adarad-m/adam step, {shape}",
            _ratios(times, "adarad-m", "adam"),
            "x",
            "<= 2.0",
            lambda v: v <= 2.0,
        ),
    ]


# ---- garbage collection against masking ------------------------------------------------------
def _shrinknets_trainer(collect: bool, hidden: list[int], dead_share: float):
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    config = RunConfig(
        method="shrinknets",
        dataset="digits",
        hidden=hidden,
        seed=0,
        device="cpu",
        method_options={"collect": collect},
        knobs={"gamma": 0.0},
    )  # no further killing while timing
    trainer = Trainer(config)
    model, method = trainer.model, trainer.method
    assert isinstance(method, ShrinkNets)
    rng = np.random.default_rng(0)
    for layer in range(model.n_hidden):
        n = model.hidden_sizes[layer]
        pos = rng.choice(n, int(round(dead_share * n)), replace=False)
        with torch.no_grad():
            switch = model.switch_values(layer)
            assert switch is not None  # ShrinkNets layers have switches
            switch[torch.from_numpy(pos)] = 0.0  # killed (sec. 3.5.1)
        if not collect:
            method._dead.update(int(u) for u in model.unit_ids[layer][pos])
    for _ in range(3):  # the first step collects (collect=True)
        trainer.step()
    return trainer


def gc_figure(repeats: int, inner: int = 5, hidden=(1024, 1024), dead_share=0.9) -> Figure:
    collected = _shrinknets_trainer(True, list(hidden), dead_share)
    masked = _shrinknets_trainer(False, list(hidden), dead_share)
    times = alternate({"collected": collected.step, "masked": masked.step}, repeats, inner)
    return figure(
        f"masked/collected step, shrinknets {hidden[0]}-{hidden[1]}, {dead_share:.0%} dead",
        _ratios(times, "masked", "collected"),
        "x",
        ">= 2.0",
        lambda v: v >= 2.0,
        sizes=[collected.model.hidden_sizes, masked.model.hidden_sizes],
        ms={k: statistics.median(v) for k, v in times.items()},
    )


# ---- the explorer's trainer against a plain loop ---------------------------------------------
def trainer_figure(repeats: int, inner: int = 10, hidden=(256, 256)) -> Figure:
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    trainer = Trainer(
        RunConfig(method="static", dataset="digits", hidden=list(hidden), seed=0, device="cpu")
    )
    model = trainer.method.build(
        trainer.data.n_features,
        trainer.data.n_classes,
        list(hidden),
        generator=torch.Generator().manual_seed(0),
    )
    opt = torch.optim.Adam(model.parameters(), lr=trainer.knobs.lr)
    X, Y, bs = trainer.X["train"], trainer.Y["train"], trainer.batch_size
    gen = torch.Generator().manual_seed(0)
    state: dict[str, Any] = {"order": torch.randperm(len(Y), generator=gen), "cursor": 0}

    def plain_step() -> None:
        if state["cursor"] + bs > len(Y):
            state["order"], state["cursor"] = torch.randperm(len(Y), generator=gen), 0
        idx = state["order"][state["cursor"] : state["cursor"] + bs]
        state["cursor"] += bs
        loss = F.cross_entropy(model(X[idx]), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()

    for _ in range(10):
        trainer.step()
        plain_step()
    times = alternate({"trainer": trainer.step, "plain": plain_step}, repeats, inner)
    return figure(
        f"trainer/plain loop step, static {hidden[0]}-{hidden[1]}, records on",
        _ratios(times, "trainer", "plain"),
        "x",
        "<= 1.2",
        lambda v: v <= 1.2,
        ms={k: statistics.median(v) for k, v in times.items()},
    )


# ---- TINY ------------------------------------------------------------------------------------
def tiny_growth_figure(steps: int, repeats: int = 1) -> Figure:
    """Share of a TINY run's wall time spent growing (defaults, digits)."""
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    shares, parts = [], []
    for seed in range(repeats):
        trainer = Trainer(
            RunConfig(method="tiny", dataset="digits", seed=seed, device="cpu", steps=steps)
        )
        t0 = time.perf_counter()
        trainer.run(steps)
        wall = time.perf_counter() - t0
        assert isinstance(trainer.method, Tiny)
        seconds = dict(trainer.method.seconds)
        shares.append(100 * sum(seconds.values()) / wall)
        parts.append({k: 100 * v / wall for k, v in seconds.items()})
    return figure(
        f"tiny growth share of wall time, digits defaults, {steps} steps",
        shares,
        "%",
        "<= 20",
        lambda v: v <= 20,
        parts={k: statistics.median(p[k] for p in parts) for k in parts[0]},
        sizes=trainer.model.hidden_sizes,
    )


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


# ---- snapshots -------------------------------------------------------------------------------
def snapshot_figures(repeats: int, steps: int = 200) -> list[Figure]:
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.snapshot import capture, write
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(RunConfig(dataset="digits", device="cpu", steps=steps), sink=history.add)
    trainer.run()
    cap, wr = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            data = capture(trainer, history)
            cap.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            write(data, Path(tmp) / "snap")
            wr.append((time.perf_counter() - t0) * 1e3)
    return [
        figure(f"snapshot capture, nonparametric digits {steps} steps", cap, "ms"),
        figure(f"snapshot write, nonparametric digits {steps} steps", wr, "ms"),
    ]


# ---- the page --------------------------------------------------------------------------------
def page_figures(windows: int, window_s: float) -> list[Figure]:
    """The live page's cost (explorer.bench.app), or one row saying why it was skipped."""
    try:
        import psutil  # noqa: F401
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError as exc:
        return [{"figure": "page cost", "skipped": f"needs {exc.name} (bench/test extras)"}]
    if not Path("/usr/bin/chromium").exists():
        return [{"figure": "page cost", "skipped": "no /usr/bin/chromium"}]
    cmd = [
        sys.executable,
        "-m",
        "explorer",
        "bench",
        "--app",
        "--windows",
        str(windows),
        "--window-seconds",
        str(window_s),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return [
            {
                "figure": "page cost",
                "skipped": f"bench --app exited {done.returncode}: "
                + (done.stderr.strip().splitlines() or ["?"])[-1],
            }
        ]
    return [{"figure": "page cost (bench --app output)", "text": done.stdout.strip()}]


# ---- the run ---------------------------------------------------------------------------------
def machine() -> dict:
    def git(*args: str) -> str | None:
        try:
            return (
                subprocess.run(
                    ["git", *args],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    cwd=Path(__file__).resolve().parent,
                ).stdout.strip()
                or None
            )
        except (OSError, subprocess.SubprocessError):
            return None

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    for name in ("panel", "bokeh", "holoviews", "param"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "device": "cuda: " + torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else "cpu (no CUDA device)",
        "versions": versions,
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def run(quick: bool = False) -> dict:
    """Every figure; ``quick`` is a subset with few repetitions (about a minute here)."""
    torch.set_num_threads(1)  # steadier on a shared machine; the ratios compare like with like
    started = time.time()
    info = machine()
    plan: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("optimizers 256", lambda: optimizer_figures(256, 15 if quick else 41)),
        ("optimizers 1000", lambda: optimizer_figures(1000, 7 if quick else 21)),
        ("garbage collection", lambda: [gc_figure(5 if quick else 21)]),
        ("trainer", lambda: [trainer_figure(11 if quick else 41)]),
        ("tiny growth", lambda: [tiny_growth_figure(300 if quick else 800)]),
    ]
    if not quick:
        plan += [
            ("tiny routes", lambda: tiny_route_figures(3)),
            ("snapshot", lambda: snapshot_figures(5)),
            ("page", lambda: page_figures(11, 3.0)),
        ]
    figures: list[Figure] = []
    for label, make in plan:
        t0 = time.perf_counter()
        try:
            rows = make()
        except Exception as exc:  # one broken figure must not lose the others
            rows = [{"figure": label, "skipped": f"{type(exc).__name__}: {exc}"}]
        for row in rows:
            row["seconds"] = time.perf_counter() - t0
        figures += rows
        print(f"  {label}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    info["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "quick": quick,
        "machine": info,
        "figures": figures,
    }


def format_table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"{m['device']}, {m['cpus']} CPUs, torch {m['versions']['torch']} "
        f"({m['torch_threads']} thread), commit {(m['commit'] or '?')[:10]}"
        f"{' (dirty)' if m['dirty'] else ''}, load average "
        f"{m['load_average'][0]:.1f} -> {m['load_average_end'][0]:.1f}"
        if m.get("load_average")
        else "",
        f"{'figure':66s} {'median':>9s} {'p25-p75':>17s} {'n':>3s} {'target':>7s} met",
    ]
    for f in result["figures"]:
        if "skipped" in f:
            lines.append(f"{f['figure']:66s} skipped: {f['skipped']}")
            continue
        if "text" in f:
            lines.append(f"{f['figure']}:\n{f['text']}")
            continue
        met = {None: "", True: "yes", False: "NO"}[f["met"]]
        lines.append(
            f"{f['figure']:66s} {f['median']:8.3g}{f['unit']:1s} "
            f"{f['p25']:8.3g}-{f['p75']:<8.3g} {f['n']:3d} {f['target'] or '':>7s} {met}"
        )
        if "parts" in f:
            lines.append("    " + ", ".join(f"{k} {v:.1f}%" for k, v in f["parts"].items()))
        if "ms" in f:
            lines.append(
                "    ms per step: " + ", ".join(f"{k} {v:.2f}" for k, v in f["ms"].items())
            )
    return "\n".join(lines)


def main(quick: bool = False, json_path: str | None = None) -> int:
    result = run(quick=quick)
    print(format_table(result), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1, default=str))
        print(f"wrote {json_path}")
    return 0
