"""Output targets of the command line, checked before any work is done: a bad ``--out`` or
``--export-model`` path fails at once instead of throwing a finished training away."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.data.bounded import os_problem


def check_target(path: str | None, flag: str, kind: str) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    ``kind`` is "snapshot" (a ``.zip`` file, or a new, empty or snapshot folder), "outdir"
    (a folder, new or existing) or "file". Nothing is created: the nearest existing
    ancestor must be a writable folder."""
    if not path:
        return
    target = Path(path).expanduser()
    is_file = kind == "file" or (kind == "snapshot" and target.suffix.lower() == ".zip")
    try:
        if target.exists() or target.is_symlink():
            if is_file and not target.is_file():
                raise ValueError(
                    f"{flag} {target}: exists and is not a file"
                    + ("; a .zip snapshot needs a file path" if kind == "snapshot" else "")
                )
            if not is_file and not target.is_dir():
                raise ValueError(
                    f"{flag} {target}: exists and is not a folder; give a new "
                    "or empty folder" + (" or a path ending in .zip" if kind == "snapshot" else "")
                )
            if (
                kind == "snapshot"
                and not is_file
                and any(target.iterdir())
                and not (kind == "snapshot" and (target / "manifest.json").is_file())
            ):
                raise ValueError(
                    f"{flag} {target}: folder is not empty"
                    + (" and holds no snapshot" if kind == "snapshot" else "")
                    + "; refusing to replace it. Give a new or empty folder"
                )
            where = target if target.is_dir() else target.parent
        else:
            where = target.parent
            while not where.exists() and where != where.parent:
                where = where.parent
            if not where.is_dir():
                raise ValueError(f"{flag} {target}: {where} is not a folder")
        if not os.access(where, os.W_OK | os.X_OK):
            raise ValueError(f"{flag} {target}: permission denied (cannot write in {where})")
    except OSError as err:
        raise ValueError(f"{flag} {target}: {os_problem(err)}") from None
