"""A cell as a DAG of N nodes and its width and depth (Shu, Wang & Cai, ICLR 2020, sec. 3).

Nodes are numbered as in DARTS (sec. 3.1): ``0 .. M-1`` are the input nodes (outputs of the M
preceding cells), ``M .. N-2`` the intermediate nodes, ``N-1`` the output node, which
concatenates the intermediate nodes named in ``concat`` (all of them by default). Each
intermediate node sums its incoming connections; a connection applies one operation to the
representation of its source node.

Width and depth follow sec. 3.2 exactly:

- depth: the number of connections on the longest path from an input node to the output node
  (the connections into the output node count);
- width: the total width of the intermediate nodes connected to the input nodes, each node's
  width ``c`` reduced by the share of its connections that come from intermediate nodes, i.e.
  ``width = c * sum_j (#connections of j from input nodes / #connections of j)``.

With ``c = 1`` the DARTS cell has width 3.5 and depth 3; the widest-shallowest 7-node cell with
M = 2 has width 4 and depth 2 (sec. 3.2).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

#: operations a connection can carry (kernels.cells.network builds them)
OPERATIONS = ("linear", "skip", "avg_pool", "max_pool")


def _check_op(op: str) -> str:
    if op not in OPERATIONS:
        near = difflib.get_close_matches(str(op), OPERATIONS, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ValueError(f"unknown cell operation '{op}'{hint} accepted: {', '.join(OPERATIONS)}")
    return op


@dataclass(frozen=True)
class Cell:
    """A cell topology with one operation per connection.

    ``sources[j]`` lists the source nodes of intermediate node ``M + j`` and ``ops[j]`` their
    operations, in the same order. ``name`` is a label for plots ("widest", "chain", "C3", ...).
    """

    n_inputs: int
    sources: tuple[tuple[int, ...], ...]
    ops: tuple[tuple[str, ...], ...]
    name: str = "cell"
    concat: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        m = int(self.n_inputs)
        if m < 1:
            raise ValueError(f"a cell needs at least one input node, got M = {m}")
        if len(self.sources) < 1:
            raise ValueError("a cell needs at least one intermediate node")
        if len(self.ops) != len(self.sources):
            raise ValueError(f"{len(self.sources)} intermediate nodes but {len(self.ops)} op lists")
        for j, (srcs, ops) in enumerate(zip(self.sources, self.ops, strict=True)):
            node = m + j
            if not srcs:
                raise ValueError(f"intermediate node {node} has no incoming connection")
            if len(ops) != len(srcs):
                raise ValueError(f"node {node}: {len(srcs)} sources but {len(ops)} operations")
            for s in srcs:
                if not 0 <= s < node:
                    raise ValueError(
                        f"node {node}: source {s} is not a preceding node (accepted: 0..{node - 1})"
                    )
            for op in ops:
                _check_op(op)
        concat = tuple(self.concat) or tuple(self.intermediate_nodes)
        for k in concat:
            if k not in self.intermediate_nodes:
                raise ValueError(f"output concatenates node {k}, which is not intermediate")
        object.__setattr__(self, "concat", concat)
        object.__setattr__(self, "sources", tuple(tuple(int(s) for s in x) for x in self.sources))
        object.__setattr__(self, "ops", tuple(tuple(x) for x in self.ops))

    # -- shape ---------------------------------------------------------------------------
    @property
    def n_intermediate(self) -> int:
        return len(self.sources)

    @property
    def n_nodes(self) -> int:
        """N: inputs + intermediates + the output node."""
        return self.n_inputs + self.n_intermediate + 1

    @property
    def intermediate_nodes(self) -> range:
        return range(self.n_inputs, self.n_inputs + self.n_intermediate)

    @property
    def output_node(self) -> int:
        return self.n_nodes - 1

    def edges(self) -> list[tuple[int, int, str]]:
        """(source, target, operation) for every connection, the output's concatenation
        included as operation "concat"."""
        out = [
            (s, self.n_inputs + j, op)
            for j, (srcs, ops) in enumerate(zip(self.sources, self.ops, strict=True))
            for s, op in zip(srcs, ops, strict=True)
        ]
        out += [(k, self.output_node, "concat") for k in self.concat]
        return out

    # -- sec. 3.2 ------------------------------------------------------------------------
    def node_widths(self, c: float = 1.0) -> list[float]:
        """Each intermediate node's contribution to the cell width (sec. 3.2): ``c`` times the
        share of its connections that come from input nodes."""
        m = self.n_inputs
        return [c * sum(1 for s in srcs if s < m) / len(srcs) for srcs in self.sources]

    def width(self, c: float = 1.0) -> float:
        """Cell width (Shu et al. 2020, sec. 3.2), in units of the node width ``c``."""
        return float(sum(self.node_widths(c)))

    def depth(self) -> int:
        """Cell depth (sec. 3.2): connections on the longest input-to-output path."""
        m = self.n_inputs
        longest = [0] * m  # longest path (in connections) from an input node to each node
        for srcs in self.sources:
            longest.append(1 + max(longest[s] for s in srcs))
        return 1 + max(longest[k] for k in self.concat)

    def label(self) -> str:
        return f"{self.name} (width {self.width():g}c, depth {self.depth()})"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "n_inputs": self.n_inputs,
            "sources": [list(s) for s in self.sources],
            "ops": [list(o) for o in self.ops],
            "concat": list(self.concat),
            "width": self.width(),
            "depth": self.depth(),
            "n_nodes": self.n_nodes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Cell:
        return cls(
            int(d["n_inputs"]),
            tuple(tuple(s) for s in d["sources"]),
            tuple(tuple(o) for o in d["ops"]),
            str(d.get("name", "cell")),
            tuple(d.get("concat", ())),
        )


def darts_cell() -> Cell:
    """The DARTS (V2) normal cell (Liu et al. 2019; Shu et al. fig. 1-2), convolutions mapped to
    "linear": width 3.5c, depth 3 (sec. 3.2)."""
    return Cell(
        n_inputs=2,
        sources=((0, 1), (0, 1), (1, 0), (0, 2)),
        ops=(("linear", "linear"), ("linear", "linear"), ("linear", "skip"), ("skip", "linear")),
        name="darts",
    )
