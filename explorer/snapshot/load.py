"""Reading a snapshot: checked, and never unpickling or executing anything from the file.

Every file is checked against the manifest's sha256 before it is parsed; JSON is parsed
strictly, npz with ``allow_pickle=False``, tensors with safetensors. Whatever is wrong (a
missing file, a wrong checksum, an unknown schema version, a truncated array, malformed
JSON, an inconsistent structure) comes out as ``SnapshotError`` naming the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import safetensors.torch

from explorer.data import bounded
from explorer.snapshot.data import SnapshotData
from explorer.snapshot.landscape import MAX_BYTES as MAX_LANDSCAPE_BYTES
from explorer.snapshot.landscape import OPTIONAL_FILES, decode_landscape
from explorer.snapshot.save import OPTIONAL_TRAINER_SCALARS, TRAINER_SCALARS
from explorer.snapshot.schema import (
    FILES,
    FORMAT,
    MANIFEST,
    READABLE_VERSIONS,
    SnapshotError,
    decode_records,
    decode_tree,
    loads,
)

#: what one snapshot may expand to: per file and in all (checked from sizes and headers
#: before anything is decompressed, so a zip bomb or a lying header costs nothing)
BUDGET = bounded.Budget(member=1 << 30, total=2 << 30, members=100_000)
#: record kinds name files on export (``KIND.csv``): plain identifiers only
KIND_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
#: the end of every message about a landscape file left out
LOST = "the landscape results were not loaded"


@contextmanager
def _reading(where: str, problem: str):
    """Turn any parser failure into a SnapshotError that names the file."""
    try:
        yield
    except SnapshotError:
        raise
    except MemoryError:
        raise SnapshotError(f"{where}: {problem} (too large to hold in memory)") from None
    except Exception as exc:  # noqa: BLE001 - the loader promises SnapshotError only
        raise SnapshotError(
            f"{where}: {problem} ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None


def _read_container(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """The snapshot's files, and a message per optional file left unread (over its cap)."""
    names = (MANIFEST, *FILES)
    problems: list[str] = []

    def too_big(name: str, size: int) -> bool:
        if size <= MAX_LANDSCAPE_BYTES:
            return False
        problems.append(
            f"{path}/{name}: {size} bytes, more than the limit of {MAX_LANDSCAPE_BYTES}; {LOST}"
        )
        return True

    st = bounded.stat_path(path, SnapshotError, f"{path}: no snapshot there")
    if stat.S_ISDIR(st.st_mode):
        out = {}
        total = 0
        for name in (*names, *OPTIONAL_FILES):
            f = path / name
            if not os.path.lexists(f):
                continue
            if name in OPTIONAL_FILES and too_big(name, os.lstat(f).st_size):
                continue
            blob = bounded.read_bytes(f, SnapshotError, BUDGET.member, f"{path}/{name}")
            total += len(blob)
            if total > BUDGET.total:
                raise SnapshotError(
                    f"{path}: files add up to more than the limit of {BUDGET.total} bytes"
                )
            out[name] = blob
        return out, problems
    if st.st_size == 0:
        raise SnapshotError(f"{path}: empty file (0 bytes); not a snapshot .zip")
    with bounded.open_regular(path, SnapshotError, str(path)) as fh:
        with _reading(str(path), "not a readable snapshot .zip or folder"):
            zf = zipfile.ZipFile(fh)
        out = {}
        with zf:
            optional = [
                i
                for i in zf.infolist()
                if i.filename in OPTIONAL_FILES and not too_big(i.filename, i.file_size)
            ]
            wanted = set(names) | {i.filename for i in optional}
            for info in bounded.check_zip(zf, str(path), SnapshotError, BUDGET, wanted):
                with _reading(f"{path}/{info.filename}", "cannot be read from the zip"):
                    out[info.filename] = zf.read(info)
    return out, problems


def _check_manifest(path: Path, files: dict[str, bytes], problems: list[str]) -> dict:
    """The manifest, every required file checked against it; an optional file that is not
    listed or does not match is dropped from ``files`` with a message in ``problems``."""
    if MANIFEST not in files:
        raise SnapshotError(f"{path}/{MANIFEST}: missing; {path} is not a snapshot")
    manifest = loads(files[MANIFEST], f"{path}/{MANIFEST}")
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{path}/{MANIFEST}: expected a JSON object")
    version = manifest.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise SnapshotError(
            f"{path}/{MANIFEST}: unknown schema_version {str(version)[:20]!r}; this "
            f"version of the explorer reads schema {', '.join(map(str, READABLE_VERSIONS))}"
        )
    if manifest.get("format") != FORMAT:
        raise SnapshotError(
            f"{path}/{MANIFEST}: format is {manifest.get('format')!r}, expected {FORMAT!r}"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise SnapshotError(f"{path}/{MANIFEST}: 'files' must map file names to checksums")
    for name in FILES:
        entry = listed.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise SnapshotError(f"{path}/{MANIFEST}: no sha256 listed for {name}")
        if name not in files:
            raise SnapshotError(f"{path}/{name}: missing from the snapshot")
        digest = hashlib.sha256(files[name]).hexdigest()
        if digest != entry["sha256"]:
            raise SnapshotError(
                f"{path}/{name}: checksum mismatch (sha256 {digest[:12]}..., "
                f"manifest says {entry['sha256'][:12]}...); the file is "
                "corrupted or was changed after saving"
            )
    for name in OPTIONAL_FILES:
        entry = listed.get(name)
        if name not in files:
            if entry is not None:
                problems.append(f"{path}/{name}: listed in the manifest but missing; {LOST}")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            problems.append(f"{path}/{name}: not listed in the manifest; {LOST}")
            del files[name]
        elif hashlib.sha256(files[name]).hexdigest() != entry["sha256"]:
            problems.append(
                f"{path}/{name}: checksum mismatch (corrupted or changed after saving); {LOST}"
            )
            del files[name]
    return manifest


def _npz(blob: bytes, where: str, strings: bool = True) -> dict[str, np.ndarray]:
    try:
        with _reading(where, "truncated or malformed array file"):
            return bounded.read_npz(blob, where, SnapshotError, BUDGET, strings=strings)
    except SnapshotError as exc:
        detail = str(exc).removeprefix(f"{where}: ")
        raise SnapshotError(f"{where}: truncated or malformed array file ({detail})") from None


def _tensors(blob: bytes, where: str) -> dict:
    with _reading(where, "truncated or malformed safetensors file"):
        return safetensors.torch.load(blob)


def _check_config(config: dict, where: str) -> None:
    """The whole saved config, checked before anything is built from it: every field within
    the caps of RunConfig, the method known and its options valid by name and type."""
    from explorer.config import RunConfig, check_options

    try:
        check_options(RunConfig.from_dict(config))
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"{where}: the saved config is not valid: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def load_snapshot(path: str | Path) -> SnapshotData:
    """Read and check a snapshot folder or ``.zip``; raises SnapshotError on any problem."""
    path = Path(path)
    files, problems = _read_container(path)
    manifest = _check_manifest(path, files, problems)
    at = {name: f"{path}/{name}" for name in FILES}
    session = loads(files["session.json"], at["session.json"])
    state = loads(files["state.json"], at["state.json"])
    spec = loads(files["records.json"], at["records.json"])
    tensors = _tensors(files["state.safetensors"], at["state.safetensors"])
    weights = _tensors(files["weights.safetensors"], at["weights.safetensors"])
    units = _npz(files["units.npz"], at["units.npz"], strings=False)
    records = _npz(files["records.npz"], at["records.npz"])
    _npz(files["history.npz"], at["history.npz"])  # checked, though resume does not need it

    with _reading(at["session.json"], "unexpected structure"):
        if session.get("schema_version") != manifest["schema_version"]:
            raise SnapshotError(
                f"{at['session.json']}: schema_version "
                f"{session.get('schema_version')!r} differs from the manifest"
            )
        where = at["session.json"]
        config = decode_tree(session["config"], None, where)
        scalars = decode_tree(session["trainer"], None, where)
        trainer = {
            k: scalars[k]
            for k in TRAINER_SCALARS
            if k in scalars or k not in OPTIONAL_TRAINER_SCALARS
        }
        trainer["knobs"] = decode_tree(session["knobs"], None, where)
        summary = decode_tree(session["summary"], None, where)
        if not isinstance(config, dict) or not isinstance(summary, dict):
            raise SnapshotError(f"{where}: config and summary must be JSON objects")
    _check_config(config, at["session.json"])
    with _reading(at["state.json"], "unexpected structure"):
        for name in ("optimizer", "method", "rng", "order"):
            trainer[name] = decode_tree(state[name], tensors, at["state.json"])
    trainer["model"] = weights
    with _reading(at["units.npz"], "unexpected structure"):
        n_layers = sum(1 for k in units if k.startswith("unit_ids."))
        trainer["unit_ids"] = [units[f"unit_ids.{i}"] for i in range(n_layers)]
        trainer["birth_step"] = [units[f"birth_step.{i}"] for i in range(n_layers)]
        if [len(a) for a in trainer["unit_ids"]] != [len(a) for a in trainer["birth_step"]]:
            raise SnapshotError(f"{at['units.npz']}: unit ids and birth steps differ in length")
        unit_table = {k[len("table.") :]: v for k, v in units.items() if k.startswith("table.")}
    with _reading(at["records.json"], "unexpected structure"):
        rows = {}
        for entry in spec["kinds"]:
            kind = entry["kind"]
            if not isinstance(kind, str) or not KIND_NAME.match(kind):
                raise SnapshotError(
                    f"{at['records.json']}: record kind {str(kind)[:40]!r} is "
                    "not a plain name; accepted: ^[a-z_][a-z0-9_]*$"
                )
            rows[kind] = decode_records(entry, records, at["records.npz"])
        tables = decode_records(spec["units"], records, at["records.npz"])
        limits = {
            "max_rows": int(spec["limits"]["max_rows"]),
            "max_tables": int(spec["limits"]["max_tables"]),
        }
    # the landscape part is read only when its files came through whole (one message each)
    landscape, dropped = decode_landscape(files, str(path)) if not problems else ({}, [])
    return SnapshotData(
        landscape=landscape,
        problems=problems + dropped,
        config=config,
        trainer=trainer,
        history_rows=rows,
        history_tables=tables,
        history_limits=limits,
        unit_table=unit_table,
        summary=summary,
        schema_version=manifest["schema_version"],
        created=str(manifest.get("created", "")),
    )
