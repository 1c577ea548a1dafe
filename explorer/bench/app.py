"""What the live page costs (``python -m explorer bench --app``).

1. Training throughput with the page open in headless Chromium and refreshing at its
   normal rate, against the same run with the refresh held: one run, alternating windows
   of a few seconds (held, refreshing, held, ...); each refreshing window is compared with
   the two held windows around it. Steps per second come from the trainer's own step
   records (their ``time`` field). Interleaving matters on this shared machine: the same
   trainer on a pinned core runs 210-320 steps/s from one 3-second window to the next, and
   separate headless runs differ by +-10%, more than the effect measured. The server's
   CPU time per refresh and Chromium's CPU use are printed beside it.
2. Latency of a knob change: from the slider drag in the browser to the knob value set on
   the server, and from the value set to the trainer's step that uses it (the step whose
   start writes the "knob" record).
3. The page's Python cost per refresh (the periodic drain) with 4 hidden layers of 1000
   units: the unit scatter and lifetimes hold 4000 rows.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import statistics
import time
from itertools import pairwise
from typing import Any

from explorer.bench.cpu_use import browser_cpu, sched_times, trainer_task, window_use
from explorer.bench.table import median_ci
from explorer.bench.teardown import TEARDOWN_LOGGERS, quiet_teardown  # noqa: F401
from explorer.bench.windows import window_rates

CHROMIUM = "/usr/bin/chromium"
#: the sums per kind of window (:func:`explorer.bench.cpu_use.window_use`'s keys)
_USE = ("browser_s", "wall_s", "cpu_s", "wait_s", "steps")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


class StampedQueue(queue.Queue):
    """The trainer's out queue, stamping when each knob record left the trainer and keeping
    every step record's time (the History keeps a bounded, thinned share of long runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict] = []

    def put(self, item, block=True, timeout=None):
        if item.get("kind") == "knob":
            item = {**item, "t_out": time.perf_counter()}
        elif item.get("kind") == "step":
            self.steps.append({"step": item["step"], "time": item["time"]})
        super().put(item, block, timeout)


def _rate(step_records: list[dict], first: int, last: int) -> float:
    by_step = {r["step"]: r["time"] for r in step_records}
    return (last - first) / (by_step[last] - by_step[first])


def _config(hidden, steps):
    from explorer.config import RunConfig

    return RunConfig(
        hidden=hidden, steps=steps, eval_every=50, units_every=10, knobs={"growth_every": 20}
    )


def headless(hidden, first, last) -> float:
    from explorer.history import History
    from explorer.runner import TrainerThread
    from explorer.session import TORCH_THREADS

    runner = TrainerThread(_config(hidden, last + 1), threads=TORCH_THREADS)
    history = History()
    runner.start()
    while runner.state not in ("finished", "error"):
        time.sleep(0.2)
        history.extend(r for r in runner.drain() if r["kind"] not in ("state", "run"))
    history.extend(r for r in runner.drain() if r["kind"] not in ("state", "run"))
    runner.close()
    return _rate(history.rows["step"], first, last)


def with_page(
    hidden,
    first: int,
    last: int | None = None,
    drag: bool = True,
    windows: int = 0,
    window_s: float = 3.0,
    trainer_in: str = "process",
) -> dict:
    """Serve the app, open it in headless Chromium, press start and train from ``first``
    to ``last`` steps. With ``windows`` > 0 the run instead alternates ``windows`` windows
    of ``window_s`` seconds, refresh held / refreshing / held / ... (held first and last)."""
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explorer.app import ExplorerApp

    if windows:
        windows += 1 - windows % 2  # odd: every refreshing window has held ones both sides
        last = 10**7
    if last is None:
        raise ValueError("with_page needs the step to train to (last) or windows > 0")
    apps: list[ExplorerApp] = []
    ticks: list[tuple[float, float]] = []  # (wall, this thread's CPU) seconds per refresh
    starts: list[tuple[int, float]] = []  # (window, start) of each refresh that moved records
    settled: dict[int, int] = {}  # toggle index -> trainer's step when its catch-up ended
    acks: list[float] = []  # the browser's acknowledgement time of each refresh (ms)
    refresh = [True]  # the A/B switch: False holds the page's refresh
    window = [0]  # the number of the current window (a period never spans two)

    def app_fn():
        app = ExplorerApp(_config(hidden, last + 1), trainer_in=trainer_in)
        app.form.max_steps = last + 1
        app.form.hidden = ",".join(str(h) for h in hidden)
        runner = app.session.ensure_runner()
        runner.out = StampedQueue()
        own_refresh = app.refresher.refresh

        def timed_refresh():  # the whole refresh: drain and the message it sends
            t0, c0 = time.perf_counter(), time.thread_time()
            n = own_refresh()
            if n and refresh[0] and window[0] and window[0] - 1 not in settled:
                trainer = runner.trainer  # the step the trainer's records have reached
                if trainer is not None:
                    settled[window[0] - 1] = trainer.step_count
            if n:
                starts.append((window[0], t0))
                ticks.append((time.perf_counter() - t0, time.thread_time() - c0))
            return n

        app.refresher.refresh = timed_refresh
        tick = app.refresher.tick

        def held_tick():  # held: no drain and no change to the refresh period's estimate
            if refresh[0]:
                tick()

        app.refresher.tick = held_tick
        book = app.refresher.browser
        own_acked = book.acked

        def timed_acked(seq, now):  # sent -> applied and drawn by the browser
            before = book.acked_seq
            own_acked(seq, now)
            if book.acked_seq != before:
                acks.append(book.latencies[-1])

        book.acked = timed_acked
        apps.append(app)
        return app.template()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = pn.serve(
        app_fn, port=port, address="127.0.0.1", threaded=True, show=False, liveness=True
    )
    out: dict[str, Any] = {}
    teardown = contextlib.ExitStack()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            for _ in range(100):
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.2)
            cdp = page.context.new_cdp_session(page)  # Chromium's main-thread time
            cdp.send("Performance.enable")
            page.get_by_role("button", name="start").click()
            app = None
            while app is None or app.runner.trainer is None or app.status != "running":
                page.wait_for_timeout(200)
                app = apps[0] if apps else None
            set_at: list[float] = []
            app.knobs.param.watch(lambda e: set_at.append(time.perf_counter()), "lam")
            dragged = None
            toggles: list[tuple[int, bool]] = []
            # (time, browser CPU, trainer thread's (on CPU, waiting for a CPU), step, Chromium's
            # main-thread task seconds) per toggle
            marks: list[tuple] = []
            trainer_tid = trainer_task(app.runner)
            out["cores"] = placement_text()

            def mark(now, step):
                metrics = cdp.send("Performance.getMetrics")["metrics"]
                task_s = next((m["value"] for m in metrics if m["name"] == "TaskDuration"), 0.0)
                marks.append((now, browser_cpu(), sched_times(trainer_tid), step, task_s))

            t_toggle = 0.0
            while app.runner.state == "running":
                page.wait_for_timeout(100)
                step = app.runner.trainer.step_count
                now = time.perf_counter()
                if windows and step >= first and now - t_toggle >= window_s:
                    if len(toggles) == windows:  # the last window closes: stop the run
                        toggles.append((step, True))
                        mark(now, step)
                        app.runner.stop()
                        break
                    refresh[0] = bool(len(toggles) % 2)
                    toggles.append((step, refresh[0]))
                    window[0] += 1
                    mark(now, step)
                    t_toggle = now
                if drag and dragged is None and step > first:
                    handle = page.locator(".noUi-handle").first
                    box = handle.bounding_box()
                    assert box is not None, "the knob slider's handle is not on the page"
                    y = box["y"] + box["height"] / 2
                    page.mouse.move(box["x"] + box["width"] / 2, y)
                    page.mouse.down()
                    page.mouse.move(box["x"] + 40, y, steps=4)
                    dragged = time.perf_counter()
                    page.mouse.up()
            refresh[0] = True
            page.wait_for_timeout(1500)  # the last records reach the History
            teardown.enter_context(quiet_teardown())
            browser.close()
        knob = [k for k in app.history.rows.get("knob", []) if k["knob"] == "lam"]
        steps = app.runner.out.steps
        if windows:
            out["ab"] = window_rates(steps, toggles, settled)
            per = window_use(marks, toggles)
            # per state: browser CPU s, wall s, trainer on-CPU s, run-queue s, steps
            use = {
                on: [sum(w[k] for w in per if w["on"] == on) for k in _USE] for on in (True, False)
            }
            out["browser_cores"] = {
                on: u[0] / u[1] if u[1] else float("nan") for on, u in use.items()
            }
            # where a step's wall time goes: on a CPU, waiting for one (another thread or
            # process had the core), asleep (waiting for the GIL, mostly)
            out["per_step_ms"] = {
                on: {
                    "wall": 1e3 * u[1] / u[4],
                    "cpu": 1e3 * u[2] / u[4],
                    "run_queue": 1e3 * u[3] / u[4],
                    "asleep": 1e3 * (u[1] - u[2] - u[3]) / u[4],
                }
                for on, u in use.items()
                if u[4]
            }
            # the trainer's wait for a CPU per step in each window, by kind of window
            out["run_queue_ms"] = {
                label: [1e3 * w["wait_s"] / w["steps"] for w in per if w["on"] == on and w["steps"]]
                for on, label in ((False, "held"), (True, "refreshing"))
            }
            on_seconds = use[True][1]
            # Chromium's main-thread time per refresh in each refreshing window (all of its
            # tasks in the window, over the refreshes the window sent)
            # and the CPU time of all of Chromium's processes (less moved by other jobs on the
            # machine than the main thread's wall-clock task time)
            sent = [w for w, _ in starts]
            per_window = [(w, sent.count(i + 1)) for i, w in enumerate(per)]
            per_window = [(w, n) for w, n in per_window if w["on"] and n]
            out["browser_task_ms"] = [1e3 * w["task_s"] / n for w, n in per_window]
            out["browser_cpu_ms"] = [1e3 * w["browser_s"] / n for w, n in per_window]
            out["server_share"] = 100 * sum(c for _, c in ticks) / on_seconds
        else:
            out["rate"] = _rate(steps, first, last)
        out["ack_ms"] = acks
        out["periods_ms"] = [
            1e3 * (b - a) for (wa, a), (wb, b) in pairwise(starts) if wa == wb and b > a
        ]
        # per refresh: not the first of a window, which carries the held window's backlog
        steady = [t for i, t in enumerate(ticks) if i and starts[i][0] == starts[i - 1][0]]
        out["ticks_ms"] = [w * 1e3 for w, _ in steady or ticks]
        out["tick_cpu_ms"] = [c * 1e3 for _, c in steady or ticks]
        out["drag"] = {
            "dragged": dragged is not None,
            "knob_set": len(set_at),
            "knob_records": len(knob),
        }
        if dragged is not None and knob and set_at:
            out["drag_to_set_ms"] = (set_at[0] - dragged) * 1e3
            out["set_to_step_ms"] = (knob[0]["t_out"] - set_at[0]) * 1e3
            out["knob_step"] = knob[0]["step"]
        app.close()
    finally:
        with teardown:
            server.stop()
    return out


def placement_text() -> str:
    """Where the trainer and the page run (:mod:`explorer.cores`), for the table."""
    from explorer.cores import PLANNER

    p = PLANNER.placement
    if p is None:
        why = "placement off" if not PLANNER.enabled else "nothing placed"
        return f"{why}: every thread may run on any of cores {sorted(PLANNER.cores)}"
    return (
        f"trainer's compute thread on {sorted(p.trainer)}, the server's threads on "
        f"{sorted(p.page)}, Chromium free"
    )


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return f"median {statistics.median(values):.1f} ms, p95 {q[18]:.1f} ms, n={len(values)}"


def main(windows: int = 31, window_s: float = 3.0, hidden: list[int] | None = None) -> int:
    hidden = hidden or [256, 256]
    print(
        f"run: nonparametric on digits, hidden {hidden}; after step 300, {windows} windows "
        f"of {window_s:g} s: refresh held / refreshing / held ..."
    )
    page = with_page(hidden, 300, windows=windows, window_s=window_s)
    ab, costs = page["ab"], sorted(page["ab"]["costs"])
    q = statistics.quantiles(costs, n=4) if len(costs) > 1 else costs * 3
    print(f"page open, refreshing:   {ab['on']:6.1f} steps/s")
    print(f"page open, refresh held: {ab['off']:6.1f} steps/s")
    lo, hi = median_ci(costs)
    print(
        f"page cost per refreshing window against the held windows beside it: median "
        f"{statistics.median(costs):.1f}% (95% CI {lo:.1f} .. {hi:.1f}%, bootstrap), quartiles "
        f"{q[0]:.1f}% .. {q[2]:.1f}%, n={len(costs)}; "
        f"pooled {100 * (1 - ab['on'] / ab['off']):.1f}%"
    )
    print(
        "the same windows whole, each with its catch-up refresh (the held window's records): "
        f"median {statistics.median(ab['costs_with_catch_up']):.1f}%"
    )
    print(f"cores: {page.get('cores')}")
    wait = page["run_queue_ms"]
    print(
        "trainer's wait for a CPU per step (schedstat), median of the windows: held "
        f"{_ms(wait['held'])}; refreshing {_ms(wait['refreshing'])}"
    )
    print(
        f"server CPU in the refresh (GIL the trainer waits for): {page['server_share']:.1f}% "
        f"of wall clock; Chromium: {page['browser_cores'][True]:.2f} cores refreshing, "
        f"{page['browser_cores'][False]:.2f} held"
    )
    print(f"refresh wall time {_ms(page['ticks_ms'])}; CPU {_ms(page['tick_cpu_ms'])}")
    print(f"refresh period (refreshing windows) {_ms(page['periods_ms'])}")
    print(
        f"browser: acknowledgement (sent -> drawn) {_ms(page['ack_ms'])}; Chromium main "
        f"thread per refresh {_ms(page['browser_task_ms'])}; Chromium CPU per refresh "
        f"{_ms(page['browser_cpu_ms'])}"
    )
    for on, label in ((False, "held"), (True, "refreshing")):
        d = page["per_step_ms"].get(on)
        if d:
            print(
                f"trainer, ms per step while {label}: wall {d['wall']:.3f} = on a CPU "
                f"{d['cpu']:.3f} + waiting for a CPU {d['run_queue']:.3f} + asleep (GIL) "
                f"{d['asleep']:.3f}"
            )
    lat = with_page(hidden, 300, 700)
    print(
        f"headless run of the same config: {headless(hidden, 300, 1500):.1f} steps/s; with "
        f"the page (one run, steps 300..700): {lat['rate']:.1f} (separate runs vary by "
        "+-10% here: not used for the cost)"
    )
    if "set_to_step_ms" in lat:
        print(
            f"slider drag -> knob set on server: {lat['drag_to_set_ms']:.1f} ms; "
            f"knob set -> step {lat['knob_step']} uses it: {lat['set_to_step_ms']:.1f} ms"
        )
    else:
        print(f"slider latency not measured: {lat['drag']}")
    big = [1000, 1000, 1000, 1000]
    wide = with_page(big, 20, 120, drag=False)
    print(
        f"4 x 1000 units: {wide['rate']:.1f} steps/s with the page; refresh {_ms(wide['ticks_ms'])}"
    )
    return 0
