"""MNIST-1D (Greydanus 2020): ten 1-D templates of length 12, padded, sheared, translated
and noised into signals of length 40 -- a small benchmark on which MLPs and CNNs differ.

Generated locally with `mnist1d.data.make_dataset(get_dataset_args())`. We never call
`mnist1d.data.get_dataset`, which downloads a pickle from GitHub and writes it to the
working directory.
"""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np

from explorer.data.dataset import Dataset, build_dataset
from explorer.data.errors import DataError

DESCRIPTION = "MNIST-1D: 1-D signals of length 40 from 10 digit templates (Greydanus 2020)"


@lru_cache(maxsize=8)
def generate(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, x_test, y_test) as made by mnist1d with this seed; cached because it takes
    about 2 s for the default 5,000 signals. Arrays are read-only so callers cannot
    corrupt the cache."""
    from mnist1d.data import get_dataset_args, make_dataset  # imports matplotlib: slow

    args = get_dataset_args()
    args.seed = seed
    args.num_samples = n
    # make_dataset seeds the *global* numpy and random generators; put them back so that
    # loading data does not silently change the randomness of the rest of the program.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = (d["x"], d["y"].astype(np.int64), d["x_test"], d["y_test"].astype(np.int64))
    for a in out:
        a.flags.writeable = False
    return out


def load(seed: int, n: int, val_fraction: float, test_fraction: float) -> Dataset:
    """Train/test as mnist1d splits them (80/20); validation carved from train.
    `test_fraction` is unused because mnist1d brings its own test part."""
    if not isinstance(n, int | np.integer) or n < 100:
        raise DataError(f"data set 'mnist1d': n={n!r}; accepted: an integer >= 100")
    x, y, x_test, y_test = generate(int(seed), int(n))
    return build_dataset(
        "mnist1d",
        DESCRIPTION,
        x,
        y,
        seed,
        val_fraction,
        test_fraction,
        X_test=x_test,
        y_test=y_test,
    )
