"""``export``: a snapshot to tables, a plain model, HTML and PNG (:mod:`explorer.export`)."""

from __future__ import annotations


def add_export_parser(sub) -> None:
    export = sub.add_parser("export", help="export a snapshot: tables, plain model, HTML, PNG")
    export.add_argument("snapshot", help="snapshot folder or .zip")
    export.add_argument("--csv", metavar="DIR", help="history as one CSV per record kind")
    export.add_argument("--parquet", metavar="DIR", help="history as one Parquet per kind")
    export.add_argument("--html", metavar="FILE", help="static dashboard page (no server)")
    export.add_argument("--png", metavar="FILE", help="picture of the dashboard (Chromium)")
    export.add_argument(
        "--model",
        metavar="DIR",
        help="final network as a plain torch model (safetensors + TorchScript)",
    )


def export_command(args) -> int:
    from explorer.export import export_command as export

    return export(args)
