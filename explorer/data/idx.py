"""The IDX file format of MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/), and the
`mnist` data set read from a folder of such files.

IDX header: two zero bytes, a dtype code (0x08 = unsigned byte, ...), the number of
dimensions, then each dimension as a big-endian uint32; the data follow, big-endian,
row-major. Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from explorer.data.dataset import Dataset, build_dataset, check_features, encode_labels
from explorer.data.errors import DataError
from explorer.data.split import stratified_split

DESCRIPTION = "MNIST handwritten digits, 28x28 pixels, 10 classes (IDX files on disk)"

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
ACCEPTED_IDX = (
    "IDX files named like train-images-idx3-ubyte / t10k-labels-idx1-ubyte, optionally .gz"
)
REPO_ROOT = Path(__file__).resolve().parents[2]


#: largest IDX file, raw or after gunzip (MNIST's training images are 47 MB)
MAX_IDX_BYTES = 1 << 30


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip; regular files only, and never more than
    ``MAX_IDX_BYTES`` whatever a compressed file expands to."""
    from explorer.data import bounded

    raw = bounded.read_bytes(path, DataError, MAX_IDX_BYTES, path.name)
    if raw[:2] != b"\x1f\x8b":  # gzip magic, whatever the file is called
        return raw
    try:
        out = bytearray()
        data = raw
        while data:  # concatenated gzip members, as gzip.decompress reads them
            inflate = zlib.decompressobj(wbits=31)
            out += inflate.decompress(data, MAX_IDX_BYTES + 1 - len(out))
            if len(out) > MAX_IDX_BYTES or inflate.unconsumed_tail:
                raise DataError(
                    f"{path.name}: expands to more than {MAX_IDX_BYTES} bytes; "
                    f"accepted: {ACCEPTED_IDX}"
                )
            if not inflate.eof:
                raise EOFError("compressed file ended before the end-of-stream marker")
            data = inflate.unused_data
        return bytes(out)
    except (EOFError, zlib.error) as err:
        raise DataError(
            f"{path.name}: cannot read ({type(err).__name__}: {err}); accepted: {ACCEPTED_IDX}"
        ) from None


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode one IDX file's bytes into a numpy array of its declared shape."""
    if len(data) < 4:
        raise DataError(
            f"{source}: {len(data)} bytes is too short for an IDX header; accepted: {ACCEPTED_IDX}"
        )
    zero0, zero1, code, ndim = data[:4]
    if zero0 or zero1 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}; accepted: 0x0000 then a dtype "
            f"code in {{{', '.join(hex(c) for c in IDX_DTYPES)}}} then the number of dimensions"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need "
            f"{header}); accepted: {ACCEPTED_IDX}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(data) - header
    if have != need:
        problem = "truncated IDX data" if have < need else "trailing bytes after IDX data"
        raise DataError(
            f"{source}: {problem}: header declares shape {dims} ({need} bytes) but {have} bytes "
            f"follow; accepted: {ACCEPTED_IDX}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # native byte order, and a writable copy


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or .gz)."""
    path = Path(path)
    return parse_idx(_read_bytes(path), path.name)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file (gzip-compressed if the name ends in .gz); used by
    tests and to export data."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"{Path(path).name}: cannot store dtype {array.dtype} in IDX")
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = head + array.astype(IDX_DTYPES[code]).tobytes()
    Path(path).write_bytes(gzip.compress(body) if str(path).endswith(".gz") else body)


_FILE_RE = re.compile(r"^(train|t10k|test)[-_.].*(images|labels)[-_.]idx([13])[-_.]ubyte(\.gz)?$")


def find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    """{("train"|"test", "images"|"labels"): path} for the IDX files in a folder."""
    found: dict[tuple[str, str], Path] = {}
    for p in sorted(folder.iterdir()):
        m = _FILE_RE.match(p.name)
        if m:
            part = "train" if m.group(1) == "train" else "test"
            # prefer the uncompressed file if both exist (sorted: x before x.gz)
            found.setdefault((part, m.group(2)), p)
    return found


def default_mnist_folder() -> Path | None:
    """Where to look for MNIST: $SIZING_EXPLORER_MNIST, then <repo>/../shared/data/mnist,
    then <repo>/assets/data/mnist."""
    candidates = [
        os.environ.get("SIZING_EXPLORER_MNIST"),
        REPO_ROOT.parent / "shared" / "data" / "mnist",
        REPO_ROOT / "assets" / "data" / "mnist",
    ]
    for c in candidates:
        if c and Path(c).is_dir() and find_idx_files(Path(c)):
            return Path(c)
    return None


@lru_cache(maxsize=4)
def _read_pair(images: Path, labels: Path, _stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    X = read_idx(images)
    y = read_idx(labels)
    if X.ndim != 3 or y.ndim != 1:
        raise DataError(
            f"{images.name} / {labels.name}: shapes {X.shape} and {y.shape}; accepted: images "
            "of shape (n, H, W) and labels of shape (n,)"
        )
    if len(X) != len(y):
        raise DataError(
            f"{images.name} has {len(X)} images but {labels.name} has {len(y)} labels; "
            "accepted: one label per image"
        )
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def read_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels, cached in-process until either file changes."""
    stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in (images, labels))
    return _read_pair(images, labels, stamp)


def _caps(n_pool: int, n_test: int, limit: int | None) -> tuple[int, int]:
    """Split a total budget of `limit` examples between pool and test in proportion."""
    total = n_pool + n_test
    if limit is None or limit >= total:
        return n_pool, n_test
    k_test = round(limit * n_test / total)
    return limit - k_test, k_test


def _subsample(idx: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k of the indices idx, stratified by y[idx] so that no class drops out."""
    if k >= len(idx):
        return idx
    keep = stratified_split(y[idx], [(len(idx) - k) / len(idx)], seed)[0]
    return np.sort(idx[keep])


# The t10k-only layout has no official train part: split off 20% as test with this fixed
# seed so that "the test set" is the same 2,000 images whatever the run's seed (and the
# same subset of them under `limit`).
T10K_TEST_SEED = 0


def load(
    seed: int,
    path: str | os.PathLike | None,
    limit: int | None,
    val_fraction: float,
    test_fraction: float,
    name: str = "mnist",
) -> Dataset:
    """MNIST from a folder of IDX files. With train and t10k files: train -> train/val,
    t10k -> test. With only t10k: a fixed-seed split into 80% train(+val) / 20% test
    (8,000 / 2,000). `limit` caps the total number of examples, taken from the train and
    test parts in proportion (train part chosen by `seed`, test part fixed)."""
    folder = Path(path).expanduser() if path is not None else default_mnist_folder()
    if folder is None:
        raise DataError(
            "data set 'mnist': no IDX files found; searched $SIZING_EXPLORER_MNIST, "
            f"{REPO_ROOT.parent / 'shared/data/mnist'}, {REPO_ROOT / 'assets/data/mnist'}; "
            f"accepted: path=<folder> holding {ACCEPTED_IDX}"
        )
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; accepted: a folder holding {ACCEPTED_IDX}")
    if limit is not None and (not isinstance(limit, int | np.integer) or limit < 20):
        raise DataError(f"data set '{name}': limit={limit!r}; accepted: None or an int >= 20")
    files = find_idx_files(folder)
    have_test = ("test", "images") in files and ("test", "labels") in files
    have_train = ("train", "images") in files and ("train", "labels") in files
    if not have_test and not have_train:
        raise DataError(
            f"{folder}: no complete images + labels pair (found: "
            f"{', '.join(sorted(p.name for p in files.values())) or 'no IDX files'}); "
            f"accepted: {ACCEPTED_IDX}"
        )
    if have_train:
        X, y = read_pair(files["train", "images"], files["train", "labels"])
        pool = np.arange(len(y))
        if have_test:
            X_test, y_test = read_pair(files["test", "images"], files["test", "labels"])
            test = np.arange(len(y_test))
        else:
            X_test, y_test, test = X[:0], y[:0], pool[:0]
    else:
        X, y = X_test, y_test = read_pair(files["test", "images"], files["test", "labels"])
        pool, test = stratified_split(y, [test_fraction], T10K_TEST_SEED)
    k_pool, k_test = _caps(len(pool), len(test), limit)
    pool = _subsample(pool, y, k_pool, seed)
    test = _subsample(test, y_test, k_test, T10K_TEST_SEED)  # same test set for every seed
    given_test = (have_train and have_test) or not have_train
    source = f"{folder.name} (IDX)"
    (y_pool, y_te), classes = encode_labels(source, y[pool], y_test[test])
    scale = 255.0 if X.dtype == np.uint8 else max(float(np.abs(X).max()), 1.0)
    X_pool = check_features(source, X[pool], y_pool) / scale
    X_te = check_features(source, X_test[test], y_te) / scale if given_test else None
    return build_dataset(
        name,
        DESCRIPTION if name == "mnist" else f"IDX folder {folder}",
        X_pool,
        y_pool,
        seed,
        val_fraction,
        test_fraction,
        X_test=X_te,
        y_test=y_te if given_test else None,
        image_shape=(1, *X.shape[1:]),
        class_names=classes,
    )
