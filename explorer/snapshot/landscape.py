"""The landscape part of a snapshot (issue 16): the cell study's results and the last
"landscape of this network now", in two optional files.

=========================  ================================================================
``landscape.json``         ``landscape_version``; ``study``: its config, cells, runs and
                           eval records (JSON), and per "cell/seed" the names of its grids;
                           ``network``: the summary figures and the names of its grids
``landscape.safetensors``  the grids (contour axes and loss, variance axes and variance),
                           float32/float64, exactly as measured
=========================  ================================================================

The files are there only when the session has a landscape result; a snapshot without them
(every snapshot of schema 1) loads as before. They are checked apart from the rest of the
snapshot: anything wrong in them (wrong shapes or dtypes, non-finite or unordered axes, a
missing key, sizes over the caps below, a checksum mismatch) drops that part with a one-line
message in ``SnapshotData.problems`` and loses no other state. Grid *values* may be NaN or
infinite (a diverged network's loss); the views leave such points out of their colour range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import safetensors.numpy

from explorer.snapshot.schema import SnapshotError, decode_tree, dumps, encode_tree, loads

LANDSCAPE_JSON = "landscape.json"
LANDSCAPE_ARRAYS = "landscape.safetensors"
OPTIONAL_FILES = (LANDSCAPE_JSON, LANDSCAPE_ARRAYS)
LANDSCAPE_VERSION = 1
#: caps on what a landscape part may hold (far above what the page makes: grids of at most
#: 101 points a side, 26 cells, 10 seeds)
MAX_BYTES = 256 << 20
MAX_SIDE = 401
MAX_CELLS = 64
MAX_RUNS = 100_000
MAX_RECORDS = 1_000_000
AXES = {"loss": ("alphas", "betas"), "variance": ("var_alphas", "var_betas")}
GRID_NAMES = ("alphas", "betas", "loss", "variance", "var_alphas", "var_betas")
NETWORK_SUMMARY = ("top_eigenvalue", "hessian_iters", "loss_at_optimum", "variance_at_optimum")
#: study run fields the views compute with: a number or null when present
RUN_NUMBERS = (
    "final_test_acc",
    "final_test_loss",
    "test_loss_auc",
    "steps_to_target",
    "top_eigenvalue",
    "loss_at_optimum",
    "variance_at_optimum",
    "hessian_iters",
)


class PartError(SnapshotError):
    """One landscape part is unusable; the message says which and why."""


# -- saving -------------------------------------------------------------------------------------
def encode_landscape(landscape: dict) -> dict[str, bytes]:
    """``{"study": StudyResult, "network": LandscapeResult}`` (either may be absent) as the
    two files; ``{}`` when there is nothing to save."""
    doc: dict[str, Any] = {"landscape_version": LANDSCAPE_VERSION}
    arrays: dict[str, np.ndarray] = {}
    study = landscape.get("study")
    if study is not None:
        grids = {}
        for i, (key, surface) in enumerate(sorted(study.surfaces.items())):
            grids[key] = _put(arrays, f"study.{i}", surface)
        doc["study"] = {
            "config": encode_tree(study.config, None, "study.config"),
            "cells": encode_tree(study.cells, None, "study.cells"),
            "runs": encode_tree(study.runs, None, "study.runs"),
            "records": encode_tree(study.records, None, "study.records"),
            "surfaces": grids,
        }
    net = landscape.get("network")
    if net is not None:
        doc["network"] = {
            "summary": encode_tree(net.summary(), None, "network.summary"),
            "grids": _put(arrays, "network", net.to_arrays()),
        }
    if len(doc) == 1:
        return {}
    return {LANDSCAPE_JSON: dumps(doc), LANDSCAPE_ARRAYS: safetensors.numpy.save(arrays)}


def _put(arrays: dict, prefix: str, grids: dict) -> dict[str, str]:
    names = {}
    for name, value in grids.items():
        names[name] = f"{prefix}.{name}"
        arrays[names[name]] = np.ascontiguousarray(value)
    return names


# -- loading --------------------------------------------------------------------------------------
def decode_landscape(files: dict[str, bytes], where: str) -> tuple[dict, list[str]]:
    """The landscape parts of a snapshot's files (already checked against the manifest) and a
    message per part that was dropped."""
    present = [n for n in OPTIONAL_FILES if n in files]
    if not present:
        return {}, []
    if len(present) == 1:
        missing = next(n for n in OPTIONAL_FILES if n not in files)
        return {}, [f"{where}/{missing}: missing; the landscape results were not loaded"]
    try:
        doc = loads(files[LANDSCAPE_JSON], f"{where}/{LANDSCAPE_JSON}")
        if not isinstance(doc, dict):
            raise PartError(f"{where}/{LANDSCAPE_JSON}: expected a JSON object")
        version = doc.get("landscape_version")
        if version != LANDSCAPE_VERSION or isinstance(version, bool):
            raise PartError(
                f"{where}/{LANDSCAPE_JSON}: unknown landscape_version {str(version)[:20]!r}; "
                f"this version of the explorer reads {LANDSCAPE_VERSION}"
            )
        try:
            arrays = safetensors.numpy.load(files[LANDSCAPE_ARRAYS])
        except Exception as exc:  # noqa: BLE001 - any parser failure is this one message
            raise PartError(
                f"{where}/{LANDSCAPE_ARRAYS}: truncated or malformed safetensors file "
                f"({type(exc).__name__}: {str(exc)[:120]})"
            ) from None
    except SnapshotError as exc:
        return {}, [f"{exc}; the landscape results were not loaded"]
    out: dict = {}
    problems = []
    for part, decode in (("study", _study), ("network", _network)):
        if part not in doc:
            continue
        try:
            out[part] = decode(doc[part], arrays, f"{where}/{LANDSCAPE_JSON}: {part}")
        except SnapshotError as exc:
            problems.append(f"{exc}; the {part} landscape was not loaded")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            problems.append(
                f"{where}/{LANDSCAPE_JSON}: {part}: unexpected structure "
                f"({type(exc).__name__}: {str(exc)[:120]}); the {part} landscape was not loaded"
            )
    return out, problems


def _grids(names: Any, arrays: dict, where: str) -> dict[str, np.ndarray]:
    """A contour (and optional variance) grid set, every array checked."""
    if not isinstance(names, dict):
        raise PartError(f"{where}: grids must map names to stored arrays")
    unknown = sorted(str(k)[:30] for k in names if k not in GRID_NAMES)
    if unknown:
        raise PartError(f"{where}: unknown grid(s) {', '.join(unknown)}")
    out = {}
    for name, key in names.items():
        if not isinstance(key, str) or key not in arrays:
            raise PartError(f"{where}: grid {name} refers to array {str(key)[:60]!r}, not stored")
        a = arrays[key]
        if a.dtype not in (np.float32, np.float64):
            raise PartError(f"{where}: grid {name} has dtype {a.dtype}; accepted: float32, float64")
        out[name] = a
    for values, (xs, ys) in AXES.items():
        have = [n for n in (values, xs, ys) if n in out]
        if values != "loss" and not have:
            continue
        if len(have) != 3:
            lacking = ", ".join(n for n in (values, xs, ys) if n not in out)
            raise PartError(f"{where}: grid {values} lacks {lacking}")
        for axis in (xs, ys):
            a = out[axis]
            if a.ndim != 1 or not 1 <= len(a) <= MAX_SIDE:
                raise PartError(
                    f"{where}: axis {axis} has shape {a.shape}; accepted: 1 to {MAX_SIDE} points"
                )
            if not np.isfinite(a).all():
                raise PartError(f"{where}: axis {axis} holds NaN or infinite values")
            if len(a) > 1 and not (np.diff(a) > 0).all():
                raise PartError(f"{where}: axis {axis} is not strictly increasing")
        shape = (len(out[ys]), len(out[xs]))
        if out[values].shape != shape:
            raise PartError(
                f"{where}: grid {values} has shape {out[values].shape}; its axes "
                f"{ys} x {xs} make {shape}"
            )
    return out


def _network(doc: Any, arrays: dict, where: str):
    from kernels.landscape.analysis import LandscapeResult

    _need(doc, ("summary", "grids"), where)
    summary = decode_tree(doc["summary"], None, where)
    _need(summary, NETWORK_SUMMARY, f"{where} summary")
    for key in NETWORK_SUMMARY:
        _number(summary[key], f"{where} summary: {key}", allow_none=False)
    g = _grids(doc["grids"], arrays, where)
    return LandscapeResult(
        alphas=g["alphas"],
        betas=g["betas"],
        loss=g["loss"],
        variance=g.get("variance"),
        var_alphas=g.get("var_alphas"),
        var_betas=g.get("var_betas"),
        top_eigenvalue=float(summary["top_eigenvalue"]),
        hessian_iters=int(summary["hessian_iters"]),
        loss_at_optimum=float(summary["loss_at_optimum"]),
        variance_at_optimum=float(summary["variance_at_optimum"]),
    )


def _study(doc: Any, arrays: dict, where: str):
    from explorer.landscape.study import StudyConfig, StudyResult

    _need(doc, ("config", "cells", "runs", "records", "surfaces"), where)
    config = decode_tree(doc["config"], None, where)
    cells = decode_tree(doc["cells"], None, where)
    runs = decode_tree(doc["runs"], None, where)
    records = decode_tree(doc["records"], None, where)
    if not isinstance(config, dict):
        raise PartError(f"{where}: config must be a JSON object")
    unknown = sorted(str(k)[:30] for k in config if k not in StudyConfig.param or k == "name")
    if unknown:
        raise PartError(f"{where}: config: unknown field(s) {', '.join(unknown)}")
    try:
        StudyConfig(**config)
    except (TypeError, ValueError) as exc:
        raise PartError(f"{where}: config is not valid: {str(exc)[:200]}") from None
    rates = config.get("learning_rates")
    if not isinstance(rates, list) or not rates:
        raise PartError(f"{where}: config: learning_rates must be a non-empty list")
    for r in rates:
        _number(r, f"{where}: config: learning rate", allow_none=False, finite=True)
    names = _cells(cells, where)
    _rows(runs, MAX_RUNS, "runs", where)
    for i, run in enumerate(runs):
        at = f"{where}: runs[{i}]"
        _need(run, ("variant", "lr", "seed"), at)
        if run["variant"] not in names:
            raise PartError(f"{at}: variant {str(run['variant'])[:40]!r} is not a stored cell")
        _number(run["lr"], f"{at}: lr", allow_none=False, finite=True)
        _int(run["seed"], f"{at}: seed")
        for key in RUN_NUMBERS:
            if key in run:
                _number(run[key], f"{at}: {key}")
    _rows(records, MAX_RECORDS, "records", where)
    for i, rec in enumerate(records):
        at = f"{where}: records[{i}]"
        _need(rec, ("kind",), at)
        if rec["kind"] == "eval":
            _need(rec, ("variant", "lr", "step", "test_loss", "test_acc"), at)
            _int(rec["step"], f"{at}: step")
            for key in ("lr", "test_loss", "test_acc"):
                _number(rec[key], f"{at}: {key}", allow_none=False)
    surfaces = doc["surfaces"]
    if not isinstance(surfaces, dict):
        raise PartError(f"{where}: surfaces must map 'cell/seed' to grids")
    out = StudyResult(config, cells, runs, records)
    for key, grids in surfaces.items():
        cell, _, seed = str(key).rpartition("/")
        if cell not in names or not seed.isdigit():
            raise PartError(f"{where}: surface {str(key)[:60]!r} is not 'stored cell/seed'")
        out.surfaces[key] = _grids(grids, arrays, f"{where}: surface {key}")
    return out


def _cells(cells: Any, where: str) -> set[str]:
    _rows(cells, MAX_CELLS, "cells", where)
    names: set[str] = set()
    for i, c in enumerate(cells):
        at = f"{where}: cells[{i}]"
        _need(c, ("name", "width", "depth"), at)
        if not isinstance(c["name"], str) or not 0 < len(c["name"]) <= 64 or c["name"] in names:
            raise PartError(f"{at}: name must be a unique string of 1 to 64 characters")
        _number(c["width"], f"{at}: width", allow_none=False, finite=True)
        _int(c["depth"], f"{at}: depth")
        names.add(c["name"])
    return names


def _rows(rows: Any, cap: int, what: str, where: str) -> None:
    if not isinstance(rows, list):
        raise PartError(f"{where}: {what} must be a list")
    if len(rows) > cap:
        raise PartError(f"{where}: {len(rows)} {what}, more than the limit of {cap}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise PartError(f"{where}: {what}[{i}] must be a JSON object")
        for k, v in r.items():
            if isinstance(v, (dict, tuple)):
                raise PartError(f"{where}: {what}[{i}].{str(k)[:30]} must be a plain value")


def _need(obj: Any, keys, where: str) -> None:
    if not isinstance(obj, dict):
        raise PartError(f"{where}: expected a JSON object")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise PartError(f"{where}: missing key(s) {', '.join(missing)}")


def _number(v: Any, where: str, allow_none: bool = True, finite: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PartError(f"{where} must be a number, is {type(v).__name__}")
    if finite and not math.isfinite(v):
        raise PartError(f"{where} must be finite, is {v}")


def _int(v: Any, where: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise PartError(f"{where} must be a non-negative integer")
