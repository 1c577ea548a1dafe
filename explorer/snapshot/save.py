"""Serialising a captured snapshot and writing it atomically (the slow half of saving).

A folder is written under a temporary name beside the target and renamed into place; a
``.zip`` is written to a temporary file and ``os.replace``-d over the target. A crash or an
error mid-save therefore leaves the previous snapshot as it was. (Replacing an existing
folder takes two renames, old folder aside then new folder in, because POSIX cannot rename
over a non-empty folder; only a crash between those two leaves the old one at
``.NAME.*.old`` instead of ``NAME``. Use a ``.zip`` path where that matters.)
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import safetensors.torch

from explorer.atomic import atomic_write, default_mode
from explorer.history import history_arrays
from explorer.snapshot.data import SnapshotData
from explorer.snapshot.landscape import encode_landscape
from explorer.snapshot.schema import (
    FORMAT,
    MANIFEST,
    SCHEMA_VERSION,
    SnapshotError,
    dumps,
    encode_records,
    encode_tree,
)

#: trainer state entries that are plain numbers and lists (they go to session.json)
TRAINER_SCALARS = (
    "step_count",
    "cost",
    "cursor",
    "val_history",
    "val_error_history",
    "phase_time",
    "elapsed",
    "knob_values_seen",
    "next_unit_id",
    "sizes",
)
#: trainer entries that snapshots written before they existed lack (loading leaves them out)
OPTIONAL_TRAINER_SCALARS = ("val_error_history",)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle
    return buf.getvalue()


def encode(data: SnapshotData) -> dict[str, bytes]:
    """Every file of the snapshot as bytes (manifest excluded)."""
    t = data.trainer
    history = data.history()
    session = {
        "schema_version": SCHEMA_VERSION,
        "format": FORMAT,
        "created": data.created,
        "config": encode_tree(data.config, None, "config"),
        "knobs": encode_tree(t["knobs"], None, "knobs"),
        "summary": encode_tree(data.summary, None, "summary"),
        "unit_events": data.unit_events(),
        "history_kinds": history.kinds(),
        "trainer": encode_tree({k: t[k] for k in TRAINER_SCALARS}, None, "trainer"),
    }
    tensors: dict = {}
    state = {
        name: encode_tree(t[name], tensors, name)
        for name in ("optimizer", "method", "rng", "order")
    }
    units = {}
    for layer, (ids, born) in enumerate(zip(t["unit_ids"], t["birth_step"], strict=True)):
        units[f"unit_ids.{layer}"] = np.asarray(ids, dtype=np.int64)
        units[f"birth_step.{layer}"] = np.asarray(born, dtype=np.int64)
    units.update({f"table.{k}": np.asarray(v) for k, v in data.unit_table.items()})
    records: dict[str, np.ndarray] = {}
    spec = {
        "limits": data.history_limits,
        "kinds": [
            {"kind": kind, **encode_records(rows, f"k{i}.", records)}
            for i, (kind, rows) in enumerate(sorted(data.history_rows.items()))
        ],
        "units": encode_records(data.history_tables, "units.", records),
    }
    return {
        **encode_landscape(data.landscape),
        "session.json": dumps(session),
        "state.json": dumps(state),
        "state.safetensors": safetensors.torch.save(tensors),
        "weights.safetensors": safetensors.torch.save(dict(t["model"])),
        "units.npz": _npz(units),
        "records.json": dumps(spec),
        "records.npz": _npz(records),
        "history.npz": _npz(history_arrays(history)),
    }


def manifest_for(files: dict[str, bytes], created: str = "") -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "format": FORMAT,
        "created": created,
        "files": {
            name: {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
            for name, blob in sorted(files.items())
        },
    }


def write(data: SnapshotData, path: str | Path) -> Path:
    """Write a snapshot to ``path``: a ``.zip`` file, or else a folder. Returns the path.

    An existing snapshot at ``path`` is replaced only once the new one is complete. A folder
    that exists, is not empty and holds no snapshot is refused rather than overwritten.
    """
    path = Path(path)
    files = encode(data)
    files[MANIFEST] = dumps(manifest_for(files, data.created))
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_debris(path)
    if path.suffix.lower() == ".zip":
        _write_zip(path, files)
    else:
        _write_folder(path, files)
    return path


#: a temporary file of a write to the same target older than this was left by a write that
#: was killed (kill -9, power loss): the next write removes it
DEBRIS_AGE_S = 600


def remove_debris(path: Path, age_s: float = DEBRIS_AGE_S) -> list[Path]:
    """Remove ``.NAME.*.tmp`` / ``.NAME.*.old`` beside ``path`` left by interrupted writes
    (older than ``age_s``, so a write in progress elsewhere is left alone)."""
    removed = []
    now = time.time()
    for p in path.parent.glob(f".{glob.escape(path.name)}.*"):
        if p.suffix not in (".tmp", ".old"):
            continue
        try:
            if now - p.lstat().st_mtime < age_s:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed


_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()


def write_in_background(data: SnapshotData, path: str | Path) -> Future:
    """``write`` on one shared background thread, so a session's saves never overlap and land
    in the order they were asked for; the Future gives the path or the error."""
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot")
        return _background.submit(write, data, path)


def _write_file(path: Path, blob: bytes) -> None:
    with open(path, "wb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    if path.exists() and not path.is_file():
        raise SnapshotError(f"{path}: exists and is not a file; a .zip snapshot needs a file path")

    def write_zip(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w") as zf:
            for name, blob in files.items():
                # JSON compresses well; safetensors and npz (already deflated) do not
                method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                zf.writestr(name, blob, compress_type=method)

    atomic_write(path, write_zip)


def _write_folder(path: Path, files: dict[str, bytes]) -> None:
    if path.exists():
        if not path.is_dir():
            raise SnapshotError(
                f"{path}: exists and is not a folder; give a new folder, an "
                "existing snapshot folder, or a path ending in .zip"
            )
        if any(path.iterdir()) and not (path / MANIFEST).is_file():
            raise SnapshotError(
                f"{path}: folder is not empty and holds no snapshot "
                f"({MANIFEST} missing); refusing to replace it. Give a new or "
                "empty folder, or a path ending in .zip"
            )
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        for name, blob in files.items():
            _write_file(tmp / name, blob)
        os.chmod(tmp, default_mode(folder=True))
        if not path.exists():
            os.rename(tmp, path)
            return
        old = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.old"
        os.rename(path, old)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.rename(old, path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
