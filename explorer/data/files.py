"""User data files: .npz (arrays X, y, optional X_test, y_test), .csv (label in the last
column, optional header) or a folder of IDX files (MNIST layout).

Everything that can go wrong with a file becomes a `DataError` naming the file, the
problem and what is accepted; numpy, zipfile and pickle errors never escape raw.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np

from explorer.data import idx
from explorer.data.dataset import Dataset, build_dataset, check_features, encode_labels
from explorer.data.errors import DataError
from explorer.data.registry import SPLIT_OPTIONS

ACCEPTED_FILES = (
    ".npz (arrays X, y; optional X_test, y_test), .csv (label in the last column), "
    "or a folder of IDX files"
)
NPZ_ARRAYS = "X and y (required), X_test and y_test (optional, together)"


def load_file(path: str | os.PathLike, seed: int = 0, **options) -> Dataset:
    """Load a user file or IDX folder as a `Dataset`. Options: val_fraction, test_fraction
    (ignored when the file brings its own test part), and for IDX folders also limit."""
    path = Path(path).expanduser()
    accepted: dict[str, float | None] = dict(SPLIT_OPTIONS)
    if path.is_dir():
        accepted["limit"] = None
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(
            f"{path.name}: unknown option(s) {', '.join(unknown)}; accepted: "
            + ", ".join(f"{k}={v!r}" for k, v in accepted.items())
        )
    opts = {**accepted, **options}
    if path.is_dir():
        return idx.load(seed, path=path, name=path.name, **opts)
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise DataError(
            f"{path.name}: unknown extension '{suffix or '(none)'}'; accepted: {ACCEPTED_FILES}"
        )
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; accepted: {ACCEPTED_FILES}")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name}: empty file (0 bytes); accepted: {ACCEPTED_FILES}")
    X, y, X_test, y_test = read_npz(path) if suffix == ".npz" else (*read_csv(path), None, None)
    return arrays_to_dataset(path.name, X, y, seed, X_test=X_test, y_test=y_test, **opts)


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


def read_npz(path: Path
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(X, y, X_test or None, y_test or None) from an .npz file, never unpickling."""
    # np.load decides by content, not name: a non-zip file would be read as .npy or tried
    # as a pickle, so check for the zip signature first.
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path.name}: not a valid .npz archive (no zip signature); accepted: a file "
            f"written by np.savez holding {NPZ_ARRAYS}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            found = list(archive.files)
            missing = [k for k in ("X", "y") if k not in found]
            if missing:
                raise DataError(
                    f"{path.name}: missing array {' and '.join(repr(k) for k in missing)}; found "
                    f"arrays: {', '.join(found) or 'none'}; accepted: {NPZ_ARRAYS}"
                )
            test = [archive[k] if k in found else None for k in ("X_test", "y_test")]
            return archive["X"], archive["y"], test[0], test[1]
    except DataError:
        raise
    except ValueError as err:  # object arrays need pickle, which we refuse
        raise DataError(
            f"{path.name}: cannot read an array ({err}); accepted: numeric or string arrays "
            f"saved with np.savez, no Python objects: {NPZ_ARRAYS}"
        ) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise DataError(
            f"{path.name}: not a valid .npz archive ({type(err).__name__}: {err}); accepted: a "
            f"file written by np.savez holding {NPZ_ARRAYS}"
        ) from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from a comma-separated file with the label in the last column. The first row
    is a header if any of its feature cells is not a number."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig drops an Excel byte-order mark
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(
            f"{path.name}: cannot read as text ({err}); accepted: a UTF-8 .csv"
        ) from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
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
                    f"{path.name}: non-numeric feature {cell!r} in row {i}, column {j + 1}; "
                    "accepted: numbers in every column but the last (the label)"
                ) from None
        labels.append(row[-1].strip())
    y = np.array(labels)
    if all(_is_number(c) for c in labels):
        values = y.astype(np.float64)
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            y = values.astype(np.int64)  # numeric order, not string order ("10" after "9")
    return X, y
