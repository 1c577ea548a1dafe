"""What the live page costs (``python -m explorer bench --app``).

1. Training throughput of the same run headless (a TrainerThread drained into a History)
   and with the page open in headless Chromium, refreshing at its normal rate. Steps per
   second come from the trainer's own step records (their ``time`` field), over the same
   window of steps in both runs.
2. Latency of a knob change: from the slider drag in the browser to the knob value set on
   the server, and from the value set to the trainer's step that uses it (the step whose
   start writes the "knob" record).
3. The page's Python cost per refresh (the periodic drain) with 4 hidden layers of 1000
   units: the unit scatter and lifetimes hold 4000 rows.
"""

from __future__ import annotations

import queue
import socket
import statistics
import time

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


class StampedQueue(queue.Queue):
    """The trainer's out queue, stamping when each knob record left the trainer."""

    def put(self, item, block=True, timeout=None):
        if item.get("kind") == "knob":
            item = {**item, "t_out": time.perf_counter()}
        super().put(item, block, timeout)


def _rate(step_records: list[dict], first: int, last: int) -> float:
    by_step = {r["step"]: r["time"] for r in step_records}
    return (last - first) / (by_step[last] - by_step[first])


def _config(hidden, steps):
    from explorer.config import RunConfig

    return RunConfig(hidden=hidden, steps=steps, eval_every=50, units_every=10,
                     knobs={"growth_every": 20})


def headless(hidden, first, last) -> float:
    from explorer.app import TORCH_THREADS
    from explorer.history import History
    from explorer.runner import TrainerThread

    runner = TrainerThread(_config(hidden, last + 1), threads=TORCH_THREADS)
    history = History()
    runner.start()
    while runner.state not in ("finished", "error"):
        time.sleep(0.2)
        history.extend(r for r in runner.drain() if r["kind"] not in ("state", "run"))
    history.extend(r for r in runner.drain() if r["kind"] not in ("state", "run"))
    runner.close()
    return _rate(history.rows["step"], first, last)


def with_page(hidden, first, last, drag: bool = True) -> dict:
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explorer.app import ExplorerApp

    apps: list[ExplorerApp] = []
    ticks: list[float] = []

    def app_fn():
        app = ExplorerApp(_config(hidden, last + 1))
        app.max_steps = last + 1
        app.hidden = ",".join(str(h) for h in hidden)
        runner = app._ensure_runner()
        runner.out = StampedQueue()
        drain = app.drain

        def timed_drain():
            t0 = time.perf_counter()
            n = drain()
            if n:
                ticks.append(time.perf_counter() - t0)
            return n

        app.drain = timed_drain
        apps.append(app)
        return app.template()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = pn.serve(app_fn, port=port, address="127.0.0.1", threaded=True, show=False,
                      liveness=True)
    out = {}
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
            page.get_by_role("button", name="start").click()
            app = None
            while app is None or app.runner.trainer is None or app.status != "running":
                page.wait_for_timeout(200)
                app = apps[0] if apps else None
            set_at: list[float] = []
            app.knobs.param.watch(lambda e: set_at.append(time.perf_counter()), "lam")
            dragged = None
            while app.status == "running":
                page.wait_for_timeout(200)
                step = app._last["step"]["step"] if app._last["step"] else 0
                if drag and dragged is None and step > first:
                    handle = page.locator(".noUi-handle").first
                    box = handle.bounding_box()
                    y = box["y"] + box["height"] / 2
                    page.mouse.move(box["x"] + box["width"] / 2, y)
                    page.mouse.down()
                    page.mouse.move(box["x"] + 40, y, steps=4)
                    dragged = time.perf_counter()
                    page.mouse.up()
            page.wait_for_timeout(500)
            browser.close()
        knob = [k for k in app.history.rows.get("knob", []) if k["knob"] == "lam"]
        out["rate"] = _rate(app.history.rows["step"], first, last)
        out["ticks_ms"] = [t * 1e3 for t in ticks]
        out["drag"] = {"dragged": dragged is not None, "knob_set": len(set_at),
                       "knob_records": len(knob)}
        if dragged is not None and knob and set_at:
            out["drag_to_set_ms"] = (set_at[0] - dragged) * 1e3
            out["set_to_step_ms"] = (knob[0]["t_out"] - set_at[0]) * 1e3
            out["knob_step"] = knob[0]["step"]
        app.close()
    finally:
        server.stop()
    return out


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return f"median {statistics.median(values):.1f} ms, p95 {q[18]:.1f} ms, n={len(values)}"


def main(steps: int = 1500, hidden: list[int] | None = None) -> int:
    hidden = hidden or [256, 256]
    first, last = steps // 5, steps
    print(f"run: nonparametric on digits, hidden {hidden}, steps {first}..{last}")
    base = headless(hidden, first, last)
    print(f"headless:   {base:8.1f} steps/s")
    page = with_page(hidden, first, last)
    cost = 100 * (1 - page["rate"] / base)
    print(f"page open:  {page['rate']:8.1f} steps/s  (page costs {cost:.1f}% throughput)")
    print(f"refresh (Python side of one drain tick): {_ms(page['ticks_ms'])}")
    if "set_to_step_ms" in page:
        print(f"slider drag -> knob set on server: {page['drag_to_set_ms']:.1f} ms; "
              f"knob set -> step {page['knob_step']} uses it: {page['set_to_step_ms']:.1f} ms")
    else:
        print(f"slider latency not measured: {page['drag']}")
    big = [1000, 1000, 1000, 1000]
    wide = with_page(big, 20, 120, drag=False)
    print(f"4 x 1000 units: {wide['rate']:.1f} steps/s with the page; refresh "
          f"{_ms(wide['ticks_ms'])}")
    return 0
