"""The fixed-width baseline that every sizing paper compares against."""

from __future__ import annotations

from kernels.methods.base import SizingMethod
from kernels.methods.registry import register


@register
class Static(SizingMethod):
    """A plain MLP of fixed hidden sizes trained with Adam (no regularizer, no surgery)."""

    name = "static"
    description = "Fixed-width MLP trained with Adam: the reference the sizing methods beat."
    knobs = ("lr",)
