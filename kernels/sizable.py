"""What a network must offer so that surgery, the sizing methods, folding, export and the
trainer can resize it and report on its units: the :class:`SizableNet` protocol.

:class:`~kernels.dynamic_mlp.DynamicMLP`, :class:`~kernels.dynamic_cnn.DynamicCNN` and TINY's
:class:`~kernels.tiny.network.GrowingMLP` satisfy it (checked by mypy where they are returned
as one, and at run time by ``isinstance`` in ``tests/test_sizable.py``). Hidden "layers" are
numbered 0..n_hidden-1; the units of layer ``l`` are its output features (Linear rows or conv
channels). ``linears`` are the fully connected layers, the output layer last; ``post[l]`` the
unit-wise modules of hidden layer ``l`` (switches, CapNorm), applied between its Linear/conv
and its activation.

:class:`ModuleSeq` is ``nn.ModuleList`` with an element type for the checker (``linears[0]``
is an ``nn.Linear``, not an ``nn.Module``); at run time it is a plain ``nn.ModuleList``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload, runtime_checkable

import numpy as np
import torch
from torch import nn

from kernels.touch import Touch
from kernels.unit_id import UnitIds

M = TypeVar("M", bound=nn.Module)


class ModuleSeq(nn.ModuleList, Generic[M]):
    """``nn.ModuleList`` whose items are ``M`` (for the type checker; no run-time change)."""

    def __init__(self, modules: Iterable[M] | None = None) -> None:
        super().__init__(modules)

    if TYPE_CHECKING:

        @overload
        def __getitem__(self, idx: slice) -> ModuleSeq[M]: ...

        @overload
        def __getitem__(self, idx: int) -> M: ...

        def __getitem__(self, idx: int | slice) -> M | ModuleSeq[M]: ...

        def __iter__(self) -> Iterator[M]: ...


@runtime_checkable
class SizableNet(Protocol):
    """A network whose hidden layers gain and lose units while it trains."""

    in_features: int
    out_features: int
    #: the fully connected layers, output layer last (a CNN's conv blocks come before them)
    linears: ModuleSeq[nn.Linear]
    #: per hidden layer, the unit-wise modules between its Linear/conv and its activation
    post: ModuleSeq[ModuleSeq[nn.Module]]
    #: hands out the ids of new units
    ids: UnitIds
    #: per hidden layer, the stable id of each unit (DESIGN.md, "Unit identity")
    unit_ids: list[np.ndarray]
    #: per hidden layer, the training step at which each unit was born
    birth_step: list[np.ndarray]
    training: bool

    @property
    def n_hidden(self) -> int: ...

    @property
    def hidden_sizes(self) -> list[int]: ...

    def n_params(self) -> int: ...

    def input_neurons(self) -> int: ...

    def activation(self, z: torch.Tensor) -> torch.Tensor:
        """The hidden activation (sigma of TINY's sec. 2.1; ReLU for DynamicMLP/DynamicCNN)."""
        ...

    def hidden_forward(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Apply hidden block ``layer``: its Linear/conv, unit-wise modules, activation."""
        ...

    def fan_in_norm(self, layer: int) -> torch.Tensor: ...

    def fan_out_norm(self, layer: int) -> torch.Tensor: ...

    def switch_values(self, layer: int) -> torch.Tensor | None: ...

    def unit_touches(self, layer: int) -> list[Touch]:
        """Every tensor slice owned by the units of hidden layer ``layer`` (for surgery)."""
        ...

    def sync_shapes(self, layer: int) -> None:
        """Update size attributes after surgery resized the tensors of ``layer``."""
        ...

    # the parts of nn.Module that the callers use
    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def modules(self) -> Iterator[nn.Module]: ...

    def train(self, mode: bool = True) -> Any: ...

    def eval(self) -> Any: ...

    def state_dict(self, *, keep_vars: bool = False) -> dict[str, Any]: ...

    def to(self, device: torch.device) -> Any: ...
