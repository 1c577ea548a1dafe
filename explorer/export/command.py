"""The CLI's ``export`` command: a snapshot to tables, HTML, PNG and a plain model."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from explorer.export.files import ExportError
from explorer.export.html import export_html
from explorer.export.model import export_model
from explorer.export.png import export_png
from explorer.export.tables import TABLE_FORMATS, export_tables


def export_command(args) -> int:
    """``python -m explorer export SNAPSHOT --csv DIR --parquet DIR --html FILE --png FILE
    --model DIR`` (any combination, at least one)."""
    from explorer.snapshot import load_snapshot, restore

    wanted: dict[str, str] = {
        k: getattr(args, k, None) or "" for k in ("csv", "parquet", "html", "png", "model")
    }
    if not any(wanted.values()):
        raise ExportError(
            "nothing to export; give one or more of --csv DIR, --parquet DIR, "
            "--html FILE, --png FILE, --model DIR"
        )
    from explorer.targets import check_target

    for flag, kind in (
        ("csv", "outdir"),
        ("parquet", "outdir"),
        ("html", "file"),
        ("png", "file"),
        ("model", "outdir"),
    ):
        check_target(wanted[flag], f"--{flag}", kind)
    data = load_snapshot(args.snapshot)
    for problem in data.problems:  # a part left out (the rest exports): say so
        print(f"warning: {problem}", file=sys.stderr)
    history = data.history()
    for fmt in TABLE_FORMATS:
        if wanted[fmt]:
            paths = export_tables(history, wanted[fmt], fmt)
            names = ", ".join(p.stem for p in paths)
            print(f"{fmt}: {len(paths)} tables in {wanted[fmt]} ({names})")
    if wanted["html"] or wanted["png"]:
        title = f"{data.method} on {data.config.get('dataset')}, step {data.step}"
        with tempfile.TemporaryDirectory() as tmp:
            html_path = Path(wanted["html"] or Path(tmp) / "dashboard.html")
            export_html(history, html_path, title, landscape=data.landscape)
            if wanted["html"]:
                print(f"html: {html_path}")
            if wanted["png"]:
                print(f"png: {export_png(html_path, wanted['png'])}")
    if wanted["model"]:
        trainer, _ = restore(data, device="cpu")
        report = export_model(trainer, wanted["model"])
        check = report["check"]
        print(
            f"model: {wanted['model']} (hidden sizes {report['sizes_trained']} -> "
            f"{report['sizes']}, max relative diff on {check['n']} test samples "
            f"{check['max_relative_diff']:.2e}, argmax agreement "
            f"{check['argmax_agreement']:.4f})"
        )
    return 0
