"""Soak the served page: several browser sessions training at once for minutes, with checks on
what must stay bounded (issue 16's brief, session 6).

The page is served in this process as ``python -m explorer serve`` serves it (each session's
trainer in a child process, a closed tab's session ended within seconds); headless Chromium opens
``--sessions`` pages, each starts a different method, and they train for ``--seconds``. Every
``--period`` s a sample is taken: the server's RSS and thread counts, each trainer child's
RSS, each session's step and History sizes. One session is closed at ``--close-at`` of the
run (``explorer serve`` ends it about a second later). Checks (each can fail; the figures are
printed and written with ``--json``):

- server RSS growth from the end of ``--warmup`` to just before the close <= ``--rss-bound``
  MB, and from then on to the end <= the same bound;
- every History within its thinning rule (thinned kinds <= max_rows, unit tables and
  per-unit kinds <= max_tables; the limits are lowered to ``--max-rows`` / ``--max-tables``
  so that the rule is exercised within minutes, and the run must pass max_rows steps);
- no error in any page's console (BokehJS or JavaScript);
- each open session's step count advancing over every window of three samples;
- the closed session's trainer process gone, its reader thread gone and the server's
  thread count back down; at the end, all sessions closed, every trainer gone and the
  thread count at most ``--thread-slack`` above what it was before the first page.

    nice -n 10 .venv/bin/python scripts/soak.py --seconds 150 --json /tmp/soak.json
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import BROWSER_ARGS, CHROMIUM, start_server  # noqa: E402
from tests.conftest import process_alive as alive  # noqa: E402

METHODS = ("nonparametric", "shrinknets", "tiny")


def status_field(pid: int | str, field: str) -> int | None:
    """A number from /proc/PID/status (VmRSS in kB, Threads), None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def history_sizes(app) -> dict:
    h = app.history
    with h._lock:
        out = {k: len(v) for k, v in h.rows.items() if v}
        out["units"] = len(h.tables)
    return out


def sample(t0: float, apps: list, pids: list) -> dict:
    return {
        "t": round(time.monotonic() - t0, 1),
        "rss_mb": round(status_field("self", "VmRSS") / 1024, 1),  # type: ignore[operator]
        "os_threads": status_field("self", "Threads"),
        "py_threads": threading.active_count(),
        "steps": [_step(a) for a in apps],
        "child_rss_mb": [
            round((status_field(p, "VmRSS") or 0) / 1024, 1) if alive(p) else None for p in pids
        ],
        "history": [history_sizes(a) for a in apps],
    }


def _step(app) -> int:
    last = app.history.last("step")
    return int(last["step"]) if last else 0


def _wait(cond, timeout: float, what, page=None) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        if page is not None:
            page.wait_for_timeout(200)
        else:
            time.sleep(0.2)


def soak(
    seconds: float = 150,
    sessions: int = 3,
    warmup: float = 40,
    period: float = 5,
    close_at: float = 0.6,
    max_rows: int = 2000,
    max_tables: int = 50,
    rss_bound: float = 60.0,
    thread_slack: int = 4,
    reap_s: float = 20.0,
) -> dict:
    """Run the soak; returns the figures and ``failures`` (empty when every check holds)."""
    import torch
    from playwright.sync_api import sync_playwright

    from explorer.app import ExplorerApp
    from explorer.config import RunConfig
    from explorer.history import PER_UNIT, THINNED, History
    from explorer.page.runs_tab import served_tabs

    torch.set_num_threads(1)
    # the thinning rule with lower limits, so that minutes of training exercise it
    History.__init__.__defaults__ = (max_rows, max_tables)
    apps: list = []

    def make():
        method = METHODS[len(apps) % len(METHODS)]
        app = ExplorerApp(
            RunConfig(method=method, eval_every=20, units_every=5),
            trainer_in="process",
            tabs=served_tabs(),
            max_steps=0,  # until stopped
        )
        apps.append(app)
        return app.template()

    # served as `explorer serve` serves it (its Bokeh options: a closed tab ends in seconds)
    url, server = start_server(make, timeout=120)
    base_threads = (status_field("self", "Threads"), threading.active_count())
    consoles: list[list] = [[] for _ in range(sessions)]
    failures: list[str] = []
    samples: list[dict] = []
    out: dict = {"samples": samples, "failures": failures, "sessions": sessions}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            pages = []
            for i in range(sessions):
                page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
                page.on("console", lambda m, c=consoles[i]: c.append((m.type, m.text)))
                page.on("pageerror", lambda e, c=consoles[i]: c.append(("error", str(e))))
                page.goto(url, timeout=240_000)
                _wait(lambda i=i: len(apps) > i, 240, f"session {i}", page)
                # a click before the page's websocket is open is lost (as conftest.open_page)
                _wait(
                    lambda c=consoles[i]: any("connection 0 is now open" in t for _, t in c),
                    240,
                    f"session {i}'s websocket",
                    page,
                )
                page.get_by_role("button", name="start").click(timeout=240_000)
                pages.append(page)
            for app in apps:
                _wait(
                    lambda a=app: _step(a) > 0,
                    240,
                    lambda: (
                        f"every session's first step ({len(apps)} pages built; "
                        + "; ".join(f"{a.form.method} {a.status}: {a.message[:80]}" for a in apps)
                        + ")"
                    ),
                    pages[0],
                )
            pids = [a.runner.pid for a in apps]
            out["methods"] = [a.form.method for a in apps]
            t0 = time.monotonic()
            closed_t = None
            closed = t0
            closed_reader = apps[0].runner._thread
            while time.monotonic() - t0 < seconds:
                pages[-1].wait_for_timeout(period * 1000)
                samples.append(sample(t0, apps, pids))
                if closed_t is None and time.monotonic() - t0 >= close_at * seconds:
                    out["before_close"] = samples[-1]
                    asked = time.monotonic()
                    pages[0].close()  # the tab goes: its session, trainer and threads must
                    closed = time.monotonic()  # Chromium took ~10 s to close it at load 17
                    out["page_close_s"] = round(closed - asked, 1)
                    closed_t = samples[-1]["t"]
                if closed_t is not None and "closed_gone_t" not in out and not alive(pids[0]):
                    out["closed_gone_t"] = samples[-1]["t"]
            out["closed_at_t"] = closed_t
            out["apps_made"] = len(apps)
            # a closed tab's session ends about a second after it (explorer/page/closed_tab.py)
            out["reap_s"] = reap_s
            deadline = (closed if closed_t is not None else t0) + reap_s  # from the tab's close
            while (closed_reader.is_alive() or alive(pids[0])) and time.monotonic() < deadline:
                pages[-1].wait_for_timeout(500)
            out.setdefault("closed_gone_t", round(time.monotonic() - t0, 1))
            out["closed_trainer_alive"] = alive(pids[0])
            out["closed_reader_alive"] = closed_reader.is_alive()
            out["after_close"] = sample(t0, apps, pids)
            out["consoles"] = [[list(m) for m in c] for c in consoles]
            for page in pages[1:]:
                page.close()
            browser.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.5)
        time.sleep(3)  # the sessions' close threads finish
        out["after_all_closed"] = {
            "trainers_alive": [alive(pid) for pid in pids],
            "os_threads": status_field("self", "Threads"),
            "py_threads": threading.active_count(),
            "thread_names": sorted(t.name for t in threading.enumerate()),
        }
        out["base_threads"] = {"os_threads": base_threads[0], "py_threads": base_threads[1]}
        _check(out, apps, warmup, rss_bound, thread_slack, max_rows, max_tables, THINNED, PER_UNIT)
    finally:
        for app in apps:
            app.close(wait=False)
        server.stop()
    return out


def _check(out, apps, warmup, rss_bound, thread_slack, max_rows, max_tables, thinned, per_unit):
    samples, failures = out["samples"], out["failures"]
    closed_t = out["closed_at_t"]
    if out["apps_made"] != len(out["consoles"]):
        failures.append(f"{out['apps_made']} pages built for {len(out['consoles'])} sessions")
    warm = next((s for s in samples if s["t"] >= warmup), None)
    before = out.get("before_close")
    if warm is None or before is None or closed_t is None:
        failures.append("the run was too short for a warm-up window and a close")
        return
    growth = before["rss_mb"] - warm["rss_mb"]
    after = samples[-1]["rss_mb"] - before["rss_mb"]
    out["rss_growth_mb"] = {"warm_to_close": round(growth, 1), "close_to_end": round(after, 1)}
    if growth > rss_bound:
        failures.append(f"server RSS grew {growth:.1f} MB from t={warm['t']} to the close")
    if after > rss_bound:
        failures.append(f"server RSS grew {after:.1f} MB after the close")
    # the History: within the thinning rule, and the rule exercised
    for i, app in enumerate(apps):
        sizes = history_sizes(app)
        for kind, n in sizes.items():
            limit = max_tables if kind == "units" or kind in per_unit else max_rows
            if (kind in thinned or kind in per_unit or kind == "units") and n > limit:
                failures.append(f"session {i}: History holds {n} '{kind}' rows, limit {limit}")
    if max(s for sm in samples for s in sm["steps"]) <= max_rows:
        failures.append(f"no session passed {max_rows} steps: the thinning was not exercised")
    # the consoles
    for i, console in enumerate(out["consoles"]):
        errors = [t for kind, t in console if kind == "error" or "[bokeh] error" in t.lower()]
        if errors:
            failures.append(f"session {i}: {len(errors)} console errors, first: {errors[0][:300]}")
    # the steps advance in every window of three samples while the session is open
    for i in range(len(apps)):
        steps = [(s["t"], s["steps"][i]) for s in samples if i or s["t"] <= closed_t]
        for (ta, a), (tb, b) in zip(steps, steps[3:], strict=False):
            if b <= a:
                failures.append(f"session {i}: no step from t={ta} to t={tb} (stuck at {a})")
                break
    # the closed session's trainer and thread; all gone at the end
    if out["closed_trainer_alive"]:
        failures.append(f"the closed session's trainer is alive {out['reap_s']} s after the close")
    if out["closed_reader_alive"]:
        failures.append(f"the closed session's reader is alive {out['reap_s']} s after the close")
    threads_before, threads_after = before["os_threads"], out["after_close"]["os_threads"]
    if threads_after >= threads_before:
        failures.append(f"server threads {threads_before} -> {threads_after} after the close")
    end = out["after_all_closed"]
    if any(end["trainers_alive"]):
        failures.append(f"trainers alive after all sessions closed: {end['trainers_alive']}")
    extra = end["os_threads"] - out["base_threads"]["os_threads"]
    if extra > thread_slack:
        failures.append(
            f"{extra} more server threads after all sessions closed than before the first "
            f"(slack {thread_slack}): {end['thread_names']}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=150, help="training time of the soak")
    ap.add_argument("--sessions", type=int, default=3, help="browser sessions at once")
    ap.add_argument("--warmup", type=float, default=40, help="seconds before RSS is compared")
    ap.add_argument("--period", type=float, default=5, help="seconds between samples")
    ap.add_argument("--close-at", type=float, default=0.6, help="fraction: one session closes")
    ap.add_argument("--max-rows", type=int, default=2000, help="History max_rows in the soak")
    ap.add_argument("--max-tables", type=int, default=50, help="History max_tables in the soak")
    ap.add_argument("--rss-bound", type=float, default=60.0, help="MB of RSS growth allowed")
    ap.add_argument("--thread-slack", type=int, default=4, help="threads left over allowed")
    ap.add_argument("--reap-s", type=float, default=20, help="seconds a closed tab may take")
    ap.add_argument("--json", default="", help="write the figures here")
    args = ap.parse_args(argv)
    out = soak(
        args.seconds,
        args.sessions,
        args.warmup,
        args.period,
        args.close_at,
        args.max_rows,
        args.max_tables,
        args.rss_bound,
        args.thread_slack,
        args.reap_s,
    )
    for s in out["samples"]:
        print(
            f"t={s['t']:6.1f} rss={s['rss_mb']:7.1f} MB threads={s['os_threads']} "
            f"(py {s['py_threads']}) steps={s['steps']} children={s['child_rss_mb']}"
        )
    print(
        "RSS growth:",
        out.get("rss_growth_mb"),
        f"closed at t={out['closed_at_t']} (page.close() took {out.get('page_close_s')} s),",
        f"its trainer gone by t={out['closed_gone_t']};",
        "after all closed:",
        out["after_all_closed"],
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    for failure in out["failures"]:
        print("FAIL:", failure)
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
