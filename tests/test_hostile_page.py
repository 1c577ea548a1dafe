"""Hostile uploads through the page object (in-process, no browser), the loopback rule of
the app entry point, and a resumed snapshot training to the page's step limit. Issue 13."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile

import pytest

from explorer.access import ALLOW_REMOTE, is_loopback, refusal
from explorer.app import ExplorerApp
from explorer.config import RunConfig

SECRET = "TOPSECRET-CELL"


@pytest.fixture(scope="module")
def snapshot_blob() -> bytes:
    from explorer.history import History
    from explorer.snapshot import save_snapshot
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(RunConfig(steps=3, eval_every=1, hidden=[3], device="cpu"), sink=history.add)
    trainer.run()
    buf = io.BytesIO()
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = save_snapshot(trainer, history, Path(folder) / "s.zip")
        buf.write(Path(path).read_bytes())
    return buf.getvalue()


def _edit_config(blob: bytes, edit) -> bytes:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    session = json.loads(files["session.json"])
    edit(session["config"])
    files["session.json"] = json.dumps(session).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["session.json"]["sha256"] = hashlib.sha256(files["session.json"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def app():
    a = ExplorerApp(config=RunConfig(hidden=[4], device="cpu", eval_every=5), max_steps=12)
    yield a
    a.close()


def test_uploaded_snapshot_naming_a_server_file_gives_a_message(app, snapshot_blob, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("".join(f"{i},{SECRET},{i % 2}\n" for i in range(30)))
    blob = _edit_config(snapshot_blob, lambda c: c.update(dataset=str(secret)))
    app.actions.safe(app.snapshots.load_bytes, blob, "evil.zip")
    assert "registered" in app.message and "evil.zip" in app.message
    assert SECRET not in app.message and str(secret) not in app.message
    assert app.history.last("step") is None  # nothing was opened
    app.step()  # the page still works
    deadline = time.monotonic() + 60
    while app.history.last("step") is None and time.monotonic() < deadline:
        app.drain()
        time.sleep(0.02)
    assert app.history.last("step") is not None


@pytest.mark.parametrize(
    "content, words",
    [(b"", "empty snapshot upload (0 bytes)"), (b"PK\x03\x04" + b"\0" * 50, "not a readable")],
)
def test_bad_snapshot_upload_gives_a_message(app, content, words):
    app.actions.safe(app.snapshots.load_bytes, content, "x.zip")
    assert words in app.message and "/tmp" not in app.message


def test_empty_data_upload_gives_a_message(app):
    app.actions.safe(app.form.load_upload, b"", "d.csv")
    assert "empty upload (0 bytes)" in app.message


def test_an_unexpected_exception_becomes_a_message(app):
    def broken():
        return {}["missing"]

    assert app.actions.safe(broken) is None
    assert "unexpected KeyError" in app.message


@pytest.mark.slow
def test_resumed_snapshot_trains_to_the_page_step_limit(app, snapshot_blob):
    app.actions.safe(app.snapshots.load_bytes, snapshot_blob, "run.zip")
    assert "opened run.zip" in app.message, app.message
    assert app.history.last("step")["step"] == 3
    app.resume()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        app.drain()
        if app.status in ("finished", "error"):
            break
        time.sleep(0.05)
    app.drain()
    assert app.history.last("step")["step"] == 12, (app.status, app.message)


@pytest.mark.parametrize(
    "address, local",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("192.168.1.9", False),
        ("2001:db8::1", False),
        ("", False),
        (None, False),
        ("not-an-ip", False),
    ],
)
def test_only_this_machine_may_open_the_page(address, local, monkeypatch):
    monkeypatch.delenv(ALLOW_REMOTE, raising=False)
    assert is_loopback(address) is local
    assert (refusal(address) is None) is local
    monkeypatch.setenv(ALLOW_REMOTE, "1")
    assert refusal(address) is None
