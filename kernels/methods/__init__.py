"""Sizing methods. Importing this package registers every method in ``METHODS``."""

from kernels.methods import nonparametric, shrinknets, static, tiny  # noqa: F401  (registration)
from kernels.methods.base import Addition, Proposal, Removal, SizingMethod, StepContext
from kernels.methods.registry import METHODS, UnknownMethodError, get_method, register

__all__ = [
    "METHODS",
    "Addition",
    "Proposal",
    "Removal",
    "SizingMethod",
    "StepContext",
    "UnknownMethodError",
    "get_method",
    "register",
]
