"""A teacher-student task whose right width is known: labels come from a random
one-hidden-layer ReLU network ("teacher") of a given width, so a student MLP of that width
can fit them exactly (Gardner & Derrida 1989; Saad & Solla 1995 for the teacher-student
setting). A network that learns its own size should end up near `width` hidden units
(fewer if some teacher units are dead or redundant).
"""

from __future__ import annotations

import numpy as np

from explorer.data.dataset import Dataset, build_dataset
from explorer.data.errors import DataError

DESCRIPTION = (
    "Teacher MLP: Gaussian inputs labelled by a random ReLU network of known width "
    "(default 16 hidden units), so the right width is known"
)


def teacher_labels(X: np.ndarray, width: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """argmax of relu(X W1 + b1) W2 + b2 with He-scaled Gaussian weights."""
    dim = X.shape[1]
    W1 = rng.normal(0, np.sqrt(2 / dim), (dim, width))
    b1 = rng.normal(0, 0.1, width)
    W2 = rng.normal(0, np.sqrt(2 / width), (width, classes))
    b2 = rng.normal(0, 0.1, classes)
    return (np.maximum(X @ W1 + b1, 0) @ W2 + b2).argmax(axis=1).astype(np.int64)


def load(
    seed: int,
    n: int,
    dim: int,
    width: int,
    classes: int,
    teacher_seed: int,
    val_fraction: float,
    test_fraction: float,
) -> Dataset:
    """`seed` draws the inputs and the split; `teacher_seed` the teacher, fixed by default
    so that every run faces the same function. A teacher whose random weights starve a
    class is redrawn (deterministically)."""
    checks = (("n", n, 20), ("dim", dim, 1), ("width", width, 1), ("classes", classes, 2))
    for key, value, low in checks:
        if not isinstance(value, int | np.integer) or value < low:
            raise DataError(f"data set 'teacher': {key}={value!r}; accepted: an integer >= {low}")
    # Choose the teacher on a reference sample of its own, so it does not depend on `seed`.
    X_ref = np.random.default_rng([teacher_seed, 4]).normal(size=(4000, dim))
    for attempt in range(100):
        teacher_rng = [teacher_seed, attempt]
        counts = np.bincount(
            teacher_labels(X_ref, width, classes, np.random.default_rng(teacher_rng)),
            minlength=classes,
        )
        if counts.min() >= len(X_ref) / (4 * classes):  # each class >= 1/4 of a fair share
            break
    else:
        raise DataError(
            f"data set 'teacher': no teacher with {classes} balanced classes found in 100 draws;"
            " accepted: fewer classes or a larger width"
        )
    X = np.random.default_rng([seed, 3]).normal(size=(n, dim))
    y = teacher_labels(X, width, classes, np.random.default_rng(teacher_rng))
    missing = np.flatnonzero(np.bincount(y, minlength=classes) < 2)
    if len(missing):
        raise DataError(
            f"data set 'teacher': n={n} examples leave class(es) {missing.tolist()} with fewer "
            "than 2 examples; accepted: a larger n"
        )
    return build_dataset(
        "teacher",
        f"Teacher MLP: {dim}-D Gaussian inputs labelled by a random ReLU network with {width} "
        f"hidden units and {classes} classes, so the right width is known",
        X,
        y,
        seed,
        val_fraction,
        test_fraction,
    )
