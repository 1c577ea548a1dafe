"""Tests of explorer.data: the registry contract, the IDX reader on real MNIST, the shape
generators, user files and every error message."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from explorer.data import DATASETS, DataError, Dataset, load_dataset
from explorer.data.idx import parse_idx, read_idx, write_idx
from explorer.data.larochelle import certified_nonconvex, convex_images, rectangle_images
from explorer.data.split import stratified_split

# the real MNIST test set ships with the project (assets/data/mnist, CC BY-SA 3.0)
MNIST_DIR = Path(__file__).resolve().parents[1] / "assets" / "data" / "mnist"
# Small sizes keep the whole file fast; the defaults are exercised by the app.
FAST = {
    "mnist1d": {"n": 1000},
    "mnist": {"limit": 1500},
    "rectangles": {"n": 600},
    "convex": {"n": 600},
    "teacher": {"n": 800},
}


def arrays(ds: Dataset) -> list[np.ndarray]:
    return [ds.X_train, ds.y_train, ds.X_val, ds.y_val, ds.X_test, ds.y_test]


# ---------------------------------------------------------------- registry contract


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "mnist1d" else n for n in DATASETS]
)  # mnist1d: seconds to generate, twice
def test_registry_contract(name):
    entry = DATASETS[name]
    assert entry.name == name and entry.description
    ds = load_dataset(name, seed=0, **FAST.get(name, {}))
    assert isinstance(ds, Dataset) and ds.name == name and ds.description
    d = ds.n_features
    for X, y in zip(arrays(ds)[::2], arrays(ds)[1::2], strict=True):
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert X.ndim == 2 and X.shape[1] == d and y.shape == (len(X),)
        assert np.isfinite(X).all()
        assert y.min() >= 0 and y.max() < ds.n_classes
    assert ds.n_classes >= 2
    assert set(np.unique(ds.y_train)) == set(range(ds.n_classes))
    assert len(ds.y_val) > 0 and len(ds.y_test) > 0
    if ds.image_shape is not None:
        assert int(np.prod(ds.image_shape)) == d
        assert ds.X_train.min() >= 0 and ds.X_train.max() <= 1
    else:  # z-scored with train statistics
        assert np.allclose(ds.X_train.mean(axis=0), 0, atol=1e-4)
    assert name in ds.summary()

    again = entry.load(0, **FAST.get(name, {}))
    for a, b in zip(arrays(ds), arrays(again), strict=True):
        np.testing.assert_array_equal(a, b)
    other = load_dataset(name, seed=1, **FAST.get(name, {}))
    assert not np.array_equal(ds.X_train, other.X_train[: len(ds.X_train)])


def test_image_shapes():
    assert load_dataset("digits").image_shape == (1, 8, 8)
    assert load_dataset("rectangles", n=40).image_shape == (1, 28, 28)
    assert load_dataset("convex", n=40).image_shape == (1, 28, 28)
    assert load_dataset("teacher", n=200).image_shape is None


def test_digits_pixels_scaled():
    ds = load_dataset("digits")
    assert ds.X_train.max() == 1.0 and ds.n_classes == 10
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 1797


def test_unknown_name_suggests():
    with pytest.raises(DataError, match=r"unknown data set 'digts'; did you mean 'digits'\?") as e:
        load_dataset("digts")
    assert "Accepted: digits, mnist1d" in str(e.value)


def test_unknown_option_is_named():
    with pytest.raises(DataError, match=r"'digits'.*unknown option.*colour.*accepted"):
        load_dataset("digits", colour="red")


# ---------------------------------------------------------------- splits


def test_split_is_stratified_exact_and_seeded():
    y = np.repeat(np.arange(3), [50, 30, 3])
    a = stratified_split(y, [0.2, 0.15], seed=5)
    b = stratified_split(y, [0.2, 0.15], seed=5)
    c = stratified_split(y, [0.2, 0.15], seed=6)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert [len(p) for p in a] == [83 - 17 - 12, 17, 12]
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(83))
    assert set(y[a[0]]) == {0, 1, 2}  # even the 3-example class reaches train


def test_bad_fractions():
    with pytest.raises(DataError, match="val_fraction.*accepted"):
        load_dataset("digits", val_fraction=1.5)
    with pytest.raises(DataError, match="leaves no training data"):
        load_dataset("digits", val_fraction=0.5, test_fraction=0.5)


# ---------------------------------------------------------------- IDX / MNIST


def test_real_mnist_t10k_files():
    X = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    y = read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8 and y.shape == (10000,)
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y).tolist() == counts


def test_mnist_t10k_only_splits_8000_2000_with_fixed_test():
    a = load_dataset("mnist", seed=0, path=str(MNIST_DIR))
    b = load_dataset("mnist", seed=3, path=str(MNIST_DIR))
    assert len(a.y_train) + len(a.y_val) == 8000 and len(a.y_test) == 2000
    assert len(a.y_val) == 1200  # 15% of all 8,000 + 2,000
    assert a.image_shape == (1, 28, 28) and a.n_classes == 10
    assert a.X_train.max() == 1.0 and a.X_train.min() == 0.0
    np.testing.assert_array_equal(a.X_test, b.X_test)  # the test part ignores the seed
    assert not np.array_equal(a.y_train, b.y_train)
    pooled = np.concatenate([a.y_train, a.y_val, a.y_test])
    assert np.bincount(pooled).tolist()[:2] == [980, 1135]


def test_mnist_limit_and_env_var(monkeypatch):
    monkeypatch.setenv("SIZING_EXPLORER_MNIST", str(MNIST_DIR))
    ds = load_dataset("mnist", limit=500)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 500
    assert len(ds.y_test) == 100


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (30, 5, 4), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 3
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images[:9])
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels[:9])
    np.testing.assert_array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), images)
    raw = (tmp_path / f"train-labels-idx1-ubyte{suffix}").read_bytes()
    if suffix:
        assert raw[:2] == b"\x1f\x8b"
        raw = gzip.decompress(raw)
    assert raw[:4] == b"\x00\x00\x08\x01" and int.from_bytes(raw[4:8], "big") == 30
    # A folder path goes to the IDX reader: train -> train/val, t10k -> test.
    ds = load_dataset(str(tmp_path), val_fraction=0.2)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (24, 6, 9)
    np.testing.assert_array_equal(ds.X_test * 255, images[:9].reshape(9, -1))
    np.testing.assert_array_equal(ds.y_test, labels[:9])
    assert ds.image_shape == (1, 5, 4)


def test_idx_other_dtypes_round_trip(tmp_path):
    for array in (np.arange(12, dtype=np.int32).reshape(3, 4) - 5, np.linspace(0, 1, 6)):
        write_idx(tmp_path / "a-idx", array)
        out = read_idx(tmp_path / "a-idx")
        assert out.dtype == array.dtype
        np.testing.assert_array_equal(out, array)


def _idx_bytes(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return head + array.astype(np.uint8).tobytes()


def test_idx_truncated_data(tmp_path):
    data = _idx_bytes(np.zeros((10, 28, 28)))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(data[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated IDX data.*accepted"):
        read_idx(tmp_path / "train-images-idx3-ubyte")
    (tmp_path / "cut-idx1-ubyte.gz").write_bytes(gzip.compress(data)[:-30])
    with pytest.raises(DataError, match=r"cut-idx1-ubyte.gz: cannot read"):
        read_idx(tmp_path / "cut-idx1-ubyte.gz")


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\x00\x00", "too short"),
        (b"\x00\x01\x08\x01\x00\x00\x00\x01\x00", "bad IDX magic number 0x00010801"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "bad IDX magic number"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x00\x00", "trailing bytes"),
    ],
)
def test_idx_corrupted_header(data, problem):
    with pytest.raises(DataError, match=problem) as e:
        parse_idx(data, "broken-idx")
    assert "broken-idx" in str(e.value) and "accepted" in str(e.value)


def test_idx_folder_errors(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8))
    with pytest.raises(DataError, match=r"no complete images \+ labels pair.*train-images"):
        load_dataset(str(tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"4 images but train-labels-idx1-ubyte has 5 labels"):
        load_dataset(str(tmp_path))
    with pytest.raises(DataError, match=r"nowhere: not a folder"):
        load_dataset("mnist", path=tmp_path / "nowhere")


# ---------------------------------------------------------------- rectangles and convex


def test_rectangle_labels_match_pixels():
    images, labels = rectangle_images(500, np.random.default_rng(1))
    for img, label in zip(images, labels, strict=True):
        rows, cols = np.nonzero(img)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h != w and label == int(h > w)
        # an outline: the bounding box's border is on, its interior off
        box = img[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box[[0, -1]].all() and box[:, [0, -1]].all() and not box[1:-1, 1:-1].any()
    assert 0.4 < labels.mean() < 0.6


def _lattice_convex(img: np.ndarray) -> bool:
    """Independent test: the region is convex (digitally) iff it equals the set of pixel
    centres inside the convex hull of its own pixel centres."""
    from scipy.spatial import ConvexHull

    points = np.argwhere(img).astype(float)
    hull = ConvexHull(points)
    grid = np.argwhere(np.ones_like(img)).astype(float)
    inside = (grid @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-9).all(axis=1)
    return bool(np.array_equal(inside.reshape(img.shape), img))


def test_convex_labels_match_independent_hull_test():
    images, labels = convex_images(60, np.random.default_rng(2))
    assert labels.sum() == 30
    for img, label in zip(images, labels, strict=True):
        assert img.sum() >= 19
        assert _lattice_convex(img) == bool(label)
    assert not certified_nonconvex(images[labels == 1]).any()


def test_convex_areas_do_not_give_the_label_away():
    images, labels = convex_images(600, np.random.default_rng(3))
    area = images.sum(axis=(1, 2))
    assert abs(area[labels == 1].mean() - area[labels == 0].mean()) < 0.2 * area.mean()


def test_teacher_width_is_an_option():
    a = load_dataset("teacher", n=300, width=3, dim=5, classes=3)
    assert a.n_features == 5 and a.n_classes == 3 and "3 hidden units" in a.description
    with pytest.raises(DataError, match=r"'teacher'.*width=0.*accepted"):
        load_dataset("teacher", width=0)


# ---------------------------------------------------------------- user files


def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = np.column_stack([np.arange(100), rng.normal(size=(100, 2))])  # column 0 = row id
    y = rng.integers(0, 3, 100) + 10
    path = tmp_path / "mine.npz"
    np.savez(path, X=X, y=y)
    ds = load_dataset(str(path), seed=4)
    assert ds.name == "mine.npz" and ds.n_classes == 3 and ds.class_names == ("10", "11", "12")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (65, 15, 20)
    same = load_dataset("file", path=path, seed=4)
    np.testing.assert_array_equal(ds.X_val, same.X_val)
    # z-scored with train statistics, so each column is an increasing affine map of the
    # original; the id column tells which row went where
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, atol=1e-5)
    Z = np.concatenate([ds.X_train, ds.X_val, ds.X_test])
    labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    order = np.argsort(Z[:, 0])
    for j in range(3):
        assert np.corrcoef(Z[order, j], X[:, j])[0, 1] > 0.99999
    np.testing.assert_array_equal(labels[order] + 10, y)


def test_npz_with_test_part_and_string_labels(tmp_path):
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array(["cat", "dog"] * 10)
    path = tmp_path / "pets.npz"
    np.savez(path, X=X, y=y, X_test=X[:4], y_test=y[:4])
    ds = load_dataset(path)
    assert ds.class_names == ("cat", "dog") and ds.y_test.tolist() == [0, 1, 0, 1]
    assert len(ds.y_train) + len(ds.y_val) == 20


def test_npz_images_keep_their_shape(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (30, 6, 6), dtype=np.uint8)
    np.savez(tmp_path / "img.npz", X=X, y=np.arange(30) % 2)
    ds = load_dataset(tmp_path / "img.npz")
    assert ds.image_shape == (1, 6, 6) and ds.X_train.min() >= 0 and ds.X_train.max() <= 1


@pytest.mark.parametrize("header", [True, False])
def test_csv_round_trip(tmp_path, header):
    rng = np.random.default_rng(1)
    X = np.round(rng.normal(size=(40, 2)), 3)
    labels = np.array(["yes", "no"])[np.arange(40) % 2]
    lines = (["a,b,label"] if header else []) + [
        f"{a},{b},{c}" for (a, b), c in zip(X, labels, strict=True)
    ]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(lines) + "\n")
    ds = load_dataset(str(path), val_fraction=0.0, test_fraction=0.25)
    assert ds.n_features == 2 and ds.class_names == ("no", "yes")
    assert len(ds.y_train) == 30 and len(ds.y_val) == 0 and len(ds.y_test) == 10


def test_csv_numeric_labels_sort_numerically(tmp_path):
    rows = [f"{i},{i % 3 * 5}" for i in range(30)]  # labels 0, 5, 10
    (tmp_path / "n.csv").write_text("\n".join(rows))
    ds = load_dataset(tmp_path / "n.csv")
    assert ds.class_names == ("0", "5", "10")


# ---------------------------------------------------------------- error messages


def _error(path, **options) -> str:
    with pytest.raises(DataError) as e:
        load_dataset(str(path), **options)
    message = str(e.value)
    assert Path(path).name in message and "accepted" in message.lower(), message
    return message


def test_error_missing_array(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.zeros((4, 2)), labels=np.arange(4))
    message = _error(tmp_path / "a.npz")
    assert "missing array 'y'" in message and "found arrays: X, labels" in message


def test_error_nan_and_inf(tmp_path):
    X = np.ones((10, 2))
    X[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.arange(10) % 2)
    assert "NaN or inf" in _error(tmp_path / "nan.npz")
    X[3, 1] = np.inf
    np.savez(tmp_path / "inf.npz", X=X, y=np.arange(10) % 2)
    assert "inf at row 3, column 1" in _error(tmp_path / "inf.npz")


def test_error_length_mismatch(tmp_path):
    np.savez(tmp_path / "len.npz", X=np.zeros((10, 2)), y=np.arange(9) % 2)
    assert "10 rows but its labels have 9" in _error(tmp_path / "len.npz")


def test_error_single_class(tmp_path):
    np.savez(tmp_path / "one.npz", X=np.zeros((10, 2)), y=np.zeros(10, int))
    assert "single class" in _error(tmp_path / "one.npz")
    (tmp_path / "one.csv").write_text("1,a\n2,a\n")
    assert "single class (one distinct label)" in _error(tmp_path / "one.csv")


def test_error_empty_files(tmp_path):
    for name in ("e.npz", "e.csv"):
        (tmp_path / name).write_bytes(b"")
        assert "empty file" in _error(tmp_path / name)
    (tmp_path / "blank.csv").write_text("\n \n")
    assert "empty file" in _error(tmp_path / "blank.csv")
    (tmp_path / "head.csv").write_text("a,b,label\n")
    assert "only a header" in _error(tmp_path / "head.csv")


def test_error_unknown_extension(tmp_path):
    (tmp_path / "data.txt").write_text("1,2\n")
    message = _error(tmp_path / "data.txt")
    assert "unknown extension '.txt'" in message
    assert ".npz" in message and ".csv" in message and "IDX" in message


def test_error_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "gone.npz")


def test_error_non_numeric_csv(tmp_path):
    (tmp_path / "bad.csv").write_text("x,label\n1,a\ntwo,b\n3,a\n")
    message = _error(tmp_path / "bad.csv")
    assert "non-numeric feature in row 3, column 1" in message
    assert "two" not in message  # errors never quote a file's contents
    (tmp_path / "ragged.csv").write_text("1,2,a\n3,b\n")
    assert "row 2 has 2 columns, expected 3" in _error(tmp_path / "ragged.csv")


def test_error_corrupt_npz_and_pickle(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip archive")
    assert "not a valid .npz" in _error(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    assert "no Python objects" in _error(tmp_path / "obj.npz")
    np.savez(tmp_path / "str.npz", X=np.array([["a", "b"]] * 4), y=np.arange(4) % 2)
    assert "X has dtype <U1" in _error(tmp_path / "str.npz")


def test_error_unpaired_test_arrays(tmp_path):
    np.savez(tmp_path / "half.npz", X=np.zeros((6, 2)), y=np.arange(6) % 2, X_test=np.zeros((2, 2)))
    assert "X_test and y_test must come together" in _error(tmp_path / "half.npz")


def test_error_unknown_file_option(tmp_path):
    np.savez(tmp_path / "ok.npz", X=np.zeros((6, 2)), y=np.arange(6) % 2)
    assert "unknown option(s) limit" in _error(tmp_path / "ok.npz", limit=3)


def test_mnist1d_leaves_global_random_state_alone():
    # mnist1d.make_dataset seeds numpy's and Python's global generators; we restore them.
    import random

    np.random.seed(123)
    random.seed(123)
    expected = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    ds = load_dataset("mnist1d", seed=7, n=200)
    assert (np.random.random(), random.random()) == expected
    assert ds.n_features == 40 and len(ds.y_test) == 40
