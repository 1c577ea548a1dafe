"""Exports of a run: history tables (CSV/Parquet), the final network as a plain torch model,
a static self-contained HTML dashboard, and a PNG of it through headless Chromium.

Each export reads a History or a Trainer (a snapshot gives both through
:func:`explorer.snapshot.restore`); none needs a server.
"""

from explorer.export.command import export_command
from explorer.export.files import KIND_NAME, ExportError, inside
from explorer.export.html import dashboard, dashboard_html, export_html, unit_lifetimes
from explorer.export.model import describe, export_model, max_relative_diff, plain_model
from explorer.export.png import CHROMIUM_CANDIDATES, export_png, find_chromium
from explorer.export.tables import TABLE_FORMATS, export_tables

__all__ = [
    "CHROMIUM_CANDIDATES",
    "KIND_NAME",
    "TABLE_FORMATS",
    "ExportError",
    "dashboard",
    "dashboard_html",
    "describe",
    "export_command",
    "export_html",
    "export_model",
    "export_png",
    "export_tables",
    "find_chromium",
    "inside",
    "max_relative_diff",
    "plain_model",
    "unit_lifetimes",
]
