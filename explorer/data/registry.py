"""The registry of built-in data sets and `load_dataset`, the one entry point.

A registry entry is a `DataSpec`: a name, a one-line description for the UI, the options
it accepts with their defaults, and a loader `(seed, **options) -> Dataset`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.data.dataset import Dataset
from explorer.data.errors import DataError

# Options every entry accepts (each loader passes them on to `build_dataset`).
SPLIT_OPTIONS = {"val_fraction": 0.15, "test_fraction": 0.2}


@dataclass(frozen=True)
class DataSpec:
    """One registry entry."""

    name: str
    description: str
    loader: Callable[..., Dataset]
    options: dict[str, Any] = field(default_factory=dict)
    #: the unit lifetime (epochs) that Philipp & Carbonell's Table 3 gives nonparametric
    #: networks on this set, or on the set it stands in for; None: the method's default
    #: (``kernels.methods.nonparametric_options``: why a data set needs its own)
    paper_lifetime_epochs: float | None = None

    def load(self, seed: int = 0, **options: Any) -> Dataset:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            accepted = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
            raise DataError(
                f"data set '{self.name}': unknown option(s) {', '.join(unknown)}; "
                f"accepted: {accepted}"
            )
        return self.loader(seed=int(seed), **{**self.options, **options})


DATASETS: dict[str, DataSpec] = {}


def register(
    name: str,
    description: str,
    loader: Callable[..., Dataset],
    *,
    paper_lifetime_epochs: float | None = None,
    **options: Any,
):
    """Add a data set to the registry (options: name -> default; the declared properties
    are the keyword arguments before them)."""
    DATASETS[name] = DataSpec(
        name, description, loader, {**options, **SPLIT_OPTIONS}, paper_lifetime_epochs
    )
    return DATASETS[name]


def _looks_like_path(name: str) -> bool:
    return (
        os.sep in name
        or "/" in name
        or "." in Path(name).name
        or name.startswith("~")
        or (name not in DATASETS and os.path.exists(name))
    )


def load_dataset(name: str | os.PathLike, seed: int = 0, **options: Any) -> Dataset:
    """Load a registered data set by name, or a user file: a path to a .npz or .csv file or
    to a folder of IDX files; `load_dataset("file", path=...)` does the same.

    Options override the entry's defaults; `seed` fixes generation and splitting, so the
    same name, seed and options give identical arrays.
    """
    from explorer.data.files import load_file  # files -> idx -> registry order of imports

    if isinstance(name, os.PathLike):
        return load_file(name, seed=seed, **options)
    if not isinstance(name, str):
        raise DataError(f"data set name {name!r} is not a string; accepted: {_accepted()}")
    if name == "file":
        if "path" not in options:
            raise DataError(
                "data set 'file' needs a path option; accepted: load_dataset('file', "
                "path='x.npz' | 'x.csv' | an IDX folder)"
            )
        return load_file(options.pop("path"), seed=seed, **options)
    if name in DATASETS:
        return DATASETS[name].load(seed, **options)
    if _looks_like_path(name):
        return load_file(name, seed=seed, **options)
    close = difflib.get_close_matches(name, list(DATASETS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    raise DataError(f"unknown data set '{name}'{hint} Accepted: {_accepted()}")


def _accepted() -> str:
    return ", ".join(DATASETS) + ", or a path to a .npz / .csv file or an IDX folder"


# Built-in data sets; the order is the order shown in the UI. Imported here (not at the
# top) because the loaders import `explorer.data.dataset`, not this module.
from explorer.data import digits, idx, larochelle, mnist1d_set, teacher  # noqa: E402
from kernels.methods.nonparametric_options import TABLE3_MNIST_LIFETIME_EPOCHS  # noqa: E402

# paper_lifetime_epochs: Table 3 of the nonparametric paper (Philipp & Carbonell 2017) gives
# mnist, rectangles and convex alpha_r = 1/(50 lambda), a 50-epoch unit lifetime; MNIST-1D
# (Greydanus 2020) is a 1-D stand-in for mnist and takes mnist's. Sets the paper does not
# cover declare none (kernels.methods.nonparametric_options: the default and why)
TABLE3_MNIST_LIFETIME = TABLE3_MNIST_LIFETIME_EPOCHS
register("digits", digits.DESCRIPTION, digits.load)
register(
    "mnist1d",
    mnist1d_set.DESCRIPTION,
    mnist1d_set.load,
    paper_lifetime_epochs=TABLE3_MNIST_LIFETIME,
    n=5000,
)
register(
    "mnist",
    idx.DESCRIPTION,
    idx.load,
    paper_lifetime_epochs=TABLE3_MNIST_LIFETIME,
    path=None,
    limit=None,
)
register(
    "rectangles",
    larochelle.RECTANGLES_DESCRIPTION,
    larochelle.load_rectangles,
    paper_lifetime_epochs=TABLE3_MNIST_LIFETIME,
    n=6000,
)
register(
    "convex",
    larochelle.CONVEX_DESCRIPTION,
    larochelle.load_convex,
    paper_lifetime_epochs=TABLE3_MNIST_LIFETIME,
    n=6000,
)
register(
    "teacher",
    teacher.DESCRIPTION,
    teacher.load,
    n=6000,
    dim=20,
    width=16,
    classes=4,
    teacher_seed=0,
)
