"""Who used the CPU while the page bench ran: Chromium's processes and the trainer's thread
(:mod:`explorer.bench.app`). On a 2-core machine the page's cost to training is mostly the
trainer waiting for a CPU, which Linux's schedstat counts apart from the time it ran."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path


def browser_cpu() -> float:
    """CPU seconds used so far by the Chromium processes this benchmark started."""
    try:
        import psutil
    except ImportError:  # optional: the share of the browser is then not reported
        return float("nan")
    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name().lower():
                cpu = proc.cpu_times()
                total += cpu.user + cpu.system
        except psutil.Error:  # a process that ended between the listing and the read
            continue
    return total


def sched_times(task: str) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of a thread so far, from
    Linux's /proc/PID/task/TID/schedstat (``task`` = "PID/TID"); (nan, nan) elsewhere."""
    try:
        pid, tid = task.split("/")
        text = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
        run_ns, wait_ns, _ = text.split()
    except (OSError, ValueError):
        return float("nan"), float("nan")
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


def trainer_task(runner) -> str:
    """ "PID/TID" of the thread that runs the trainer (a child process's main thread)."""
    process = getattr(runner, "_process", None)
    if process is not None:
        return f"{process.pid}/{process.pid}"
    return f"{os.getpid()}/{runner._thread.native_id}"


def window_use(marks: list[tuple], toggles: list[tuple[int, bool]]) -> list[dict]:
    """What each window of :func:`explorer.bench.app.with_page` used, from the marks taken at
    its toggles (time, Chromium CPU, trainer's (on a CPU, waiting for one), step, Chromium's
    main-thread task seconds): per window whether it refreshed and the seconds and steps
    between its two marks."""
    out = []
    for (m0, m1), (_, on) in zip(pairwise(marks), toggles, strict=False):
        out.append(
            {
                "on": on,
                "wall_s": m1[0] - m0[0],
                "browser_s": m1[1] - m0[1],
                "cpu_s": m1[2][0] - m0[2][0],
                "wait_s": m1[2][1] - m0[2][1],
                "steps": m1[3] - m0[3],
                "task_s": m1[4] - m0[4],
            }
        )
    return out
