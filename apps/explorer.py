"""`panel serve apps/explorer.py`: the live explorer, one trainer per browser session.

Pages open for clients on this machine only (explorer/access.py says how to expose it on
purpose: SIZING_EXPLORER_ALLOW_REMOTE=1 with --address and --allow-websocket-origin).
"""

import sys
from pathlib import Path

# `panel serve` puts apps/ first on sys.path, where this file would shadow the package
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "apps"]

import panel as pn  # noqa: E402

from explorer.access import client_left, session_refusal  # noqa: E402
from explorer.app import ExplorerApp  # noqa: E402
from explorer.page.reconnect import serve_settings  # noqa: E402
from explorer.page.runs_tab import served_tabs  # noqa: E402

serve_settings()  # a dropped websocket reconnects (Panel reads it after this script)
refused = session_refusal()
if client_left():  # a tab closed while this request waited: build nothing for it
    pass
elif refused:
    pn.pane.Alert(refused, alert_type="danger").servable(title="Sizing Explorer")
else:
    ExplorerApp(trainer_in="process", tabs=served_tabs()).servable(title="Sizing Explorer")
