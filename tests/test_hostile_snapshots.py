"""Corrupted and hostile snapshots through ``resume``, ``export`` and the loader.

Each case is a copy of one small real snapshot with something wrong; most are re-hashed so
that they pass the checksums and reach the parser. Every case must give exit code 2 and one
clear line (no traceback), write nothing outside the export folder and leave no debris; the
ones that could cost memory or hang run as a child process with peak RSS under 500 MB.
Issue 13.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hostile_helpers import MAX_RSS_MB, assert_clean_error, leftovers, run_cli, tree

from explorer.cli import main
from explorer.snapshot import SnapshotError, load_snapshot


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, bytes]:
    """The files of a small real snapshot (digits, 3 steps)."""
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.snapshot import save_snapshot
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(
        RunConfig(steps=3, eval_every=1, units_every=1, hidden=[4, 3]), sink=history.add
    )
    trainer.run()
    path = tmp_path_factory.mktemp("base") / "snap.zip"
    save_snapshot(trainer, history, path)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rehash(files: dict[str, bytes]) -> dict[str, bytes]:
    manifest = json.loads(files["manifest.json"])
    for name, blob in files.items():
        if name in manifest["files"]:
            manifest["files"][name] = {
                "sha256": hashlib.sha256(blob).hexdigest(),
                "bytes": len(blob),
            }
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def to_zip(
    folder: Path, files: dict[str, bytes], name="snap.zip", method=zipfile.ZIP_STORED
) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for member, blob in files.items():
            zf.writestr(member, blob)
    return path


def edit_json(files, name, fn):
    doc = json.loads(files[name])
    fn(doc)
    return rehash({**files, name: json.dumps(doc).encode()})


def edit_npz(files, name, fn):
    with np.load(io.BytesIO(files[name]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    fn(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return rehash({**files, name: buf.getvalue()})


def _set(path: list, value):
    def fn(doc):
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return fn


def _flip(blob: bytes, at: float = 0.5) -> bytes:
    i = int(len(blob) * at)
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1 :]


def _records_kind(kind):
    def fn(doc):
        doc["kinds"][0]["kind"] = kind

    return fn


# -- cases: files -> the snapshot path (zip or folder) to give the command ---------------------
def s_flipped_byte(f, files):
    return to_zip(f, {**files, "weights.safetensors": _flip(files["weights.safetensors"])})


def s_flipped_manifest(f, files):
    return to_zip(f, {**files, "manifest.json": _flip(files["manifest.json"], 0.3)})


def s_truncated_zip(f, files):
    path = to_zip(f, files)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def s_missing_file(f, files):
    return to_zip(f, {k: v for k, v in files.items() if k != "state.json"})


def s_missing_manifest(f, files):
    return to_zip(f, {k: v for k, v in files.items() if k != "manifest.json"})


def s_bad_hash(f, files):
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["units.npz"]["sha256"] = "0" * 64
    return to_zip(f, {**files, "manifest.json": json.dumps(manifest).encode()})


def s_schema_version(f, files):
    return to_zip(f, edit_json(files, "manifest.json", _set(["schema_version"], 99)))


def s_schema_version_text(f, files):
    return to_zip(f, edit_json(files, "manifest.json", _set(["schema_version"], "1")))


def s_not_a_zip(f, files):
    path = f / "snap.zip"
    path.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    return path


def s_empty_file(f, files):
    path = f / "snap.zip"
    path.write_bytes(b"")
    return path


def s_empty_folder(f, files):
    (f / "snap").mkdir()
    return f / "snap"


def s_missing(f, files):
    return f / "nothing.zip"


def s_json_garbage(f, files):
    return to_zip(f, rehash({**files, "session.json": b'{"config": [1, 2'}))


def s_json_deep(f, files):
    return to_zip(f, rehash({**files, "state.json": b"[" * 100_000 + b"]" * 100_000}))


def s_traversal_kind(f, files):
    return to_zip(f, edit_json(files, "records.json", _records_kind("../../PWNED")))


def s_absolute_kind(f, files):  # an absolute path just outside the working folder
    return to_zip(f, edit_json(files, "records.json", _records_kind(str(f.parent / "ABS"))))


def s_kind_with_slash(f, files):
    return to_zip(f, edit_json(files, "records.json", _records_kind("a/b")))


def s_pickle_in_npz(f, files):
    def fn(arrays):
        arrays["unit_ids.0"] = np.array([object(), 1], dtype=object)

    with np.load(io.BytesIO(files["units.npz"]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    fn(arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return to_zip(f, rehash({**files, "units.npz": buf.getvalue()}))


def s_huge_count(f, files):
    return to_zip(
        f, edit_json(files, "records.json", lambda d: d["kinds"][0].update(count=20_000_000))
    )


def s_negative_count(f, files):
    return to_zip(f, edit_json(files, "records.json", lambda d: d["kinds"][0].update(count=-1)))


def s_huge_dtype_json(f, files):
    def fn(doc):
        doc["order"] = {"__ndarray__": [1] * 20, "dtype": "S100000000"}

    return to_zip(f, edit_json(files, "state.json", fn))


def s_object_dtype_json(f, files):
    def fn(doc):
        doc["order"] = {"__ndarray__": [1, 2], "dtype": "O"}

    return to_zip(f, edit_json(files, "state.json", fn))


def s_huge_npy_header(f, files):
    """units.npz member whose .npy header claims 10^11 int64s over a few bytes."""
    head = b"{'descr': '<i8', 'fortran_order': False, 'shape': (100000000000,), }"
    head += b" " * (64 - (10 + len(head) + 1) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + b"\0" * 64
    with zipfile.ZipFile(io.BytesIO(files["units.npz"])) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["unit_ids.0.npy"] = npy
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return to_zip(f, rehash({**files, "units.npz": buf.getvalue()}))


def s_zip_bomb_member(f, files):
    bomb = b"\0" * (1 << 30)  # 1 GiB of zeros, ~1 MB deflated
    path = to_zip(f, rehash({**files, "records.json": bomb}), method=zipfile.ZIP_DEFLATED)
    return path


def s_zip_bomb_npz(f, files):
    buf = io.BytesIO()
    np.savez_compressed(buf, **{"unit_ids.0": np.zeros(150_000_000, dtype=np.int64)})
    return to_zip(f, rehash({**files, "units.npz": buf.getvalue()}))


def s_huge_hidden(f, files):
    return to_zip(f, edit_json(files, "session.json", _set(["config", "hidden"], [3_000_000, 32])))


def s_fifo(f, files):
    os.mkfifo(f / "snap.zip")
    return f / "snap.zip"


def s_dev_zero(f, files):
    os.symlink("/dev/zero", f / "snap.zip")
    return f / "snap.zip"


def s_fifo_in_folder(f, files):
    folder = f / "snap"
    folder.mkdir()
    for name, blob in files.items():
        if name != "session.json":
            (folder / name).write_bytes(blob)
    os.mkfifo(folder / "session.json")
    return folder


def s_dev_zero_in_folder(f, files):
    folder = f / "snap"
    folder.mkdir()
    for name, blob in files.items():
        if name != "records.npz":
            (folder / name).write_bytes(blob)
    os.symlink("/dev/zero", folder / "records.npz")
    return folder


def s_config_not_dict(f, files):
    return to_zip(f, edit_json(files, "session.json", _set(["config"], [1, 2])))


def s_config_bad_option(f, files):
    return to_zip(
        f, edit_json(files, "session.json", _set(["config", "method_options"], {"bogus": 1}))
    )


def s_weights_garbage(f, files):
    return to_zip(f, rehash({**files, "weights.safetensors": b"\xff" * 8 + b"{}"}))


def s_units_wrong_dtype(f, files):
    return to_zip(
        f,
        edit_npz(
            files, "units.npz", lambda a: a.update({"unit_ids.0": a["unit_ids.0"].astype("U3")})
        ),
    )


def s_symlink_loop(f, files):
    os.symlink(f / "b.zip", f / "a.zip")
    os.symlink(f / "a.zip", f / "b.zip")
    return f / "a.zip"


SNAPSHOT_CASES = {name[2:]: fn for name, fn in dict(globals()).items() if name.startswith("s_")}
#: cases run as a child process: memory or hangs at stake
CHILD = {
    "zip_bomb_member",
    "zip_bomb_npz",
    "huge_hidden",
    "fifo",
    "dev_zero",
    "fifo_in_folder",
    "dev_zero_in_folder",
    "huge_count",
    "huge_dtype_json",
    "huge_npy_header",
}


def cli(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["resume", "export"])
@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.slow) if c in CHILD else c for c in sorted(SNAPSHOT_CASES)],
)  # a child process each
def test_bad_snapshot_is_refused_cleanly(case, command, base, tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    snap = SNAPSHOT_CASES[case](work, dict(base))
    out_dir = work / "out" / "csv"
    args = (
        ["resume", str(snap), "--steps", "1", "--quiet"]
        if command == "resume"
        else ["export", str(snap), "--csv", str(out_dir)]
    )
    before = tree(tmp_path)
    if case in CHILD:
        if command == "export":
            pytest.skip("the child cases run once, through resume")
        result = run_cli(args, work, timeout=90)
        assert not result.timed_out, "the command hung"
        code, err = result.code, result.err
        assert result.peak_mb < MAX_RSS_MB, f"peak RSS {result.peak_mb:.0f} MB"
    else:
        code, _, err = cli(args, capsys)
    assert_clean_error(code, err)
    after = tree(tmp_path)
    assert after - before <= {"work/out"}, f"wrote {sorted(after - before)}"
    assert not leftovers(tmp_path)


def test_good_snapshot_still_loads(base, tmp_path, capsys):
    snap = to_zip(tmp_path, base)
    data = load_snapshot(snap)
    assert data.step == 3
    code, out, err = cli(["export", str(snap), "--csv", str(tmp_path / "csv")], capsys)
    assert code == 0, err
    assert (tmp_path / "csv" / "step.csv").is_file()


def test_record_kind_names_are_checked_on_load(base, tmp_path):
    snap = to_zip(tmp_path, edit_json(base, "records.json", _records_kind("../x")))
    with pytest.raises(SnapshotError, match="record kind"):
        load_snapshot(snap)
