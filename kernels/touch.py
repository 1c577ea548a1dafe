"""Which tensors a hidden unit touches: the layer graph that structural surgery walks.

ShrinkNets sec. 3.5.2 (neural garbage collection) keeps a graph of the layers so that removing
a unit removes it from every tensor it lives in. Here a sizable network answers
``unit_touches(layer)`` with a list of :class:`Touch` entries; surgery resizes each one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Touch:
    """One tensor slice owned by the units of a hidden layer.

    ``dim`` is the axis indexed by unit; ``block`` consecutive entries belong to one unit (a
    conv channel flattened into a linear layer owns H*W columns); ``fill`` is the value new
    units get (0 keeps the network's function unchanged; a running variance wants 1).
    ``role`` is one of "fan_in", "bias", "unit" (per-unit state such as switches or
    normalisation statistics) and "fan_out".
    """

    tensor: torch.Tensor
    dim: int
    role: str
    block: int = 1
    fill: float = 0.0
