"""The bench table's page rows: what the live page costs training and what a refresh costs.

Issue 17's refresh targets: the page costs the trainer <= 5% (digits, 256-256), a refresh takes
<= 10 ms of server Python (CPU time of the thread that refreshes), and the refresh period is
<= 250 ms median. The measurement is :func:`explorer.bench.app.with_page` (headless Chromium on
the served page, refresh held and refreshing in alternating windows of one run), run in a child
process so that its server, browser and threads cannot disturb the other figures; the child
prints its numbers as JSON. The refresh period is the time between the starts of consecutive
refreshes (``Refresher.tick``, timed from the child while with_page does not report it), gaps
longer than 80% of a window left out: they span a held window. The browser's rows say where
the period comes from (the page keeps it at least twice the browser's time per refresh,
:mod:`explorer.page.refresh`): the time from sending a refresh to the browser's acknowledgement
that it has applied and drawn it, and Chromium's main-thread time (CDP ``Performance``
``TaskDuration``) and the CPU time of all its processes per refresh in each refreshing window
(the CPU time is less moved by other jobs on the machine). Without Playwright, Chromium or
psutil the row says why it was skipped.

The cost's per-window values move by +-10-20 points with the other jobs on a shared machine
(their quartiles say how much), so the row also gives a bootstrap 95% confidence interval of
their median (:func:`explorer.bench.table.median_ci`), and two rows give the trainer thread's
wait for a CPU per step (Linux schedstat) in the held and the refreshing windows: on 2 cores
the page's cost is mostly that wait.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from explorer.bench.table import Figure, figure, median_ci

_CHILD = """
import json, sys, time
from explorer.bench.app import with_page
window_s = float(sys.argv[2])
stamps = []  # the start of each refresh (with_page holds them in its held windows)
try:  # time the refresher's tick from outside: with_page does not report the period
    from explorer.page.refresher import Refresher
    _tick = Refresher.tick
    def _timed_tick(self):
        stamps.append(time.perf_counter())
        _tick(self)
    Refresher.tick = _timed_tick
except (ImportError, AttributeError):
    pass
page = with_page([256, 256], 300, windows=int(sys.argv[1]), window_s=window_s)
keys = ("ab", "cores", "ticks_ms", "tick_cpu_ms", "periods_ms", "server_share", "per_step_ms",
        "ack_ms", "browser_task_ms", "browser_cpu_ms", "run_queue_ms")
out = {k: page[k] for k in keys if k in page}
ab_keys = ("on", "off", "costs", "costs_with_catch_up")
out["ab"] = {k: v for k, v in out.get("ab", {}).items() if k in ab_keys}
if "periods_ms" not in out and len(stamps) > 2:
    gaps = [1e3 * (b - a) for a, b in zip(stamps, stamps[1:])]
    out["periods_ms"] = [g for g in gaps if g < 800 * window_s]  # longer: spans a held window
print("PAGE-JSON " + json.dumps(out, default=str))
"""


def _skipped(reason: str) -> list[Figure]:
    return [{"figure": "page cost", "skipped": reason}]


def _catch_up(ab: dict[str, Any]) -> dict[str, float]:
    """The cost with each refreshing window's first, catch-up refresh counted (the measure
    before session 10), beside the steady one."""
    whole = ab.get("costs_with_catch_up")
    return {"with_catch_up": float(statistics.median(whole))} if whole else {}


def page_rows(page: dict[str, Any]) -> list[Figure]:
    """Table rows from :func:`explorer.bench.app.with_page`'s numbers (those it has)."""
    rows: list[Figure] = []
    costs = page.get("ab", {}).get("costs") or []
    if costs:
        rows.append(
            figure(
                "page cost to the trainer, refreshing vs held windows, digits 256-256",
                costs,
                "%",
                "<= 5",
                lambda v: v <= 5,
                steps_per_s={k: page["ab"].get(k) for k in ("on", "off")},
                ci95=median_ci(costs),
                cores=page.get("cores", "not reported"),
                **_catch_up(page["ab"]),
            )
        )
    wait = page.get("run_queue_ms") or {}
    for label in ("held", "refreshing"):
        if wait.get(label):
            rows.append(
                figure(
                    f"page bench, trainer's wait for a CPU per step, {label} windows",
                    wait[label],
                    "ms",
                )
            )
    if page.get("periods_ms"):
        rows.append(
            figure("page refresh period", page["periods_ms"], "ms", "<= 250", lambda v: v <= 250)
        )
    if page.get("tick_cpu_ms"):
        rows.append(
            figure(
                "page refresh, server Python CPU per refresh",
                page["tick_cpu_ms"],
                "ms",
                "<= 10",
                lambda v: v <= 10,
            )
        )
    if page.get("ticks_ms"):
        rows.append(figure("page refresh, wall time per refresh", page["ticks_ms"], "ms"))
    if page.get("ack_ms"):
        rows.append(
            figure("page refresh, browser time per refresh (sent -> drawn)", page["ack_ms"], "ms")
        )
    if page.get("browser_task_ms"):
        rows.append(
            figure(
                "page refresh, Chromium main-thread time per refresh",
                page["browser_task_ms"],
                "ms",
            )
        )
    if page.get("browser_cpu_ms"):
        rows.append(
            figure(
                "page refresh, Chromium CPU per refresh (all its processes)",
                page["browser_cpu_ms"],
                "ms",
            )
        )
    return rows or _skipped("with_page returned none of the page figures")


def page_figures(windows: int, window_s: float) -> list[Figure]:
    """The page rows (see the module docstring), or one row saying why they were skipped."""
    try:
        import psutil  # noqa: F401
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError as exc:
        return _skipped(f"needs {exc.name} (bench/test extras)")
    if not Path("/usr/bin/chromium").exists():
        return _skipped("no /usr/bin/chromium")
    cmd = [sys.executable, "-c", _CHILD, str(windows), str(window_s)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    found = [ln for ln in done.stdout.splitlines() if ln.startswith("PAGE-JSON ")]
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return _skipped(f"the page bench exited {done.returncode}: {last}")
    page = json.loads(found[-1].removeprefix("PAGE-JSON "))
    rows = page_rows(page)
    for row in rows:
        row["windows"] = windows
    if page.get("server_share") is not None:
        rows[0]["server_share_percent"] = page["server_share"]
    return rows
