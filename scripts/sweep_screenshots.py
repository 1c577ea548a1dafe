"""README pictures of the runs tab: `python scripts/sweep_screenshots.py SNAPSHOT_FOLDER`.

SNAPSHOT_FOLDER/sweeps/page-sweep must hold a sweep (``python -m explorer sweep --out ...``);
writes assets/runs.png (runs view) and assets/compare.png (three runs compared)."""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test modules import conftest by that name
os.environ["SIZING_EXPLORER_SNAPSHOTS"] = sys.argv[1]

from playwright.sync_api import sync_playwright  # noqa: E402

from explorer.app import ExplorerApp  # noqa: E402
from explorer.page.runs_tab import runs_tab  # noqa: E402
from tests.conftest import BROWSER_ARGS, CHROMIUM, start_server, wait_for  # noqa: E402
from tests.test_browser_runs import RUN_POINT_ON_SCREEN  # noqa: E402

panels = []


def tab(app):
    panels.append(runs_tab(app))
    return panels[-1]


url, server = start_server(lambda: ExplorerApp(tabs={"runs": tab}).template())
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url, timeout=240_000)
    page.wait_for_timeout(3000)
    page.locator(".bk-tab").filter(has_text=re.compile(r"^\s*runs\s*$")).click()
    wait_for(lambda: page.evaluate(RUN_POINT_ON_SCREEN), timeout=300, page=page)
    page.wait_for_timeout(3000)
    page.screenshot(path=str(ROOT / "assets" / "runs.png"))
    compare = panels[0].compare
    labels = compare.param.runs.objects
    pick = [
        next(lab for lab in labels if lab.startswith(m))
        for m in ("nonparametric", "shrinknets", "tiny")
    ]
    compare.runs = pick
    page.locator(".bk-tab").filter(has_text=re.compile(r"^\s*compare runs\s*$")).click()
    page.wait_for_timeout(20000)
    page.screenshot(path=str(ROOT / "assets" / "compare.png"), full_page=True)
    browser.close()
server.stop()
print("wrote assets/runs.png, assets/compare.png")
