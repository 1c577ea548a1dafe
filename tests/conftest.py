"""Shared test set-up and helpers: one torch thread, polling, Chromium, the served page."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

CHROMIUM = "/usr/bin/chromium"


def poll(
    condition: Callable[[], object],
    timeout: float = 60.0,
    *,
    tick: Callable[[], object] | None = None,
    interval: float = 0.02,
    what: Callable[[], str] | str = "condition",
) -> None:
    """Call ``tick`` (e.g. ``app.drain``) then ``condition`` until it holds; fail after
    ``timeout`` seconds saying ``what`` was awaited (a string, or a function giving the
    current state)."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        if condition():
            return
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {detail}")
        time.sleep(interval)


def require_chromium() -> str:
    """The Chromium the browser tests drive; a machine without it skips them, but CI
    (SIZING_EXPLORER_REQUIRE_BROWSER set) fails instead of passing unnoticed."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not installed (apt-get install chromium)"
        if os.environ.get("SIZING_EXPLORER_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One intra-op thread: small CPU kernels are then deterministic, and on a busy 2-core
    machine no OpenMP thread spins against the test's other threads (web server, trainer)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_growth_config():
    """A short TINY run on digits from [1, 1] with a growth step every 10 steps that accepts
    every neuron (tau 0): 25 steps, two growth steps (the growth-time tests)."""
    from explorer.config import RunConfig

    return RunConfig(
        method="tiny",
        dataset="digits",
        hidden=[1, 1],
        steps=25,
        batch_size=64,
        knobs={"growth_every": 10, "tau": 0.0, "growth_rate": 2},
    )


# -- the served page in headless Chromium (the browser tests) ----------------------------------
#: Chromium's flags for the browser tests (no sandbox in containers, nothing fetched)
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=120.0, what="condition", page=None):
    """Poll ``condition`` until it returns something true (returned); with a page, wait
    through Playwright so its events arrive. A server not listening yet counts as false.
    ``what`` names what was awaited (a string, or a function giving the current state)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def start_server(app_fn: Callable[[], object], timeout: float = 120.0):
    """Serve ``app_fn`` (a Panel object per browser session) as `python -m explorer serve`
    does (its Bokeh options, explorer/cli/serve.py, and its reconnect setting) on a free port of
    127.0.0.1, in a thread; returns ``(url, server)`` once the server answers
    (``server.stop()`` ends it)."""
    import panel as pn

    from explorer.cli.serve import SERVER_OPTIONS
    from explorer.page.reconnect import serve_settings

    serve_settings()  # as `explorer serve`: a dropped websocket reconnects
    port = free_port()
    server = pn.serve(
        app_fn,
        port=port,
        address="127.0.0.1",
        threaded=True,
        show=False,
        liveness=True,
        **SERVER_OPTIONS,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_for(
        lambda: urllib.request.urlopen(url + "liveness", timeout=5).status == 200,
        timeout=timeout,
        what="server",
    )
    return url, server


def process_alive(pid: int | None) -> bool:
    """The process exists and is not a zombie (an exited child not yet reaped)."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def serve():
    """``serve(make_app) -> (url, apps)``: serve one ``make_app()`` (an ExplorerApp) per
    browser session on a free local port, as `python -m explorer serve` does; the apps made
    are listed in ``apps`` (first session first). Closed and stopped at teardown."""
    require_chromium()  # skipped without Chromium, failed under CI's REQUIRE_BROWSER
    threads = torch.get_num_threads()
    apps: list = []
    servers: list = []

    def start(make_app):
        def app_fn():
            app = make_app()
            apps.append(app)
            return app.template()

        url, server = start_server(app_fn)
        servers.append(server)
        return url, apps

    yield start
    for app in apps:
        app.close()
    for server in servers:
        server.stop()
    torch.set_num_threads(threads)


@contextmanager
def open_page(
    url: str,
    console: list,
    viewport=(1500, 1150),
    timeout_ms: int = 60_000,
    init_script: str | None = None,
):
    """A headless Chromium page at ``url`` once its Bokeh websocket is open; console
    messages and page errors are appended to ``console`` as (type, text); ``init_script``
    runs in the page before its own scripts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("error", f"{e} {e.stack or ''}")))
            if init_script is not None:
                page.add_init_script(init_script)
            page.goto(url, timeout=timeout_ms)
            wait_for(
                lambda: any("Websocket connection 0 is now open" in t for _, t in console),
                what="websocket",
                page=page,
            )
            yield page
        finally:
            browser.close()


@contextmanager
def lean_page(app_fn: Callable[[], object], flag: str, what: str):
    """A headless Chromium page of ``app_fn`` served as `explorer serve` does, yielded once
    ``window.Bokeh.<flag>`` is true (a lean BokehJS change installed; ``what`` names it for a
    timeout). The server stops afterwards; a page that logged an error fails the test."""
    require_chromium()
    url, server = start_server(app_fn)
    console: list[tuple[str, str]] = []
    try:
        with open_page(url, console) as page:
            wait_for(
                lambda: page.evaluate(f"() => window.Bokeh?.{flag} === true"),
                what=what,
                page=page,
            )
            yield page
    finally:
        server.stop()
    assert [t for kind, t in console if kind == "error"] == []
