"""Argument types and checks shared by the subcommands (hidden sizes, key=value options,
knob values, help text from a knob's doc)."""

from __future__ import annotations

import argparse
import json
import math
import re

from explorer.knobs import Knobs


def first_sentence(text: str) -> str:
    """The first sentence of a knob's doc, for ``--help``: it ends at a full stop followed by
    a capital letter or the end, so "ShrinkNets sec. 3.5" or "eq. 8" stay whole; ``%`` is
    doubled (argparse formats help strings with it)."""
    head = re.split(r"\.(?=\s+[A-Z(]|\s*$)", text.strip(), maxsplit=1)[0]
    return head.replace("%", "%%")


def _radial(text: str):
    """``--radial-lr``: "auto" (alpha_r = 1/(T lambda), T the data set's Table 3 lifetime or
    5 epochs) or a number."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--radial-lr must be 'auto' or a number, got '{text}'"
        ) from None


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, e.g. 10,10; got '{text}'"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1, got '{text}'")
    return sizes


def _options(pairs: list[str], flag: str = "--option") -> dict:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true/false)."""
    out = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{flag} '{pair[:60]}' must look like key=value, e.g. optimizer=adam")
        try:
            out[key.strip()] = json.loads(value, parse_constant=_no_constant)
        except ValueError:  # not JSON (or NaN/Infinity): keep the text
            out[key.strip()] = value
    return out


def _no_constant(name: str):
    raise ValueError(name)


def _check_knob(name: str, value: float) -> float:
    """A knob flag's value: finite, within the knob's bounds; growth_every whole."""
    flag = f"--{name.replace('_', '-')}"
    if not math.isfinite(value):
        raise ValueError(f"{flag} must be a finite number, got {value}")
    lo, hi = Knobs.param[name].bounds
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{flag} must be between {lo:g} and {hi:g}, got {value:g}")
    if name == "growth_every" and value != int(value):
        raise ValueError(f"{flag} must be a whole number of steps, got {value:g}")
    return value
