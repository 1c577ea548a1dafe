"""Cells of cell-based architecture search (Shu, Wang & Cai, ICLR 2020, sec. 3): the DAG, its
width and depth, the study's generators and a network of the cell repeated L times."""

from kernels.cells.cell import OPERATIONS, Cell, darts_cell
from kernels.cells.generators import (
    all_cells,
    chain,
    random_connections,
    random_variants,
    study_cells,
    widest_shallowest,
)
from kernels.cells.network import CellNetwork

__all__ = [
    "OPERATIONS",
    "Cell",
    "CellNetwork",
    "all_cells",
    "chain",
    "darts_cell",
    "random_connections",
    "random_variants",
    "study_cells",
    "widest_shallowest",
]
