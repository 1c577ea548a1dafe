"""Hostile and clumsy inputs to ``python -m explorer run``: data files and flags.

Each case must end with exit code 2 and one clear ``error:`` line, no traceback, nothing
written outside the working folder and no debris; the cases that could cost memory or hang
(zip bombs, huge headers, huge networks, FIFOs, /dev/zero) run as a child process whose peak
RSS is measured (``wait4``) and must stay under 500 MB. Issue 13.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hostile_helpers import MAX_RSS_MB, assert_clean_error, leftovers, run_cli, tree

from explorer.cli import main

RUN = ["run", "--steps", "2", "--quiet", "--eval-every", "1"]


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _xy(n=40, d=4, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % classes


def _npz(folder: Path, name="data.npz", **arrays) -> Path:
    path = folder / name
    np.savez(path, **arrays)
    return path


def _text(folder: Path, text: str | bytes, name="data.csv") -> Path:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _npy_member(name: str, header: str, payload: bytes = b"") -> tuple[str, bytes]:
    """A raw .npy member with a hand-written header (any shape or dtype it claims)."""
    head = header.encode("latin1")
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + b" " * pad + b"\n"
    return f"{name}.npy", b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + payload


def _zip(
    folder: Path, members: list[tuple[str, bytes]], name="data.npz", method=zipfile.ZIP_STORED
) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for member, blob in members:
            zf.writestr(member, blob)
    return path


def _csv_rows(rows) -> str:
    return "\n".join(",".join(map(str, r)) for r in rows) + "\n"


def _good_csv(label=lambda i: i % 2) -> str:
    X, _ = _xy(20, 3)
    return _csv_rows([[*x, label(i)] for i, x in enumerate(X)])


# -- data files: each makes a file in the folder and returns the --dataset argument ------------
def d_nan(f):
    X, y = _xy()
    X[3, 1] = np.nan
    return _npz(f, X=X, y=y)


def d_inf(f):
    X, y = _xy()
    X[0, 0] = np.inf
    return _npz(f, X=X, y=y)


def d_complex(f):
    X, y = _xy()
    return _npz(f, X=X.astype(np.complex128), y=y)


def d_text_x(f):
    X, y = _xy()
    return _npz(f, X=X.astype(str), y=y)


def d_object(f):  # needs pickle to read: refused
    X, y = _xy()
    return _npz(f, X=np.array([*X.tolist()], dtype=object), y=y)


def d_float_labels(f):
    X, y = _xy()
    return _npz(f, X=X, y=y + 0.5)


def d_nan_labels(f):
    X, y = _xy()
    yf = y.astype(float)
    yf[0] = np.nan
    return _npz(f, X=X, y=yf)


def d_2d_labels(f):
    X, _ = _xy()
    return _npz(f, X=X, y=np.zeros((40, 3)))


def d_one_class(f):
    X, _ = _xy()
    return _npz(f, X=X, y=np.zeros(40, dtype=int))


def d_two_samples(f):
    return _npz(f, X=np.array([[0.0, 1.0], [1.0, 0.0]]), y=np.array([0, 1]))


def d_three_samples(f):
    return _npz(f, X=np.eye(3), y=np.array([0, 1, 1]))


def d_x_1d(f):
    return _npz(f, X=np.arange(40.0), y=np.arange(40) % 2)


def d_x_3d_mismatch(f):
    return _npz(f, X=np.zeros((40, 4, 4)), y=np.arange(30) % 2)


def d_rows_mismatch(f):
    X, y = _xy()
    return _npz(f, X=X, y=y[:-1])


def d_missing_y(f):
    X, _ = _xy()
    return _npz(f, X=X)


def d_empty_x(f):
    return _npz(f, X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))


def d_not_zip(f):
    return _text(f, "this is not a zip\n", "data.npz")


def d_truncated(f):
    X, y = _xy()
    path = _npz(f, X=X, y=y)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def d_test_without_labels(f):
    X, y = _xy()
    return _npz(f, X=X, y=y, X_test=X)


def d_float128(f):
    X, y = _xy()
    return _npz(f, X=X.astype(np.longdouble), y=y)


def d_overflow(f):  # standardising overflows: a data problem, not a learning-rate one
    X, y = _xy()
    X[::2, 0] = 1e308
    X[1::2, 0] = -1e308
    return _npz(f, X=X, y=y)


def d_float32_overflow(f):  # finite in float64, infinite once stored as float32
    X, y = _xy()
    X[:, 0] = 1e300 * np.sign(X[:, 0])
    return _npz(f, X=np.ascontiguousarray(X), y=y)


def d_csv_header_only(f):
    return _text(f, "a,b,label\n")


def d_csv_ragged(f):
    return _text(f, "1,2,0\n3,4\n5,6,1\n")


def d_csv_non_numeric(f):
    return _text(f, "1,2,0\n3,x,1\n5,6,1\n")


def d_csv_empty(f):
    return _text(f, "")


def d_csv_blank_lines(f):
    return _text(f, "\n\n  \n")


def d_csv_float_labels(f):
    return _text(f, _good_csv(lambda i: 0.5 + i % 2))


def d_csv_blank_label(f):
    return _text(f, _good_csv(lambda i: "" if i == 3 else i % 2))


def d_csv_one_column(f):
    return _text(f, "1\n2\n3\n")


def d_csv_nan(f):
    return _text(f, _good_csv().replace("\n", "\nnan,1,2,0\n", 1))


def d_csv_binary(f):
    return _text(f, bytes(range(256)) * 4)


def d_csv_one_class(f):
    return _text(f, _good_csv(lambda i: 7))


def d_csv_two_rows(f):
    return _text(f, "1,2,0\n3,4,1\n")


def d_empty_folder(f):
    (f / "idx").mkdir()
    return f / "idx"


def d_folder_named_npz(f):
    (f / "d.npz").mkdir()
    return f / "d.npz"


def d_symlink_loop(f):
    os.symlink(f / "b.csv", f / "a.csv")
    os.symlink(f / "a.csv", f / "b.csv")
    return f / "a.csv"


def d_missing(f):
    return f / "nope.csv"


def d_bad_extension(f):
    return _text(f, "1,2,0\n", "data.txt")


DATA_CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("d_")}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_file_is_refused_cleanly(case, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = DATA_CASES[case](work)
    before = tree(tmp_path)
    code, out, err = cli([*RUN, "--dataset", str(target)], capsys)
    assert_clean_error(code, err)
    assert tree(tmp_path) == before, "the command wrote files"
    assert not leftovers(tmp_path)


# -- data that must not cost memory or hang: a child process, peak RSS measured --------------
def m_zip_bomb(f):
    X, y = _xy()
    buf = io.BytesIO()
    np.save(buf, np.zeros((20_000, 10_000)))  # 1.6 GB of zeros, ~1.6 MB deflated
    return _zip(
        f,
        [
            ("X.npy", buf.getvalue()),
            _npy_member(
                "y",
                "{'descr': '<i8', 'fortran_order': False, 'shape': (40,), }",
                y.astype("<i8").tobytes(),
            ),
        ],
        method=zipfile.ZIP_DEFLATED,
    )


def m_huge_header(f):  # a header claiming 10^10 floats over 320 bytes of data
    X, y = _xy()
    return _zip(
        f,
        [
            _npy_member(
                "X",
                "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100), }",
                X.tobytes(),
            ),
            _npy_member(
                "y",
                "{'descr': '<i8', 'fortran_order': False, 'shape': (40,), }",
                y.astype("<i8").tobytes(),
            ),
        ],
    )


def m_huge_dtype(f):
    X, _ = _xy()
    return _zip(
        f,
        [
            _npy_member(
                "X", "{'descr': '<f8', 'fortran_order': False, 'shape': (40, 4), }", X.tobytes()
            ),
            _npy_member(
                "y",
                "{'descr': '|S100000000', 'fortran_order': False, 'shape': (40,), }",
                b"1" * 4000,
            ),
        ],
    )


def m_fifo(f):
    os.mkfifo(f / "data.csv")
    return f / "data.csv"


def m_fifo_npz(f):
    os.mkfifo(f / "data.npz")
    return f / "data.npz"


def m_dev_zero(f):
    os.symlink("/dev/zero", f / "data.npz")
    return f / "data.npz"


def m_dev_zero_csv(f):
    os.symlink("/dev/zero", f / "data.csv")
    return f / "data.csv"


MEMORY_CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("m_")}


@pytest.mark.parametrize("case", sorted(MEMORY_CASES))
@pytest.mark.slow
def test_hostile_data_file_costs_bounded_memory(case, tmp_path):
    target = MEMORY_CASES[case](tmp_path)
    before = tree(tmp_path)
    result = run_cli([*RUN, "--dataset", str(target)], tmp_path, timeout=90)
    assert not result.timed_out, "the command hung"
    assert_clean_error(result.code, result.err)
    assert result.peak_mb < MAX_RSS_MB, f"peak RSS {result.peak_mb:.0f} MB"
    assert tree(tmp_path) == before


@pytest.mark.slow
def test_huge_network_is_refused_before_it_is_built(tmp_path):
    result = run_cli([*RUN, "--hidden", "3000000,32"], tmp_path, timeout=90)
    assert_clean_error(result.code, result.err)
    assert "cap" in result.err or "limit" in result.err, result.err
    assert result.peak_mb < MAX_RSS_MB, f"peak RSS {result.peak_mb:.0f} MB"


def _deny(monkeypatch, denied: Path):
    """Make ``denied`` unreadable and unwritable even for root (these tests may run as
    root, who passes every permission check): os.open and os.access refuse it."""
    real_open, real_access = os.open, os.access

    def fake_open(path, flags, *args, **kwargs):
        if Path(path) == denied:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: Path(p) != denied and real_access(p, mode, **kw)
    )


def test_unreadable_file_says_permission_denied(tmp_path, capsys, monkeypatch):
    path = _text(tmp_path, _good_csv())
    os.chmod(path, 0o000)
    _deny(monkeypatch, path)
    code, out, err = cli([*RUN, "--dataset", str(path)], capsys)
    assert_clean_error(code, err)
    assert "permission denied" in err.lower(), err


# -- flags ----------------------------------------------------------------------------------
FLAG_CASES = {
    "seed_negative": ["--seed", "-1"],
    "seed_huge": ["--seed", str(2**70)],
    "growth_every_nan": ["--growth-every", "nan"],
    "growth_every_inf": ["--growth-every", "inf"],
    "growth_every_negative": ["--growth-every", "-3"],
    "lr_nan": ["--lr", "nan"],
    "lr_negative": ["--lr", "-1"],
    "lam_inf": ["--lam", "inf"],
    "option_no_value": ["--option", "novalue"],
    "option_empty_key": ["--option", "=3"],
    "option_unknown": ["--option", "bogus_option=1"],
    "data_option_unknown": ["--data-option", "bogus=1"],
    "data_option_bad_value": ["--data-option", "val_fraction=2"],
    "steps_zero": ["--steps", "0"],
    "steps_negative": ["--steps", "-5"],
    "steps_huge": ["--steps", str(10**15)],
    "batch_zero": ["--batch-size", "0"],
    "batch_huge": ["--batch-size", str(10**12)],
    "eval_every_zero": ["--eval-every", "0"],
    "hidden_zero": ["--hidden", "0"],
    "hidden_text": ["--hidden", "abc"],
    "hidden_many_layers": ["--hidden", ",".join(["2"] * 500)],
    "device_bogus": ["--device", "tpu"],
    "method_bogus": ["--method", "nonparametrik"],
    "dataset_bogus": ["--dataset", "digitz"],
}


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_bad_flag_is_refused_cleanly(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli([*RUN, *FLAG_CASES[case]], capsys)
    assert_clean_error(code, err, argparse_ok=True)
    assert not list(tmp_path.iterdir())


def _no_training(monkeypatch):
    from explorer.trainer import Trainer

    def refuse(*args, **kwargs):
        raise AssertionError("trained before checking the output targets")

    monkeypatch.setattr(Trainer, "run", refuse)


TARGET_CASES = {
    "out_under_a_file": lambda f: ["--out", str(_text(f, "x", "afile") / "snap.zip")],
    "out_nonempty_folder": lambda f: ["--out", str(_text(f, "x", "keep.txt").parent)],
    "out_is_a_folder_for_zip": lambda f: ["--out", str((f / "d.zip").mkdir() or f / "d.zip")],
    "export_model_is_a_file": lambda f: ["--export-model", str(_text(f, "x", "model"))],
    "export_model_under_a_file": lambda f: ["--export-model", str(_text(f, "x", "afile") / "m")],
}


@pytest.mark.parametrize("case", sorted(TARGET_CASES))
def test_bad_output_target_is_refused_before_training(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = TARGET_CASES[case](tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    _no_training(monkeypatch)
    code, out, err = cli([*RUN, *args], capsys)
    assert_clean_error(code, err)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not leftovers(tmp_path)


def test_read_only_out_folder_is_refused_before_training(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    _deny(monkeypatch, ro)
    _no_training(monkeypatch)
    code, out, err = cli([*RUN, "--out", str(ro / "snap.zip")], capsys)
    assert_clean_error(code, err)
    assert "permission denied" in err.lower(), err
    assert not list(ro.iterdir())


def test_interrupted_write_leaves_no_debris(tmp_path, monkeypatch):
    """A write that fails half-way (disk full, Ctrl-C) removes its temporary files."""
    import explorer.snapshot.save as save
    from explorer.config import RunConfig
    from explorer.snapshot import capture, write
    from explorer.trainer import Trainer

    trainer = Trainer(RunConfig(steps=2, eval_every=1, hidden=[4]))
    trainer.run()
    data = capture(trainer)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    for target in (tmp_path / "snap.zip", tmp_path / "snap"):
        monkeypatch.setattr(save, "_write_file", full)
        monkeypatch.setattr(save.zipfile.ZipFile, "writestr", full)
        with pytest.raises(Exception) as info:
            write(data, target)
        assert "Traceback" not in str(info.value)
        monkeypatch.undo()
        assert not list(tmp_path.iterdir()), list(tmp_path.iterdir())
