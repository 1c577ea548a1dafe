"""Shared test set-up and helpers: one torch thread, polling, Chromium, app fixtures."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
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
