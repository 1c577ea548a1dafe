"""A data file uploaded through the page: size-limited, parsed from a private temporary
copy, errors naming the upload (never the server's paths, never the file's contents).

The page calls :func:`load_upload` off its event loop; everything it raises is a one-line
``DataError``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from explorer.data.dataset import Dataset
from explorer.data.errors import DataError
from explorer.data.files import load_file

#: largest upload accepted (the page's websocket limit is set above it)
MAX_UPLOAD_BYTES = 64 << 20
ACCEPTED = ".npz (arrays X, y) or .csv (last column = label)"


def upload_name(filename: str | None, default: str) -> str:
    """The uploaded file's base name, reduced to safe characters (it appears in messages)."""
    name = Path(str(filename or default).replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", name)[:80]
    return name or default


def check_upload_size(
    content: bytes | None,
    name: str,
    max_bytes: int,
    error: type[ValueError] = DataError,
    what: str = "upload",
) -> bytes:
    """The content, refused when missing, empty or larger than ``max_bytes``."""
    if content is None:
        raise error(f"{name}: nothing was received; choose the file again")
    if len(content) == 0:
        raise error(f"{name}: empty {what} (0 bytes); choose a non-empty file")
    if len(content) > max_bytes:
        raise error(
            f"{name}: {len(content) / 2**20:.1f} MB is more than the {what} limit of "
            f"{max_bytes / 2**20:.0f} MB"
        )
    return bytes(content)


def load_upload(
    content: bytes | None, filename: str | None, seed: int = 0, max_bytes: int = MAX_UPLOAD_BYTES
) -> Dataset:
    """A `Dataset` from an uploaded .npz/.csv, with every check of :func:`load_file` plus
    a size limit; the data set is named after the upload."""
    name = upload_name(filename, "upload")
    suffix = Path(name).suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise DataError(f"{name}: accepted files are {ACCEPTED}")
    content = check_upload_size(content, name, max_bytes)
    with tempfile.TemporaryDirectory(prefix="explorer-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            return load_file(path, seed=seed)
        except DataError as exc:
            raise DataError(str(exc).replace(str(path), name).replace(folder, "")) from None
