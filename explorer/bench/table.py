"""The bench table's rows: interleaved timing, medians with their spread, the machine, the text.

Each figure that compares two things times both in alternating blocks of the same run
(:func:`alternate`) and reports the median of the per-block ratios (:func:`ratios`), so load
from other processes on a shared machine hits both sides alike. Spread is the 25th-75th
percentile of the per-block values, with n blocks.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

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


def median_ci(
    values: list[float], level: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median of ``values`` (resampled with
    replacement ``resamples`` times, a fixed seed: the same values give the same interval)."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return float(np.median(data)), float(np.median(data))
    picks = np.random.default_rng(seed).integers(0, data.size, (resamples, data.size))
    medians = np.median(data[picks], axis=1)
    tail = 50 * (1 - level)
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))


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


def ratios(times: dict, num: str, den: str) -> list[float]:
    return [a / b for a, b in zip(times[num], times[den], strict=True)]


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
        if "ci95" in f:
            lo, hi = f["ci95"]
            lines.append(
                f"    95% confidence interval of the median (bootstrap over the n values): "
                f"{lo:.3g} .. {hi:.3g}{f['unit']}"
            )
        if "parts" in f:
            lines.append("    " + ", ".join(f"{k} {v:.1f}%" for k, v in f["parts"].items()))
        if "empty_share" in f:
            lines.append(
                f"    growth steps that added no neuron: {f['empty_share']:.0f}% of the growth "
                "time" + (f" ({f['empty_steps']} steps)" if "empty_steps" in f else "")
            )
        if "with_catch_up" in f:
            lines.append(
                "    each refreshing window from its first refresh on (the held window's "
                f"records caught up before it); counted whole: {f['with_catch_up']:.3g}{f['unit']}"
            )
        if "cores" in f:
            lines.append(f"    cores: {f['cores']}")
        if "ms" in f:
            lines.append(
                "    ms per step: " + ", ".join(f"{k} {v:.2f}" for k, v in f["ms"].items())
            )
    return "\n".join(lines)
