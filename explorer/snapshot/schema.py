"""The snapshot format: file names, the schema version, and the encodings of its parts.

A snapshot is a folder (or a ``.zip`` of the same files) of plain JSON and arrays:

=====================  ================================================================
``manifest.json``      ``schema_version``, and per file its sha256 and size in bytes
``session.json``       config, knob values, run summary, unit event counts, trainer
                       counters (what ``run --out`` always wrote, plus what resume needs)
``state.json``         structure of the optimizer state, the method state and the RNG;
                       every tensor in them is a ``{"__tensor__": key}`` reference
``state.safetensors``  those tensors (optimizer moments, AdaRad averages, RNG states, ...)
``weights.safetensors``  the model's parameters and buffers (``state_dict`` names)
``units.npz``          unit ids and birth steps per hidden layer, the current unit table
``records.json``       how ``records.npz`` encodes every history record kind (columns)
``records.npz``        the history records themselves, column-wise, exactly
``history.npz``        the same history as flat ``"kind.column"`` arrays, for reading
                       with numpy alone (``np.load(..., allow_pickle=False)``)
``landscape.*``        optional: the landscape results (:mod:`explorer.snapshot.landscape`)
=====================  ================================================================

Schema 2 added the optional landscape files; schema 1 snapshots (without them) still load.

JSON is strict (no NaN/Infinity literals: non-finite floats are ``{"__float__": "nan"}``);
arrays are npz read with ``allow_pickle=False`` and safetensors. Nothing in a snapshot is
ever unpickled or executed.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch

SCHEMA_VERSION = 2
#: schema versions this explorer reads (1: before the landscape part)
READABLE_VERSIONS = (1, 2)
FORMAT = "sizing-explorer-snapshot"
MANIFEST = "manifest.json"
FILES = (
    "session.json",
    "state.json",
    "state.safetensors",
    "weights.safetensors",
    "units.npz",
    "records.json",
    "records.npz",
    "history.npz",
)


class SnapshotError(ValueError):
    """A snapshot cannot be written or read; the message names the file and the problem.

    A ValueError, so the CLI reports it as bad input rather than a crash."""


# -- JSON -------------------------------------------------------------------------------------
def dumps(obj: Any) -> bytes:
    """Strict JSON (allow_nan=False): callers encode non-finite floats with ``encode_tree``."""
    return json.dumps(obj, indent=1, allow_nan=False).encode("utf-8")


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def loads(data: bytes, name: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SnapshotError(f"{name}: malformed JSON ({exc})") from None


# -- trees of JSON values and tensors -----------------------------------------------------------
def encode_tree(obj: Any, tensors: dict[str, torch.Tensor] | None, path: str = "") -> Any:
    """A nested structure as strict JSON; tensors go to ``tensors`` under their path.

    Non-string dict keys (the optimizer's integer param ids), tuples and non-finite floats are
    tagged so that ``decode_tree`` gives back exactly the same structure and types.
    """
    if isinstance(obj, torch.Tensor):
        if tensors is None:
            raise SnapshotError(f"{path or 'value'}: a tensor cannot be stored here")
        tensors[path] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise SnapshotError(
                f"{path}: arrays of dtype {obj.dtype} cannot be stored; "
                "accepted: bool, integer and float arrays"
            )
        if tensors is None:
            return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj).copy())
        return {"__ndarray__": path}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_tree(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode_tree(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_tree(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, np.integer)) or isinstance(k, bool):
                raise SnapshotError(
                    f"{path}: dict key {k!r} of type {type(k).__name__} cannot "
                    "be stored; accepted: str and int keys"
                )
            key = int(k) if isinstance(k, (int, np.integer)) else k
            items.append([key, encode_tree(v, tensors, f"{path}/{key}")])
        return {"__items__": items}
    raise SnapshotError(
        f"{path or 'value'}: a {type(obj).__name__} cannot be stored in a "
        "snapshot; accepted: numbers, strings, lists, dicts, tensors, arrays"
    )


def decode_tree(obj: Any, tensors: dict[str, torch.Tensor] | None, where: str) -> Any:
    """Inverse of ``encode_tree``; a reference to a missing tensor is a SnapshotError."""
    if isinstance(obj, list):
        return [decode_tree(v, tensors, where) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj or ("__ndarray__" in obj and isinstance(obj["__ndarray__"], str)):
        key = obj.get("__tensor__", obj.get("__ndarray__"))
        if tensors is None or not isinstance(key, str) or key not in tensors:
            raise SnapshotError(f"{where}: refers to tensor {key!r} that is not stored")
        t = tensors[key]
        return t if "__tensor__" in obj else t.numpy()
    if "__ndarray__" in obj:
        try:
            dtype = np.dtype(str(obj.get("dtype")))
        except TypeError:
            raise SnapshotError(
                f"{where}: unknown array dtype {str(obj.get('dtype'))[:40]!r}"
            ) from None
        if dtype.kind not in "biuf" or dtype.itemsize > 8 or dtype.fields or dtype.subdtype:
            raise SnapshotError(
                f"{where}: arrays of dtype {dtype.str!r} are not accepted; "
                "accepted: bool, integer or float of at most 8 bytes"
            )
        return np.asarray(obj["__ndarray__"], dtype=dtype)
    if "__float__" in obj:
        text = obj["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise SnapshotError(f"{where}: bad non-finite float {text!r}")
        return float(text)
    if "__tuple__" in obj:
        return tuple(decode_tree(v, tensors, where) for v in obj["__tuple__"])
    if "__items__" in obj:
        out = {}
        for pair in obj["__items__"]:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not isinstance(pair[0], (str, int))
                or isinstance(pair[0], bool)
            ):
                raise SnapshotError(f"{where}: bad dict item {pair!r}")
            out[pair[0]] = decode_tree(pair[1], tensors, where)
        return out
    return {k: decode_tree(v, tensors, where) for k, v in obj.items()}


# -- history records, column-wise ----------------------------------------------------------------
def _column_type(values: list) -> str:
    """The narrowest column type that gives back every value with its Python type."""
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "bool"
    if all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values
    ):
        return "int"
    if all(isinstance(v, (float, np.floating)) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "biuf" for v in values):
        return "array"
    if all(isinstance(v, list) for v in values):
        flat = [x for v in values for x in v]
        if all(
            isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in flat
        ):
            return "int_list"
        if all(isinstance(x, (float, np.floating)) for x in flat):
            return "float_list"
    return "json"


def encode_records(rows: list[dict], prefix: str, arrays: dict[str, np.ndarray]) -> dict:
    """Records of one kind as column arrays in ``arrays``; returns the column spec (JSON)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    columns = []
    for ci, key in enumerate(keys):
        present = np.array([key in r for r in rows], dtype=bool)
        values = [r[key] for r in rows if key in r]
        ctype = _column_type(values)
        name = f"{prefix}c{ci}"
        arrays[f"{name}.present"] = present
        spec = {"key": key, "type": ctype, "array": name}
        if ctype == "bool":
            arrays[f"{name}.values"] = np.array(values, dtype=bool)
        elif ctype == "int":
            arrays[f"{name}.values"] = np.array(values, dtype=np.int64)
        elif ctype == "float":
            arrays[f"{name}.values"] = np.array(values, dtype=np.float64)
        elif ctype == "str":
            arrays[f"{name}.values"] = np.array(values, dtype=np.str_)
        elif ctype in ("int_list", "float_list"):
            list_dtype = np.int64 if ctype == "int_list" else np.float64
            arrays[f"{name}.values"] = np.array([x for v in values for x in v], dtype=list_dtype)
            arrays[f"{name}.lengths"] = np.array([len(v) for v in values], dtype=np.int64)
        elif ctype == "array":
            dtype = np.result_type(*[v.dtype for v in values])
            arrays[f"{name}.values"] = (
                np.concatenate(values).astype(dtype, copy=False)
                if values
                else np.zeros(0, dtype=dtype)
            )
            arrays[f"{name}.lengths"] = np.array([len(v) for v in values], dtype=np.int64)
        else:
            arrays[f"{name}.values"] = np.array(
                [
                    json.dumps(encode_tree(v, None, f"{prefix}{key}"), allow_nan=False)
                    for v in values
                ],
                dtype=np.str_,
            )
        columns.append(spec)
    return {"count": len(rows), "columns": columns}


def decode_records(spec: dict, arrays, where: str) -> list[dict]:
    """Inverse of ``encode_records``; any inconsistency is a SnapshotError naming ``where``."""
    count = spec["count"]
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SnapshotError(f"{where}: bad record count {str(count)[:40]!r}")
    columns = spec["columns"]
    if not isinstance(columns, list):
        raise SnapshotError(f"{where}: 'columns' must be a list")
    # every count is checked against the stored arrays before anything is allocated for it
    masks = [_get(arrays, f"{col['array']}.present", where) for col in columns]
    for col, present in zip(columns, masks, strict=True):
        if present.dtype != bool or present.shape != (count,):
            raise SnapshotError(
                f"{where}: column {str(col['key'])[:40]!r} has a presence mask "
                f"of shape {present.shape}, the record count is {count}"
            )
    if not columns and count:
        raise SnapshotError(f"{where}: {count} records but no columns")
    rows: list[dict] = [{} for _ in range(count)]
    for col, present in zip(columns, masks, strict=True):
        key, ctype, name = col["key"], col["type"], col["array"]
        n = int(present.sum())
        values = _get(arrays, f"{name}.values", where)
        if ctype in ("int_list", "float_list", "array"):
            lengths = _get(arrays, f"{name}.lengths", where)
            if (
                lengths.shape != (n,)
                or lengths.dtype.kind != "i"
                or (lengths < 0).any()
                or int(lengths.sum()) != len(values)
            ):
                raise SnapshotError(f"{where}: column {key!r} lengths do not match its values")
            parts = np.split(values, np.cumsum(lengths)[:-1]) if n else []
            decoded = [p.copy() if ctype == "array" else p.tolist() for p in parts]
        else:
            if values.shape != (n,):
                raise SnapshotError(
                    f"{where}: column {key!r} holds {values.shape} values for {n} records"
                )
            if ctype in ("bool", "int", "float", "str"):
                expected = {"bool": "b", "int": "i", "float": "f", "str": "U"}[ctype]
                if values.dtype.kind != expected:
                    raise SnapshotError(
                        f"{where}: column {key!r} should be {ctype}, is {values.dtype}"
                    )
                decoded = values.tolist()
            elif ctype == "json":
                decoded = [
                    decode_tree(loads(str(v).encode("utf-8"), where), None, where) for v in values
                ]
            else:
                raise SnapshotError(f"{where}: unknown column type {ctype!r} for {key!r}")
        for i, value in zip(np.flatnonzero(present), decoded, strict=True):
            rows[i][key] = value
    return rows


def _get(arrays, name: str, where: str) -> np.ndarray:
    if name not in arrays:
        raise SnapshotError(f"{where}: array {name!r} is missing")
    return arrays[name]
