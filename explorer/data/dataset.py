"""The `Dataset` record every loader returns, its error type, and the checks and scaling
shared by all loaders.

Convention: X is float32 of shape (n, d) (images flattened row-major from (C, H, W)),
y is int64 of shape (n,) with classes numbered 0..k-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.data.errors import DataError
from explorer.data.split import split_train_val_test


@dataclass(frozen=True, eq=False)  # eq=False: comparing numpy arrays with == is ambiguous
class Dataset:
    """A classification data set split into train / validation / test parts."""

    name: str
    description: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def summary(self) -> str:
        kind = (
            "x".join(map(str, self.image_shape)) + " images"
            if self.image_shape
            else (f"{self.n_features} features")
        )
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} val / "
            f"{len(self.y_test)} test, {kind}, {self.n_classes} classes"
        )


def encode_labels(source: str, *label_arrays: np.ndarray) -> tuple[list[np.ndarray], tuple]:
    """Map labels of any type (ints, strings, integral floats) to 0..k-1, jointly over all
    arrays so train and test agree. Returns the encoded arrays and the sorted originals."""
    arrays = [np.asarray(a) for a in label_arrays]
    for a in arrays:
        if a.ndim == 2 and a.shape[1] == 1:
            continue
        if a.ndim != 1:
            raise DataError(
                f"{source}: labels have shape {a.shape}; accepted: a 1-D array of class labels "
                "(ints or strings), one per example"
            )
    arrays = [a.reshape(-1) for a in arrays]
    if any(a.dtype.kind == "f" for a in arrays):
        joined = np.concatenate([a.astype(np.float64) for a in arrays])
        if not np.all(np.isfinite(joined)) or not np.all(joined == np.round(joined)):
            raise DataError(
                f"{source}: labels are non-integral or non-finite floats; accepted: integer or "
                "string class labels"
            )
        arrays = [a.astype(np.int64) for a in arrays]
    if any(a.dtype.kind in "US" for a in arrays):
        arrays = [a.astype(str) for a in arrays]
    elif not all(a.dtype.kind in "iub" for a in arrays):
        raise DataError(
            f"{source}: labels have dtype {arrays[0].dtype}; accepted: integer or string labels"
        )
    classes, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    if len(classes) < 2:
        # the label itself is not quoted: messages never repeat a file's contents
        found = "one" if len(classes) else "no"
        raise DataError(
            f"{source}: only a single class ({found} distinct label) in the labels; accepted: "
            "at least 2 classes"
        )
    out, start = [], 0
    for a in arrays:
        out.append(inverse[start : start + len(a)].astype(np.int64))
        start += len(a)
    return out, tuple(str(c) for c in classes)


def check_features(source: str, X: np.ndarray, y: np.ndarray, what: str = "X") -> np.ndarray:
    """Validate one feature array against its labels and flatten it to (n, d) float64."""
    X = np.asarray(X)
    if X.dtype.kind not in "iufb":
        raise DataError(
            f"{source}: {what} has dtype {X.dtype}; accepted: a numeric array (ints or floats)"
        )
    if X.ndim < 2:
        raise DataError(
            f"{source}: {what} has shape {X.shape}; accepted: (n_examples, n_features) or "
            "(n_examples, H, W) / (n_examples, C, H, W) images"
        )
    if len(X) == 0:
        raise DataError(f"{source}: {what} is empty (0 examples); accepted: at least 2 examples")
    if len(X) != len(np.asarray(y).reshape(len(y), -1)):
        raise DataError(
            f"{source}: {what} has {len(X)} rows but its labels have {len(y)}; accepted: one "
            "label per example (X and y of the same length)"
        )
    X = X.reshape(len(X), -1).astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(X[row, col]) else "inf"
        raise DataError(
            f"{source}: {what} contains {int(bad.sum())} NaN or inf values (first: {kind} at "
            f"row {row}, column {col}); accepted: finite numbers only"
        )
    return X


def _check_scaled(name: str, mean: np.ndarray, std: np.ndarray) -> None:
    """Standardising overflows when features are near the float64 limit: say so here, where
    the data is at fault, rather than let a NaN loss blame the learning rate later."""
    bad = ~(np.isfinite(mean) & np.isfinite(std))
    if bad.any():
        col = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{name}: feature column {col} overflows when standardised (values too large for "
            f"float64 arithmetic; {int(bad.sum())} column(s)); accepted: features well within "
            "1e150, rescale the data"
        )


def build_dataset(
    name: str,
    description: str,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    image_shape: tuple[int, int, int] | None = None,
    class_names: tuple[str, ...] = (),
    standardize: bool = True,
) -> Dataset:
    """Split (X, y) and scale the features.

    Images are expected already in [0, 1] and are left alone, since per-pixel z-scoring
    would blow up always-black border pixels; other data are z-scored per feature with
    TRAIN statistics only, so nothing about validation or test leaks into the inputs.
    """
    parts = split_train_val_test(y, seed, val_fraction, test_fraction, y_test is not None)
    train, val = parts[0], parts[1]
    n_test = len(parts[2]) if y_test is None else len(y_test)
    for part, size, fraction in (
        ("validation", len(val), val_fraction),
        ("test", n_test, 1.0 if y_test is not None else test_fraction),
    ):
        if size == 0 and fraction > 0:
            raise DataError(
                f"{name}: {len(y)} examples leave no {part} examples at val_fraction="
                f"{val_fraction:g}, test_fraction={test_fraction:g}; accepted: enough examples "
                "for every part (a few per class)"
            )
    Xtr, Xva = X[train], X[val]
    ytr, yva = y[train], y[val]
    if y_test is None:
        Xte, yte = X[parts[2]], y[parts[2]]
    else:
        Xte, yte = X_test, y_test
    if standardize and image_shape is None:
        with np.errstate(over="ignore", invalid="ignore"):
            mean = Xtr.mean(axis=0)
            std = Xtr.std(axis=0)
            std[std == 0] = 1.0  # constant features: centre them but do not divide by zero
            Xtr, Xva, Xte = ((a - mean) / std for a in (Xtr, Xva, Xte))
        _check_scaled(name, mean, std)
    for part, a in (("train", Xtr), ("validation", Xva), ("test", Xte)):
        if a.size and np.abs(a).max() > np.finfo(np.float32).max:
            raise DataError(
                f"{name}: {part} features exceed the float32 range once scaled; "
                "accepted: values within about 1e38"
            )
    n_classes = int(max(y.max(), yte.max() if len(yte) else 0)) + 1
    return Dataset(
        name=name,
        description=description,
        X_train=np.ascontiguousarray(Xtr, dtype=np.float32),
        y_train=np.ascontiguousarray(ytr, dtype=np.int64),
        X_val=np.ascontiguousarray(Xva, dtype=np.float32),
        y_val=np.ascontiguousarray(yva, dtype=np.int64),
        X_test=np.ascontiguousarray(Xte, dtype=np.float32),
        y_test=np.ascontiguousarray(yte, dtype=np.int64),
        n_classes=n_classes,
        image_shape=image_shape,
        class_names=class_names or tuple(str(i) for i in range(n_classes)),
    )
