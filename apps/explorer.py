"""`panel serve apps/explorer.py`: the live explorer, one trainer per browser session."""
import sys
from pathlib import Path

# `panel serve` puts apps/ first on sys.path, where this file would shadow the package
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "apps"]

from explorer.app import ExplorerApp  # noqa: E402
from explorer.page.runs_tab import served_tabs  # noqa: E402

ExplorerApp(trainer_in="process", tabs=served_tabs()).servable(title="Sizing Explorer")
