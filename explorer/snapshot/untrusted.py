"""Snapshots from someone else (an upload to the page): size-limited, loaded with every
check of :func:`explorer.snapshot.load_snapshot`, and their config made safe to run on
the server before anything is built from it (issue 13).

A snapshot's config names a data set and its options; on the page only registered data
sets are accepted and path options are dropped, so an uploaded file can never make the
server read (or reveal the existence of) a file of the server's. The whole config is
checked (hidden sizes and steps within their caps, method options by name and type)
before a trainer is built. Messages name the upload, never a server path or the file's
contents.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from explorer.config import RunConfig, check_options
from explorer.data.registry import DATASETS, SPLIT_OPTIONS
from explorer.data.upload import check_upload_size, upload_name
from explorer.snapshot.data import SnapshotData
from explorer.snapshot.load import load_snapshot
from explorer.snapshot.schema import SnapshotError

#: largest snapshot upload accepted
MAX_SNAPSHOT_UPLOAD_BYTES = 64 << 20
#: data set options that name files or folders: never taken from an uploaded snapshot
PATH_OPTIONS = ("path",)


def safe_config(config: dict, where: str = "the snapshot") -> dict:
    """The config of an untrusted snapshot, checked whole and made safe for the server.

    The data set must be a registered one (a file path is refused, not followed); path
    options are dropped; other data set options must be the entry's own; every field is
    checked with the caps of :class:`explorer.config.RunConfig` and the method's options
    with :func:`explorer.config.check_options`. Raises SnapshotError.
    """
    if not isinstance(config, dict):
        raise SnapshotError(f"{where}: the saved config is not a JSON object")
    dataset = config.get("dataset")
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise SnapshotError(
            f"{where}: its data set is not a registered one (a file or an "
            f"unknown name); snapshots opened in the page can use: "
            f"{', '.join(DATASETS)}"
        )
    options = config.get("dataset_options") or {}
    if not isinstance(options, dict):
        raise SnapshotError(f"{where}: dataset_options must map names to values")
    accepted = {k for k in DATASETS[dataset].options if k not in PATH_OPTIONS}
    unknown = sorted(str(k)[:40] for k in options if k not in accepted and k not in PATH_OPTIONS)
    if unknown:
        raise SnapshotError(
            f"{where}: unknown option(s) {', '.join(unknown)} for data set "
            f"{dataset}; accepted: {', '.join(sorted(accepted))}"
        )
    safe = {**config, "dataset_options": {k: v for k, v in options.items() if k in accepted}}
    for key, value in safe["dataset_options"].items():
        if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
            raise SnapshotError(f"{where}: data set option {key} must be a number")
        if key in SPLIT_OPTIONS and not (value is not None and 0 <= value < 1):
            raise SnapshotError(f"{where}: data set option {key} must be in [0, 1)")
        if key not in SPLIT_OPTIONS and value is not None and not 0 < value <= 10_000_000:
            raise SnapshotError(f"{where}: data set option {key} must be between 1 and 10,000,000")
    try:
        checked = RunConfig.from_dict(safe)
        check_options(checked)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"{where}: the saved config is not valid: {exc}") from None
    return checked.to_dict()


def load_uploaded_snapshot(
    content: bytes | None, filename: str | None, max_bytes: int = MAX_SNAPSHOT_UPLOAD_BYTES
) -> SnapshotData:
    """An uploaded snapshot (the bytes of a ``.zip``), loaded and checked, its config made
    safe (:func:`safe_config`); raises SnapshotError with a one-line message."""
    name = upload_name(filename, "snapshot.zip")
    content = check_upload_size(content, name, max_bytes, SnapshotError, "snapshot upload")
    with tempfile.TemporaryDirectory(prefix="explorer-snapshot-") as folder:
        path = Path(folder) / "upload.zip"
        path.write_bytes(content)
        try:
            data = load_snapshot(path)
        except SnapshotError as exc:
            raise SnapshotError(str(exc).replace(str(path), name).replace(folder, "")) from None
        data.problems = [p.replace(str(path), name).replace(folder, "") for p in data.problems]
    data.config = safe_config(data.config, name)
    return data
