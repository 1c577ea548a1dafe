"""The UCI optical-recognition digits bundled with scikit-learn (offline).

1,797 grey-level images of 8x8 pixels with values 0..16, ten classes (Alpaydin & Kaynak
1998), the copy bundled with scikit-learn as `sklearn.datasets.load_digits`.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from explorer.data.dataset import Dataset, build_dataset

DESCRIPTION = "Handwritten digits, 8x8 pixels, 10 classes, 1,797 images (scikit-learn, offline)"


def _read_bundled_csv() -> np.ndarray | None:
    """The digits as scikit-learn ships them (sklearn/datasets/data/digits.csv.gz: 64 pixel
    columns, then the label), read without importing sklearn, which takes seconds."""
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or spec.origin is None:
        return None
    csv_path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    try:
        data = np.loadtxt(csv_path, delimiter=",")
    except (OSError, ValueError):
        return None
    return data if data.shape == (1797, 65) else None


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    data = _read_bundled_csv()
    if data is None:  # the file moved in some sklearn version: use the public loader
        from sklearn.datasets import load_digits

        bunch = load_digits()
        data = np.column_stack([bunch.data, bunch.target])
    X = data[:, :64] / 16.0  # pixel values are counts 0..16 of a 4x4 block
    y = data[:, 64].astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load(seed: int, val_fraction: float, test_fraction: float) -> Dataset:
    X, y = _digits()
    return build_dataset(
        "digits", DESCRIPTION, X, y, seed, val_fraction, test_fraction, image_shape=(1, 8, 8)
    )
