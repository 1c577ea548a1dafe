"""Summary output of a run: ``session.json`` (summary) and ``history.npz`` (arrays).

``run --out DIR`` now writes a full snapshot (:mod:`explorer.snapshot`), which holds these two
files too (the snapshot's ``history.npz`` comes from ``history_arrays`` below); ``write_run``
stays for callers that want only the summary.

Arrays are stored as plain numeric/unicode arrays so they load with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from explorer.config import SCHEMA_VERSION, RunConfig
from explorer.history import History


def history_arrays(history: History) -> dict[str, np.ndarray]:
    """Flatten every record kind into ``"kind.column"`` arrays."""
    return {f"{kind}.{col}": arr for kind in history.kinds()
            for col, arr in history.columns(kind).items()}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a crash leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run(out: str | Path, config: RunConfig, summary: dict, history: History,
              knobs: dict) -> Path:
    out = Path(out)
    events = history.rows.get("event", [])
    session = {
        "schema_version": SCHEMA_VERSION,
        "config": config.to_dict(),
        "knobs": knobs,
        "summary": summary,
        "unit_events": {"born": sum(e["event"] == "born" for e in events),
                        "died": sum(e["event"] == "died" for e in events)},
        "history_kinds": history.kinds(),
    }
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **history_arrays(history))  # type: ignore[arg-type]  # numpy stub
    atomic_write_bytes(out / "history.npz", buf.getvalue())
    atomic_write_bytes(out / "session.json", json.dumps(session, indent=2).encode())
    return out
