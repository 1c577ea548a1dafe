"""README pictures of the live page: `python scripts/screenshots.py [SECONDS [METHOD ...]]`,
and of one long run: `python scripts/screenshots.py --long STEPS [METHOD]`.

Serves the page as `python -m explorer serve` does (trainer in a child process, default
knobs), then in headless Chromium saves the first screen at 1366x768 and 1920x1080 of the idle
page and of each registered method after SECONDS (default 60) of training, one run after
another (every registered method unless named), to
assets/screenshots/{idle,METHOD}-{1366x768,1920x1080}.png. A run that reaches the page's step
limit before SECONDS is shown finished. ``--long STEPS`` trains one method (default
nonparametric) until it has taken STEPS steps and saves long-METHOD-{SIZE}.png: the whole
course of a run whose history has been thinned many times over."""

import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import panel as pn  # noqa: E402
import torch  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from explorer.app import ExplorerApp  # noqa: E402
from kernels.methods import METHODS  # noqa: E402
from tests.conftest import BROWSER_ARGS, CHROMIUM, free_port, wait_for  # noqa: E402

SIZES = ((1366, 768), (1920, 1080))
OUT = ROOT / "assets" / "screenshots"


def shoot(page, name: str) -> None:
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(1500)  # Bokeh re-lays out the plots
        path = OUT / f"{name}-{width}x{height}.png"
        page.screenshot(path=str(path))
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB)", flush=True)


def main(seconds: float, methods: list[str], long_steps: int = 0) -> None:
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    apps: list[ExplorerApp] = []

    def app_fn():
        apps.append(ExplorerApp(trainer_in="process"))
        return apps[-1].template()

    port = free_port()
    server = pn.serve(
        app_fn, port=port, address="127.0.0.1", threaded=True, show=False, liveness=True
    )
    url = f"http://127.0.0.1:{port}/"
    wait_for(lambda: urllib.request.urlopen(url + "liveness", timeout=5).status == 200)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
            page.goto(url, timeout=240_000)
            page.get_by_text("Pick a sizing method", exact=False).first.wait_for(
                state="visible", timeout=120_000
            )
            app = apps[0]
            if not long_steps:
                shoot(page, "idle")
            select = (
                page.locator("select")
                .filter(has=page.locator("option", has_text=re.compile("^nonparametric$")))
                .first
            )
            for method in methods:
                page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
                select.select_option(method)
                wait_for(lambda method=method: app.form.method == method, page=page)
                page.get_by_role("button", name="start").click()
                wait_for(lambda: app.status == "running", page=page)
                if long_steps:
                    wait_for(
                        lambda: (app.history.last("step") or {}).get("step", 0) >= long_steps,
                        timeout=3600,
                        what=f"{long_steps} steps",
                        page=page,
                    )
                else:
                    page.wait_for_timeout(int(seconds * 1000))
                if app.status == "running":
                    app.pause()  # the pictures show one moment at both sizes
                    wait_for(lambda: app.status == "paused", page=page)
                page.wait_for_timeout(2000)
                step = app.history.last("step")["step"]
                print(f"{method}: step {step}, {app.status}", flush=True)
                shoot(page, f"long-{method}" if long_steps else method)
                if app.status == "paused":
                    page.get_by_role("button", name="stop").click()
                    wait_for(lambda: app.status == "stopped", page=page)
            browser.close()
    finally:
        for app in apps:
            app.close()
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--long"]:
        main(0.0, sys.argv[3:] or ["nonparametric"], long_steps=int(sys.argv[2]))
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0, sys.argv[2:] or sorted(METHODS))
