"""Bounded reading of untrusted files: regular files only, zip and npz sizes checked from
their headers before anything is decompressed or allocated.

A hostile file may be small and still claim a lot: a zip member that inflates 1000-fold
(a zip bomb), an ``.npy`` header whose shape or dtype promises gigabytes, a FIFO or
``/dev/zero`` posing as a file. Everything here refuses such input from metadata alone
(``os.stat``, zip central directory, ``.npy`` headers), so memory stays bounded by the
budgets below whatever the file says. Errors are ``ValueError`` subclasses chosen by the
caller (``DataError`` for data files, ``SnapshotError`` for snapshots) and never quote the
file's contents.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: largest zip member (uncompressed) and largest total that one archive may expand to
MEMBER_BYTES = 1 << 30
TOTAL_BYTES = 2 << 30
#: a member bigger than this must not inflate more than ``MAX_RATIO`` times its stored size
RATIO_FLOOR = 32 << 20
MAX_RATIO = 200
#: at most this many members in one archive
MAX_MEMBERS = 10_000


@dataclass(frozen=True)
class Budget:
    """Limits for one archive (bytes after decompression)."""

    member: int = MEMBER_BYTES
    total: int = TOTAL_BYTES
    members: int = MAX_MEMBERS


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def os_problem(err: OSError) -> str:
    """A short description of why a path cannot be read (no file contents)."""
    if isinstance(err, PermissionError) or err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if isinstance(err, FileNotFoundError) or err.errno == errno.ENOENT:
        return "no such file or folder"
    if err.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if err.errno == errno.ENOTDIR:
        return "a part of the path is not a folder"
    return err.strerror or type(err).__name__


def stat_path(
    path: str | os.PathLike, error: type[ValueError], where: str | None = None
) -> os.stat_result:
    """``os.stat`` (following links) with permission, loop and missing-file messages."""
    try:
        return os.stat(path)
    except OSError as err:
        raise error(f"{where or path}: {os_problem(err)}") from None


def regular_file(
    path: str | os.PathLike,
    error: type[ValueError],
    where: str | None = None,
    max_bytes: int | None = None,
) -> os.stat_result:
    """Check that ``path`` is a regular file (not a FIFO, device, socket or folder) of at
    most ``max_bytes``; returns its stat."""
    st = stat_path(path, error, where)
    where = where or str(path)
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{where}: is {_kind(st.st_mode)}; accepted: a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise error(f"{where}: {st.st_size} bytes, more than the limit of {max_bytes} bytes")
    return st


def open_regular(
    path: str | os.PathLike,
    error: type[ValueError],
    where: str | None = None,
    max_bytes: int | None = None,
) -> io.BufferedReader:
    """Open a regular file for reading, never blocking on a FIFO: checked with ``os.stat``
    first, opened with ``O_NONBLOCK`` and checked again on the descriptor (the path may
    have been swapped in between)."""
    where = where or str(path)
    regular_file(path, error, where, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise error(f"{where}: {os_problem(err)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{where}: is {_kind(st.st_mode)}; accepted: a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise error(f"{where}: {st.st_size} bytes, more than the limit of {max_bytes} bytes")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: str | os.PathLike, error: type[ValueError], max_bytes: int, where: str | None = None
) -> bytes:
    """The whole content of a regular file of at most ``max_bytes``."""
    where = where or str(path)
    with open_regular(path, error, where, max_bytes) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as err:
            raise error(f"{where}: {os_problem(err)}") from None
    if len(data) > max_bytes:
        raise error(f"{where}: more than the limit of {max_bytes} bytes")
    return data


def check_zip(
    zf: zipfile.ZipFile, where: str, error: type[ValueError], budget: Budget = Budget(), names=None
) -> list[zipfile.ZipInfo]:
    """The members of ``zf`` (only those in ``names`` if given), refused from the central
    directory alone when one is too big, inflates suspiciously or the total is over budget.

    ``zipfile`` never returns more than a member's declared size, so checking the declared
    sizes bounds what reading can allocate."""
    infos = zf.infolist()
    if len(infos) > budget.members:
        raise error(
            f"{where}: {len(infos)} archive members, more than the limit of {budget.members}"
        )
    chosen = [i for i in infos if names is None or i.filename in names]
    total = 0
    for info in chosen:
        size = info.file_size
        if size > budget.member:
            raise error(
                f"{where}: member {info.filename!r} expands to {size} bytes, more than "
                f"the limit of {budget.member} bytes per member"
            )
        if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
            ratio = size // max(info.compress_size, 1)
            raise error(
                f"{where}: member {info.filename!r} expands {ratio}-fold "
                f"({info.compress_size} -> {size} bytes), more than the "
                f"{MAX_RATIO}:1 accepted (a zip bomb?)"
            )
        total += size
        if total > budget.total:
            raise error(
                f"{where}: members expand to more than the limit of {budget.total} bytes in all"
            )
    return chosen


#: dtype kinds of plain numbers: bool, signed and unsigned integers, floats
NUMERIC_KINDS = "biuf"


def check_dtype(
    dtype: np.dtype, where: str, error: type[ValueError], strings: bool = False
) -> None:
    """Plain numbers of at most 8 bytes (and, with ``strings``, fixed-width text)."""
    if (
        dtype.kind in NUMERIC_KINDS
        and dtype.itemsize <= 8
        and not dtype.fields
        and not dtype.subdtype
    ):
        return
    if strings and dtype.kind in "US" and not dtype.fields:
        return
    accepted = "bool, integer or float of at most 8 bytes" + (", or text" if strings else "")
    if dtype.kind == "O":
        raise error(
            f"{where}: holds Python objects (dtype object), which would need pickle; "
            f"accepted: {accepted}, no Python objects"
        )
    raise error(f"{where}: arrays of dtype {dtype.str!r} are not accepted; accepted: {accepted}")


def _npy_header(f, where: str, error: type[ValueError]) -> tuple[tuple, bool, np.dtype]:
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f, max_header_size=10_000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(f, max_header_size=10_000)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile) as err:
        raise error(f"{where}: not a valid .npy array header ({type(err).__name__})") from None
    return shape, fortran, dtype


def read_npz(
    source: str | os.PathLike | bytes,
    where: str,
    error: type[ValueError],
    budget: Budget = Budget(),
    strings=(),
    names=None,
) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (a path or bytes), never unpickling, every size checked first.

    Each member's ``.npy`` header is read before its data: its dtype must be plain numbers
    (text too for the array names in ``strings``, or any name when ``strings`` is True) and
    the bytes it promises must fit in the member's declared size, so a header cannot make
    the reader allocate more than the budget. ``names`` restricts which arrays are read.
    """
    fh = (
        io.BytesIO(source)
        if isinstance(source, (bytes, bytearray))
        else open_regular(source, error, where)
    )
    with fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            raise error(f"{where}: not a valid .npz (zip) archive ({type(err).__name__})") from None
        with zf:
            return _read_members(zf, where, error, budget, strings, names)


def _read_members(zf, where, error, budget, strings, names) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    wanted = None if names is None else {f"{n}.npy" for n in names}
    for info in check_zip(zf, where, error, budget, wanted):
        if not info.filename.endswith(".npy"):
            continue
        name = info.filename[:-4]
        at = f"{where}: array {name!r}"
        try:
            with zf.open(info) as f:
                shape, fortran, dtype = _npy_header(f, at, error)
                text_ok = strings if isinstance(strings, bool) else name in strings
                check_dtype(dtype, at, error, strings=text_ok)
                count = 1
                for n in shape:
                    if not isinstance(n, int) or n < 0:
                        raise error(f"{at}: bad shape in its header")
                    count *= n
                if count * dtype.itemsize > info.file_size:
                    raise error(
                        f"{at}: its header promises {count * dtype.itemsize} "
                        f"bytes but the member holds {info.file_size}"
                    )
                flat = np.empty(count, dtype=dtype)
                view = memoryview(flat.view(np.uint8).data)  # the array's own buffer
                got = 0
                while got < len(view):
                    n = f.readinto(view[got:])
                    if not n:
                        raise error(f"{at}: truncated ({got} of {len(view)} bytes)")
                    got += n
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            RuntimeError,
            NotImplementedError,
            ValueError,
        ) as err:
            if isinstance(err, error):
                raise
            raise error(f"{at}: cannot be read ({type(err).__name__})") from None
        out[name] = flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
    return out


def is_path_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves (links followed) inside ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
