"""What the page accepts from a browser: uploaded data files and uploaded snapshots
(explorer/data/upload.py, explorer/snapshot/untrusted.py; no Panel needed). Issue 13:
an uploaded snapshot must never make the server read a file it names, every error is one
line that names the upload and never quotes a file's contents or a server path."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from explorer.data import DataError
from explorer.data.upload import load_upload
from explorer.snapshot import SnapshotError
from explorer.snapshot.untrusted import load_uploaded_snapshot, safe_config

SECRET = "TOPSECRET-CELL"


@pytest.fixture(scope="module")
def snapshot_files() -> dict[str, bytes]:
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.snapshot import capture
    from explorer.snapshot.save import encode, manifest_for
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(RunConfig(steps=2, eval_every=1, hidden=[3]), sink=history.add)
    trainer.run()
    files = encode(capture(trainer, history))
    files["manifest.json"] = json.dumps(manifest_for(files)).encode()
    return files


def _zip(files: dict[str, bytes], config_edit=None) -> bytes:
    files = dict(files)
    if config_edit is not None:
        session = json.loads(files["session.json"])
        config_edit(session["config"])
        files["session.json"] = json.dumps(session).encode()
        manifest = json.loads(files["manifest.json"])
        manifest["files"]["session.json"]["sha256"] = hashlib.sha256(
            files["session.json"]
        ).hexdigest()
        files["manifest.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and len(text) < 600, text
    assert "/tmp" not in text and "explorer-" not in text, f"a server path leaked: {text}"
    return text


def test_good_snapshot_upload_loads(snapshot_files):
    data = load_uploaded_snapshot(_zip(snapshot_files), "run.zip")
    assert data.step == 2 and data.config["dataset"] == "digits"


def test_snapshot_naming_a_server_file_is_refused_without_reading_it(
    snapshot_files, tmp_path, monkeypatch
):
    secret = tmp_path / "secret.csv"
    secret.write_text(f"1,{SECRET}\n2,3\n")
    read = []
    import explorer.data.files as files

    monkeypatch.setattr(files, "load_file", lambda *a, **k: read.append(a) or 1 / 0)

    def name_file(config):
        config["dataset"] = str(secret)

    with pytest.raises(SnapshotError) as info:
        load_uploaded_snapshot(_zip(snapshot_files, name_file), "run.zip")
    text = _one_line(info.value)
    assert "registered" in text and SECRET not in text and str(secret) not in text
    assert not read

    def file_with_path(config):
        config["dataset"] = "file"
        config["dataset_options"] = {"path": str(secret)}

    with pytest.raises(SnapshotError) as info:
        load_uploaded_snapshot(_zip(snapshot_files, file_with_path), "run.zip")
    assert str(secret) not in _one_line(info.value)
    assert not read


def test_path_options_are_dropped():
    config = {
        "method": "nonparametric",
        "dataset": "mnist",
        "hidden": [4],
        "dataset_options": {"path": "/etc", "limit": 100},
    }
    assert safe_config(config)["dataset_options"] == {"limit": 100}


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda c: c.update(hidden=[3_000_000, 32]), "cap of 8192"),
        (lambda c: c.update(hidden=list(range(1, 200))), "cap of 64"),
        (lambda c: c.update(steps=10**15), "steps must be between"),
        (lambda c: c.update(batch_size=10**10), "batch_size must be between"),
        (lambda c: c.update(seed=-1), "seed"),
        (lambda c: c.update(method_options={"bogus": 1}), "unknown option"),
        (lambda c: c.update(method_options={"optimizer": ["x"]}), "option optimizer"),
        (lambda c: c.update(method="nonparametrik"), "did you mean"),
        (lambda c: c.update(dataset="teacher", dataset_options={"n": 10**12}), "between 1 and"),
        (lambda c: c.update(dataset_options={"val_fraction": 2}), "[0, 1)"),
        (lambda c: c.update(dataset_options={"nope": 1}), "unknown option"),
        (lambda c: c.update(knobs={"lr": float("nan")}), None),
        (lambda c: c.update(hidden="10"), "hidden sizes"),
    ],
)
def test_whole_config_is_checked_before_anything_is_built(snapshot_files, edit, words):
    with pytest.raises(SnapshotError) as info:
        load_uploaded_snapshot(_zip(snapshot_files, edit), "run.zip")
    text = _one_line(info.value)
    assert text.startswith("run.zip"), text
    if words:
        assert words in text, text


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "empty snapshot upload (0 bytes)"),
        (None, "nothing was received"),
        (b"PK" + b"\0" * 100, "not a readable snapshot"),
        (b"x" * (2 << 20), "more than the snapshot upload limit"),
    ],
)
def test_bad_snapshot_upload_bytes(content, words):
    with pytest.raises(SnapshotError) as info:
        load_uploaded_snapshot(content, "../../etc/passwd.zip", max_bytes=1 << 20)
    text = _one_line(info.value)
    assert words in text and text.startswith("passwd.zip"), text


def _csv(rows) -> bytes:
    return ("\n".join(",".join(map(str, r)) for r in rows) + "\n").encode()


def test_good_data_upload():
    rows = [[i, i % 3, i % 2] for i in range(40)]
    ds = load_upload(_csv(rows), "table.csv")
    assert ds.name == "table.csv" and len(ds.y_train) > 0


@pytest.mark.parametrize(
    "content, filename, words",
    [
        (b"", "a.csv", "empty upload (0 bytes)"),
        (None, "a.csv", "nothing was received"),
        (b"1,2\n" * 1000, "big.csv", "more than the upload limit"),
        (b"1,2,0\n", "a.exe", "accepted files are"),
        (_csv([[1, SECRET, 0], [2, 3, 1]] * 10), "a.csv", "non-numeric feature in row"),
        (_csv([[1, 2, SECRET]] * 10), "a.csv", "single class"),
        (b"not a zip", "a.npz", "not a valid .npz"),
    ],
)
def test_bad_data_upload(content, filename, words):
    with pytest.raises(DataError) as info:
        load_upload(content, filename, max_bytes=2000)
    text = _one_line(info.value)
    assert words in text and SECRET not in text, text


@pytest.mark.slow
def test_data_upload_zip_bomb_is_refused_from_its_headers():
    buf = io.BytesIO()
    np.savez_compressed(buf, X=np.zeros((5000, 10_000)), y=np.zeros(5000))
    with pytest.raises(DataError, match="zip bomb"):
        load_upload(buf.getvalue(), "bomb.npz")
