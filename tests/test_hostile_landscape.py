"""Hostile landscape parts of a snapshot (issue 16, under issue 13's untrusted-input rules).

Each case is a copy of one small real snapshot holding a study and a "this network now"
result, with its landscape files damaged (most re-hashed so they pass the checksums). The
snapshot must still load (the loader, ``export`` and the page's upload), with one clear line
naming the problem in ``problems``; the damaged part is dropped, and every other part (the
run's weights and history, the other landscape part when it is sound) is kept unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
import safetensors.numpy
from landscape_helpers import assert_same_landscape, landscape, small_run

from explorer.snapshot import capture, load_snapshot, write
from explorer.snapshot.landscape import LANDSCAPE_ARRAYS as ARR
from explorer.snapshot.landscape import LANDSCAPE_JSON as JSON


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """(files of the snapshot, its landscape, the loaded snapshot)."""
    data = capture(*small_run())
    data.landscape = landscape()
    path = write(data, tmp_path_factory.mktemp("base") / "snap.zip")
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return files, data.landscape, load_snapshot(path)


def rehash(files):
    manifest = json.loads(files["manifest.json"])
    for name, blob in files.items():
        if name != "manifest.json":
            manifest["files"][name] = {"sha256": hashlib.sha256(blob).hexdigest()}
    return {**files, "manifest.json": json.dumps(manifest).encode()}


def edit_json(fn):
    def case(files):
        doc = json.loads(files[JSON])
        fn(doc)
        return rehash({**files, JSON: json.dumps(doc).encode()})

    return case


def edit_arrays(fn):
    def case(files):
        arrays = dict(safetensors.numpy.load(files[ARR]))
        fn(arrays)
        return rehash({**files, ARR: safetensors.numpy.save(arrays)})

    return case


def _arr(name, value):
    return edit_arrays(lambda a: a.__setitem__(name, value))


def _nan_axis(a):
    a["study.0.alphas"] = a["study.0.alphas"].copy()
    a["study.0.alphas"][2] = np.nan


def _study(key, value):
    return edit_json(lambda d: d["study"].__setitem__(key, value))


def _drop(part, key):
    def fn(d):
        target = d[part]["summary"] if part == "network" else d[part]
        del target[key]

    return edit_json(fn)


def _bad_run(key, value):
    def fn(d):
        d["study"]["runs"][0][key] = value

    return edit_json(fn)


def _bad_record(key, value):
    def fn(d):
        next(r for r in d["study"]["records"] if r["kind"] == "eval")[key] = value

    return edit_json(fn)


def _flip(files):  # not re-hashed: the checksum catches it
    blob = files[ARR]
    return {**files, ARR: blob[:-5] + bytes([blob[-5] ^ 0xFF]) + blob[-4:]}


def _unlisted(files):
    manifest = json.loads(files["manifest.json"])
    del manifest["files"][JSON]
    return {**files, "manifest.json": json.dumps(manifest).encode()}


STUDY, NETWORK, BOTH = "study", "network", "study+network"
#: name -> (damage, which parts are lost, what the message must say)
CASES = {
    "loss of the wrong shape": (
        _arr("study.0.loss", np.zeros((4, 5))),
        STUDY,
        r"grid loss has shape \(4, 5\); its axes betas x alphas make \(5, 5\)",
    ),
    "variance of the wrong shape": (
        _arr("network.variance", np.zeros((3, 2), np.float32)),
        NETWORK,
        r"network: grid variance has shape",
    ),
    "NaN in an axis": (edit_arrays(_nan_axis), STUDY, r"axis alphas holds NaN"),
    "axis not increasing": (
        _arr("network.alphas", np.float32([0, 1, 1, 2, 3])),
        NETWORK,
        r"axis alphas is not strictly increasing",
    ),
    "huge axis": (
        _arr("network.betas", np.linspace(0, 1, 5000, dtype=np.float32)),
        NETWORK,
        r"axis betas has shape \(5000,\); accepted: 1 to 401 points",
    ),
    "2-D axis": (_arr("study.1.betas", np.zeros((5, 1))), STUDY, r"axis betas has shape"),
    "integer grid": (
        _arr("study.1.loss", np.zeros((5, 5), np.int64)),
        STUDY,
        r"grid loss has dtype int64; accepted: float32, float64",
    ),
    "float16 grid": (
        _arr("network.loss", np.zeros((5, 5), np.float16)),
        NETWORK,
        r"dtype float16",
    ),
    "array not stored": (
        edit_arrays(lambda a: a.pop("network.loss")),
        NETWORK,
        r"grid loss refers to array 'network.loss', not stored",
    ),
    "variance without its axes": (
        edit_arrays(lambda a: a.pop("study.0.var_betas")),
        STUDY,
        r"refers to array 'study.0.var_betas', not stored",
    ),
    "missing summary key": (
        _drop("network", "top_eigenvalue"),
        NETWORK,
        r"missing key\(s\) top_eigenvalue",
    ),
    "missing study key": (_drop("study", "runs"), STUDY, r"missing key\(s\) runs"),
    "runs not a list": (_study("runs", {"a": 1}), STUDY, r"runs must be a list"),
    "eigenvalue as text": (
        edit_json(lambda d: d["network"]["summary"].__setitem__("top_eigenvalue", "big")),
        NETWORK,
        r"top_eigenvalue must be a number, is str",
    ),
    "config out of bounds": (
        edit_json(lambda d: d["study"]["config"].__setitem__("n_nodes", 10_000)),
        STUDY,
        r"config is not valid",
    ),
    "config unknown field": (
        edit_json(lambda d: d["study"]["config"].__setitem__("path", "/etc/passwd")),
        STUDY,
        r"config: unknown field\(s\) path",
    ),
    "no learning rate": (
        edit_json(lambda d: d["study"]["config"].__setitem__("learning_rates", [])),
        STUDY,
        r"learning_rates must be a non-empty list",
    ),
    "run of an unknown cell": (
        _bad_run("variant", "ghost"),
        STUDY,
        r"'ghost' is not a stored cell",
    ),
    "NaN learning rate": (
        _bad_run("lr", {"__float__": "nan"}),
        STUDY,
        r"runs\[0\]: lr must be finite",
    ),
    "run figure as text": (_bad_run("test_loss_auc", "x"), STUDY, r"test_loss_auc must be a"),
    "nested run value": (_bad_run("seed", {"a": [1]}), STUDY, r"runs\[0\].seed must be a plain"),
    "eval record without loss": (
        edit_json(
            lambda d: next(r for r in d["study"]["records"] if r["kind"] == "eval").pop("test_loss")
        ),
        STUDY,
        r"missing key\(s\) test_loss",
    ),
    "eval record step negative": (_bad_record("step", -3), STUDY, r"step must be a non-negative"),
    "too many cells": (
        _study("cells", [{"name": f"c{i}", "width": 1, "depth": 1} for i in range(65)]),
        STUDY,
        r"65 cells, more than the limit of 64",
    ),
    "duplicate cell": (
        edit_json(lambda d: d["study"]["cells"].append(dict(d["study"]["cells"][0]))),
        STUDY,
        r"name must be a unique string",
    ),
    "surface of an unknown cell": (
        edit_json(
            lambda d: d["study"]["surfaces"].__setitem__(
                "ghost/0", d["study"]["surfaces"]["chain/0"]
            )
        ),
        STUDY,
        r"surface 'ghost/0' is not 'stored cell/seed'",
    ),
    "unknown grid name": (
        edit_json(lambda d: d["network"]["grids"].__setitem__("weights", "network.loss")),
        NETWORK,
        r"unknown grid\(s\) weights",
    ),
    "unknown landscape version": (
        edit_json(lambda d: d.__setitem__("landscape_version", 7)),
        BOTH,
        r"unknown landscape_version '7'",
    ),
    "landscape JSON garbage": (
        lambda f: rehash({**f, JSON: b"{not json"}),
        BOTH,
        r"landscape.json: malformed JSON",
    ),
    "landscape JSON not an object": (
        lambda f: rehash({**f, JSON: b"[1, 2]"}),
        BOTH,
        r"landscape.json: expected a JSON object",
    ),
    "arrays garbage": (
        lambda f: rehash({**f, ARR: b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage}" + b"x" * 20}),
        BOTH,
        r"landscape.safetensors: truncated or malformed safetensors file",
    ),
    "arrays truncated": (
        lambda f: rehash({**f, ARR: f[ARR][: len(f[ARR]) // 2]}),
        BOTH,
        r"truncated or malformed safetensors file",
    ),
    "arrays header claims huge sizes": (
        lambda f: rehash({**f, ARR: _huge_header()}),
        BOTH,
        r"truncated or malformed safetensors file",
    ),
    "arrays file missing": (
        lambda f: rehash({k: v for k, v in f.items() if k != ARR}),
        BOTH,
        r"landscape.safetensors: listed in the manifest but missing",
    ),
    "arrays flipped byte": (_flip, BOTH, r"landscape.safetensors: checksum mismatch"),
    "json not in the manifest": (_unlisted, BOTH, r"landscape.json: not listed in the manifest"),
}


def _huge_header() -> bytes:
    header = json.dumps(
        {"network.loss": {"dtype": "F64", "shape": [1 << 20, 1 << 20], "data_offsets": [0, 8]}}
    ).encode()
    return len(header).to_bytes(8, "little") + header + b"\x00" * 8


def _expect_kept(data, base_data, lost: str, full: dict) -> None:
    """Every part of the run as in the intact snapshot; the landscape minus ``lost``."""
    assert data.history_rows.keys() == base_data.history_rows.keys()
    for kind, rows in base_data.history_rows.items():
        assert len(data.history_rows[kind]) == len(rows)
    for name, tensor in base_data.trainer["model"].items():
        assert data.trainer["model"][name].equal(tensor)
    assert data.config == base_data.config and data.step == base_data.step
    kept = {k: v for k, v in full.items() if k not in lost.split("+")}
    assert_same_landscape(kept, data.landscape)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_landscape_is_dropped_with_a_message(case, base, tmp_path):
    files, full, base_data = base
    damage, lost, message = CASES[case]
    path = tmp_path / "snap.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in damage(files).items():
            zf.writestr(name, blob)
    data = load_snapshot(path)
    assert len(data.problems) == 1, data.problems
    problem = data.problems[0]
    assert __import__("re").search(message, problem), problem
    assert "not loaded" in problem and "\n" not in problem and len(problem) < 400
    _expect_kept(data, base_data, lost, full)


def test_landscape_file_over_the_size_cap_is_not_read(base, tmp_path, monkeypatch):
    """Sizes are checked before reading: the zip's directory (or the folder's stat)."""
    import explorer.snapshot.load as load

    files, full, base_data = base
    monkeypatch.setattr(load, "MAX_LANDSCAPE_BYTES", 1000)
    path = tmp_path / "snap.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    for where in (path, write(base_data, tmp_path / "folder")):
        data = load_snapshot(where)
        assert any("more than the limit of 1000" in p for p in data.problems), data.problems
        assert data.landscape == {}
        _expect_kept(data, base_data, "study+network", full)


def test_export_and_upload_say_what_was_left_out(base, tmp_path, capsys):
    """The CLI prints one warning line and exports the rest; the page's upload opens the
    run and says what was not loaded, naming the upload rather than a server path."""
    from explorer.cli import main
    from explorer.snapshot.untrusted import load_uploaded_snapshot

    files = CASES["NaN in an axis"][0](base[0])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    path = tmp_path / "bad-landscape.zip"
    path.write_bytes(buf.getvalue())
    assert main(["export", str(path), "--csv", str(tmp_path / "csv")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "holds NaN" in err[0]
    data = load_uploaded_snapshot(buf.getvalue(), "mine.zip")
    assert data.problems and data.problems[0].startswith("mine.zip/landscape.json")
    assert "/tmp" not in data.problems[0] and "network" in data.landscape
