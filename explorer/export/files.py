"""What every export shares: its error, where a file may go, and no debris when it fails."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path


class ExportError(ValueError):
    """An export cannot be made; the message says why and what is accepted."""


#: record kinds name the table files
KIND_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it resolves inside ``folder`` (links followed)."""
    path = folder / name
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise ExportError(f"{name[:60]!r} would be written outside {folder}; refused") from None
    return path


@contextmanager
def cleanup_on_failure(folder: Path):
    """Yield a list to which the caller adds each path before writing it; if anything
    fails, those files are removed, and ``folder`` too when this export created it."""
    new_folders = []  # the folders this export will make, innermost first
    for p in [folder, *folder.parents]:
        if p.exists() or p.is_symlink():
            break
        new_folders.append(p)
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        for p in new_folders:
            try:
                p.rmdir()
            except OSError:
                break
        raise
