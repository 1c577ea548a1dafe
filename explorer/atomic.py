"""Writing a file all at once: the one atomic-write helper of the package.

The content goes to a temporary file in the target's folder, is flushed to disk, gets the
mode a plain ``open()`` would give, and is then ``os.replace``-d over the target. A crash or
an error mid-write leaves the previous file as it was and no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def default_mode(folder: bool) -> int:
    """The mode a plain open()/mkdir() would give (mkstemp/mkdtemp make private ones)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def atomic_write(path: str | Path, content: bytes | Callable[[BinaryIO], object]) -> Path:
    """Replace ``path`` by ``content`` (bytes, or a function writing to the open file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, bytes):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, default_mode(folder=False))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
