"""User data files: .npz (arrays X, y, optional X_test, y_test), .csv (label in the last
column, optional header) or a folder of IDX files (MNIST layout).

Everything that can go wrong with a file becomes a `DataError` naming the file, the
problem and what is accepted; numpy, zipfile and pickle errors never escape raw.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from explorer.data import bounded, idx
from explorer.data.dataset import Dataset, build_dataset, check_features, encode_labels
from explorer.data.errors import DataError
from explorer.data.registry import SPLIT_OPTIONS

ACCEPTED_FILES = (
    ".npz (arrays X, y; optional X_test, y_test), .csv (label in the last column), "
    "or a folder of IDX files"
)
NPZ_ARRAYS = "X and y (required), X_test and y_test (optional, together)"
#: largest .csv read (its parse costs several times its size in memory)
MAX_CSV_BYTES = 128 << 20
#: an .npz may expand to at most this much in all (and 1 GiB per array)
NPZ_BUDGET = bounded.Budget(member=1 << 30, total=2 << 30, members=1000)


def load_file(path: str | os.PathLike, seed: int = 0, **options) -> Dataset:
    """Load a user file or IDX folder as a `Dataset`. Options: val_fraction, test_fraction
    (ignored when the file brings its own test part), and for IDX folders also limit."""
    path = Path(path).expanduser()
    accepted: dict[str, float | None] = dict(SPLIT_OPTIONS)
    with _accepting():
        st = bounded.stat_path(path, DataError, str(path))  # missing, permission, symlink loop
    if stat.S_ISDIR(st.st_mode):
        accepted["limit"] = None
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"{path.name}: unknown option(s) {', '.join(unknown)}; accepted: "
            + ", ".join(f"{k}={v!r}" for k, v in accepted.items())
        )
    opts = {**accepted, **options}
    if stat.S_ISDIR(st.st_mode):
        return idx.load(seed, path=path, name=path.name, **opts)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise DataError(
            f"{path.name}: unknown extension '{suffix or '(none)'}'; accepted: {ACCEPTED_FILES}"
        )
    with _accepting():
        st = bounded.regular_file(path, DataError, path.name)  # no FIFO, device or socket
        if st.st_size == 0:
            raise DataError(f"{path.name}: empty file (0 bytes); accepted: {ACCEPTED_FILES}")
        X, y, X_test, y_test = read_npz(path) if suffix == ".npz" else (*read_csv(path), None, None)
    return arrays_to_dataset(path.name, X, y, seed, X_test=X_test, y_test=y_test, **opts)


@contextmanager
def _accepting():
    """Every file error ends by saying what is accepted."""
    try:
        yield
    except DataError as err:
        if "accepted" in str(err):
            raise
        raise DataError(f"{err}; accepted: {ACCEPTED_FILES}") from None


def arrays_to_dataset(
    source: str,
    X: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
) -> Dataset:
    """Validate user arrays, encode labels to 0..k-1 and split.

    Arrays of shape (n, H, W) or (n, C, H, W) are taken as images: uint8 pixels are divided
    by 255, other images by their largest absolute value when it exceeds 1. Anything else is
    z-scored with train statistics.
    """
    if (X_test is None) != (y_test is None):
        raise DataError(f"{source}: X_test and y_test must come together; accepted: {NPZ_ARRAYS}")
    labels = [y] if y_test is None else [y, y_test]
    encoded, classes = encode_labels(source, *labels)
    y = encoded[0]
    X = np.asarray(X)
    image_shape = None
    if X.ndim in (3, 4):
        image_shape = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
    Xf = check_features(source, X, y)
    Xt = yt = None
    if X_test is not None:
        yt = encoded[1]
        if np.asarray(X_test).shape[1:] != X.shape[1:]:
            raise DataError(
                f"{source}: X_test has examples of shape {np.asarray(X_test).shape[1:]} but X "
                f"has {X.shape[1:]}; accepted: X_test shaped like X"
            )
        Xt = check_features(source, X_test, yt, what="X_test")
    if image_shape is not None:
        scale = 255.0 if X.dtype == np.uint8 else max(1.0, float(np.abs(Xf).max()))
        Xf = Xf / scale
        Xt = None if Xt is None else Xt / scale
    return build_dataset(
        source,
        f"User data {source}",
        Xf,
        y,
        seed,
        val_fraction,
        test_fraction,
        X_test=Xt,
        y_test=yt,
        image_shape=image_shape,
        class_names=classes,
    )


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(X, y, X_test or None, y_test or None) from an .npz file, never unpickling; sizes,
    dtypes and shapes are checked from the zip and .npy headers before anything is read
    (:mod:`explorer.data.bounded`)."""
    arrays = bounded.read_npz(path, path.name, DataError, NPZ_BUDGET, strings=True)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"{path.name}: missing array {' and '.join(repr(k) for k in missing)}; found "
            f"arrays: {', '.join(sorted(arrays))[:200] or 'none'}; accepted: {NPZ_ARRAYS}"
        )
    return arrays["X"], arrays["y"], arrays.get("X_test"), arrays.get("y_test")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from a comma-separated file with the label in the last column. The first row
    is a header if any of its feature cells is not a number."""
    blob = bounded.read_bytes(path, DataError, MAX_CSV_BYTES, path.name)
    try:
        text = blob.decode("utf-8-sig")  # utf-8-sig drops an Excel byte-order mark
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path.name}: not UTF-8 text (byte {err.start}); accepted: a UTF-8 .csv"
        ) from None
    del blob
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as err:
        raise DataError(
            f"{path.name}: not a readable .csv ({err}); accepted: rows of "
            "comma-separated numbers, label last"
        ) from None
    if not rows:
        raise DataError(f"{path.name}: empty file (no rows); accepted: rows of numbers, label last")
    start = 0 if all(_is_number(c) for c in rows[0][:-1]) else 1
    body = rows[start:]
    if not body:
        raise DataError(
            f"{path.name}: only a header, no data rows; accepted: rows of numbers, label last"
        )
    width = len(rows[start])
    if width < 2:
        raise DataError(
            f"{path.name}: rows have {width} column; accepted: at least one feature column and"
            " the label in the last column, comma-separated"
        )
    X = np.empty((len(body), width - 1))
    labels = []
    for i, row in enumerate(body, start=start + 1):
        if len(row) != width:
            raise DataError(
                f"{path.name}: row {i} has {len(row)} columns, expected {width}; accepted: the "
                "same number of comma-separated columns in every row"
            )
        for j, cell in enumerate(row[:-1]):
            try:
                X[i - start - 1, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path.name}: non-numeric feature in row {i}, column {j + 1}; "
                    "accepted: numbers in every column but the last (the label)"
                ) from None
        label = row[-1].strip()
        if not label:
            raise DataError(
                f"{path.name}: row {i} has a blank label; accepted: a class label (an integer "
                "or a name) in the last column of every row"
            )
        labels.append(label)
    # the same rules as .npz labels: numbers must be integers (1.0 is class 1, 0.5 is
    # refused by encode_labels), names are classes; numeric order, not string order
    if all(_is_number(c) for c in labels):
        return X, np.array([float(c) for c in labels])
    return X, np.array(labels)
