"""Sizing methods by name: the table the trainer, the CLI and the UI read."""

from __future__ import annotations

import difflib

from kernels.methods.base import SizingMethod

METHODS: dict[str, type[SizingMethod]] = {}


def register(cls: type[SizingMethod]) -> type[SizingMethod]:
    METHODS[cls.name] = cls
    return cls


class UnknownMethodError(ValueError):
    """An unknown method name; the message lists what is accepted."""


def get_method(name: str) -> type[SizingMethod]:
    """The method class registered as ``name``; a near miss gets a suggestion."""
    try:
        return METHODS[name]
    except KeyError:
        close = difflib.get_close_matches(name, METHODS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise UnknownMethodError(
            f"unknown sizing method '{name}'{hint} Accepted: {', '.join(sorted(METHODS))}"
        ) from None
