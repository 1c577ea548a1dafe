"""A network of one cell repeated L times, for the explorer's flat (tabular or flattened image)
data sets (Shu, Wang & Cai 2020, sec. 3.1 and appendix A.3, after DARTS).

Layout: a stem ``Linear(d, c)`` whose output feeds the M input nodes of the first cell; cell k
reads the outputs of the M cells before it (the stem standing in for missing ones), each through
a preprocessing ``ReLU -> Linear(., c)``; the output node concatenates the intermediate nodes
(width ``len(concat) * c``); a ``ReLU -> Linear(., classes)`` head reads the last cell.
Connections: "linear" is ``ReLU -> Linear(c, c)`` (DARTS orders its ops ReLU-conv-BN),
"skip" the identity, "avg_pool" / "max_pool" a 1-D pooling over the c features (kernel 3,
stride 1). No batch norm: the study trains without regularisation (appendix A.4) and plain
layers keep ``torch.func.functional_call`` + ``vmap`` straightforward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kernels.cells.cell import Cell
from kernels.sizable import ModuleSeq


class _Op(nn.Module):
    def __init__(self, op: str, c: int) -> None:
        super().__init__()
        self.op = op
        self.linear = nn.Linear(c, c) if op == "linear" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear is not None:
            return self.linear(F.relu(x))
        if self.op == "skip":
            return x
        if self.op == "avg_pool":
            pooled = F.avg_pool1d(x.unsqueeze(-2), 3, stride=1, padding=1, count_include_pad=False)
        else:
            pooled = F.max_pool1d(x.unsqueeze(-2), 3, stride=1, padding=1)
        return pooled.squeeze(-2)


class _CellModule(nn.Module):
    def __init__(self, cell: Cell, in_widths: list[int], c: int) -> None:
        super().__init__()
        self.cell = cell
        self.pre = nn.ModuleList(nn.Linear(w, c) for w in in_widths)
        self.nodes: ModuleSeq[ModuleSeq[_Op]] = ModuleSeq(
            ModuleSeq(_Op(op, c) for op in ops) for ops in cell.ops
        )

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        states = [p(F.relu(x)) for p, x in zip(self.pre, inputs, strict=True)]
        for srcs, ops in zip(self.cell.sources, self.nodes, strict=True):
            states.append(sum(op(states[s]) for s, op in zip(srcs, ops, strict=True)))
        return torch.cat([states[k] for k in self.cell.concat], dim=-1)


class CellNetwork(nn.Module):
    """``cell`` repeated ``n_cells`` (L) times between a linear stem and a linear head."""

    def __init__(
        self, cell: Cell, in_features: int, n_classes: int, c: int = 16, n_cells: int = 2
    ) -> None:
        super().__init__()
        if min(int(in_features), int(n_classes), int(c), int(n_cells)) < 1:
            raise ValueError(
                f"CellNetwork needs positive sizes, got in_features={in_features}, "
                f"n_classes={n_classes}, c={c}, n_cells={n_cells}"
            )
        self.cell_spec, self.c, self.n_cells = cell, int(c), int(n_cells)
        m, out_w = cell.n_inputs, len(cell.concat) * int(c)
        self.stem = nn.Linear(int(in_features), int(c))
        widths = [int(c)] * m  # the stem stands in for the cells before the first
        cells = []
        for _ in range(int(n_cells)):
            cells.append(_CellModule(cell, widths[-m:], int(c)))
            widths.append(out_w)
        self.cells = nn.ModuleList(cells)
        self.head = nn.Linear(out_w, int(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        m = self.cell_spec.n_inputs
        states = [s] * m
        for cell in self.cells:
            states.append(cell(states[-m:]))
        return self.head(F.relu(states[-1]))
