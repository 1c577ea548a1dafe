"""Offline data sets for the explorer: a registry of built-in sets and user files.

    from explorer.data import load_dataset, DATASETS, Dataset, DataError
    ds = load_dataset("digits", seed=0)          # or a path to .npz / .csv / an IDX folder

Numpy only: no torch and no UI imports, so loaders run anywhere (workers, tests).
"""

from explorer.data.dataset import Dataset
from explorer.data.errors import DataError
from explorer.data.registry import DATASETS, DataSpec, load_dataset, register

__all__ = ["DATASETS", "DataError", "DataSpec", "Dataset", "load_dataset", "register"]
