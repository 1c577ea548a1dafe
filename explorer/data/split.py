"""Seeded, stratified train / validation / test splits.

Stratified so that every class reaches the training part (small classes would otherwise
vanish by chance), with the per-class counts chosen by largest remainders so the part sizes
are exactly round(n * fraction). Same labels and seed -> identical indices.
"""

from __future__ import annotations

import numpy as np

from explorer.data.errors import DataError


def check_fractions(val_fraction: float, test_fraction: float, has_test: bool) -> None:
    """Reject fractions that would leave no training data."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction={val_fraction!r}; accepted: a number in [0, 1)")
    if has_test:
        return
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction={test_fraction!r}; accepted: a number in (0, 1)")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction:g} leaves no training"
            " data; accepted: a sum below 1"
        )


def _allocate(counts: np.ndarray, fraction: float, total: int, caps: np.ndarray) -> np.ndarray:
    """Per-class counts summing to `total` (if caps allow), proportional to `counts`."""
    want = counts * fraction
    take = np.minimum(np.floor(want).astype(np.int64), caps)
    # Hand out the remaining examples to the classes with the largest fractional parts;
    # a stable sort keeps this deterministic without using the random generator.
    order = np.argsort(-(want - np.floor(want)), kind="stable")
    short = total - int(take.sum())
    for c in np.concatenate([order, order]):  # second pass if a cap blocked the first
        if short <= 0:
            break
        if take[c] < caps[c]:
            take[c] += 1
            short -= 1
    return take


def stratified_split(y: np.ndarray, fractions: list[float], seed: int) -> list[np.ndarray]:
    """Split indices 0..len(y)-1 into len(fractions) + 1 parts; part i+1 gets about
    fractions[i] of every class, part 0 (train) the rest and at least one of each class."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    n = len(y)
    classes, y_idx = np.unique(y, return_inverse=True)
    counts = np.bincount(y_idx, minlength=len(classes))
    left = counts - 1  # keep one example of every class for training
    takes = []
    for frac in fractions:
        take = _allocate(counts, frac, int(round(n * frac)), np.maximum(left, 0))
        left = left - take
        takes.append(take)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(y_idx == c))
        start = 0
        for i, take in enumerate(takes):
            parts[i + 1].append(members[start : start + take[c]])
            start += take[c]
        parts[0].append(members[start:])
    return [rng.permutation(np.concatenate(p)).astype(np.int64) for p in parts]


def split_train_val_test(
    y: np.ndarray, seed: int, val_fraction: float, test_fraction: float, has_test: bool
) -> list[np.ndarray]:
    """Index arrays [train, val] (if the test part is given separately) or
    [train, val, test] carved from one pool."""
    check_fractions(val_fraction, test_fraction, has_test)
    if has_test:
        return stratified_split(y, [val_fraction], seed)
    # Test first, then validation, so the test part does not depend on val_fraction.
    train, test, val = stratified_split(y, [test_fraction, val_fraction], seed)
    return [train, val, test]
