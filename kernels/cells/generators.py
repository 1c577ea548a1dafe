"""Cells for a given N and M: the widest-shallowest, the narrowest-deepest (a chain), and random
variants with the same operations and other connections (Shu, Wang & Cai 2020, sec. 3.2 and
appendix A.2).

Every intermediate node has M connections from distinct preceding nodes, as in DARTS.
"""

from __future__ import annotations

import numpy as np

from kernels.cells.cell import Cell, _check_op

#: default operations of the M = 2 connections of each intermediate node: those of the DARTS
#: normal cell (sep/dil conv -> "linear", skip -> "skip"), so variants differ in topology only
DARTS_OPS = (("linear", "linear"), ("linear", "linear"), ("linear", "skip"), ("skip", "linear"))


def _check_sizes(n_nodes: int, n_inputs: int) -> int:
    n_int = int(n_nodes) - int(n_inputs) - 1
    if int(n_inputs) < 1 or n_int < 1:
        raise ValueError(
            f"a cell with N = {n_nodes} nodes and M = {n_inputs} inputs has "
            f"{n_int} intermediate nodes; accepted: M >= 1 and N >= M + 2"
        )
    return n_int


def default_ops(n_nodes: int, n_inputs: int, op: str = "linear") -> tuple[tuple[str, ...], ...]:
    """DARTS's operations when N = 7, M = 2; otherwise ``op`` on every connection."""
    n_int = _check_sizes(n_nodes, n_inputs)
    if n_int == len(DARTS_OPS) and n_inputs == 2 and op == "linear":
        return DARTS_OPS
    _check_op(op)
    return tuple((op,) * n_inputs for _ in range(n_int))


def widest_shallowest(n_nodes: int = 7, n_inputs: int = 2, ops=None) -> Cell:
    """Every intermediate node reads the M input nodes: width (N - M - 1) c, depth 2."""
    n_int = _check_sizes(n_nodes, n_inputs)
    ops = ops or default_ops(n_nodes, n_inputs)
    return Cell(n_inputs, tuple(tuple(range(n_inputs)) for _ in range(n_int)), ops, "widest")


def chain(n_nodes: int = 7, n_inputs: int = 2, ops=None) -> Cell:
    """The narrowest-deepest cell: node M + j reads the M nodes just before it, so the
    intermediate nodes form a chain (depth N - M, the most possible) and as few connections as
    the distinct-sources rule allows come from the input nodes (the least width)."""
    n_int = _check_sizes(n_nodes, n_inputs)
    ops = ops or default_ops(n_nodes, n_inputs)
    sources = tuple(tuple(range(n_inputs + j - 1, j - 1, -1)) for j in range(n_int))
    return Cell(n_inputs, sources, ops, "chain")


def random_connections(base: Cell, rng: np.random.Generator, name: str = "variant") -> Cell:
    """One random variant of ``base`` (appendix A.2): the order of intermediate nodes and their
    operations are kept; each node's sources are redrawn uniformly among its preceding nodes
    (M distinct nodes, as DARTS requires)."""
    sources = []
    for j, srcs in enumerate(base.sources):
        node = base.n_inputs + j
        k = min(len(srcs), node)
        sources.append(tuple(int(s) for s in rng.choice(node, size=k, replace=False)))
    return Cell(base.n_inputs, tuple(sources), base.ops, name)


def _key(cell: Cell) -> tuple:
    return tuple(tuple(sorted(s)) for s in cell.sources)


def random_variants(
    base: Cell, count: int, seed: int = 0, exclude=(), max_tries: int = 10_000
) -> list[Cell]:
    """``count`` distinct random variants of ``base`` (appendix A.2), none equal to ``base`` or a
    cell in ``exclude``, named C1, C2, ... in order of decreasing width then increasing depth
    (the paper's numbering runs from wide-shallow C1 to narrow-deep)."""
    rng = np.random.default_rng(seed)
    seen = {_key(base), *(_key(c) for c in exclude)}
    found: list[Cell] = []
    for _ in range(max_tries):
        if len(found) == count:
            break
        cell = random_connections(base, rng)
        if _key(cell) not in seen:
            seen.add(_key(cell))
            found.append(cell)
    if len(found) < count:
        raise ValueError(
            f"only {len(found)} distinct random variants of this cell exist (asked for {count})"
        )
    found.sort(key=lambda c: (-c.width(), c.depth(), _key(c)))
    return [Cell(c.n_inputs, c.sources, c.ops, f"C{i + 1}") for i, c in enumerate(found)]


def study_cells(
    n_nodes: int = 7, n_inputs: int = 2, n_variants: int = 6, seed: int = 0
) -> list[Cell]:
    """The cells of the sec. 4 study: widest-shallowest, the chain, and ``n_variants`` random
    variants of the widest cell with the same operations."""
    wide = widest_shallowest(n_nodes, n_inputs)
    deep = chain(n_nodes, n_inputs, wide.ops)
    return [wide, *random_variants(wide, n_variants, seed, exclude=[deep]), deep]


def all_cells(n_nodes: int, n_inputs: int, ops=None) -> list[Cell]:
    """Every cell with distinct sources per node (for small N: 180 cells when N = 7, M = 2)."""
    import itertools

    n_int = _check_sizes(n_nodes, n_inputs)
    ops = ops or default_ops(n_nodes, n_inputs)
    choices = [
        list(itertools.combinations(range(n_inputs + j), min(n_inputs, n_inputs + j)))
        for j in range(n_int)
    ]
    return [Cell(n_inputs, tuple(srcs), ops, "enumerated") for srcs in itertools.product(*choices)]
