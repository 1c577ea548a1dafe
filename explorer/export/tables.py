"""History tables: one CSV or Parquet file per record kind."""

from __future__ import annotations

from pathlib import Path

from explorer.export.files import KIND_NAME, ExportError, cleanup_on_failure, inside
from explorer.history import History

TABLE_FORMATS = ("csv", "parquet")


def export_tables(history: History, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """One file per record kind (``step.csv``, ``event.csv``, ``units.csv``, ...)."""
    if fmt not in TABLE_FORMATS:
        raise ExportError(f"unknown table format '{fmt}'; accepted: {', '.join(TABLE_FORMATS)}")
    out = Path(out_dir)
    for kind in history.kinds():  # a kind names a file: plain names only, checked first
        if not isinstance(kind, str) or not KIND_NAME.match(kind):
            raise ExportError(
                f"record kind {str(kind)[:40]!r} is not a plain name "
                "(^[a-z_][a-z0-9_]*$); nothing was written"
            )
    with cleanup_on_failure(out) as written:
        out.mkdir(parents=True, exist_ok=True)
        for kind in history.kinds():
            path = inside(out, f"{kind}.{fmt}")
            frame = history.frame(kind)
            written.append(path)
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                try:
                    frame.to_parquet(path, index=False)
                except ImportError as exc:
                    raise ExportError(
                        f"Parquet export needs pyarrow ({exc}); use --csv or `pip install pyarrow`"
                    ) from None
        return list(written)
