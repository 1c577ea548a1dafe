"""Amplitude line search for a move of the network (TINY paper sec. 3.3, eq. (6)-(7)).

gamma* = argmin over a positive neighbourhood of 0 of the minibatch loss f(gamma). The loss is
not convex in gamma, so the search scans a geometric grid (factor 2) for the best point and
then refines it by golden-section search in log2(gamma) between its two neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class LineSearchResult:
    gamma: float
    loss: float
    loss_at_zero: float
    evaluations: int


def line_search(
    loss: Callable[[float], float],
    *,
    low_exp: int = -16,
    high_exp: int = 6,
    refine: int = 8,
    loss_at_zero: float | None = None,
) -> LineSearchResult:
    """Local minimiser of ``loss`` over gamma in [2^low_exp, 2^high_exp] (gamma > 0).

    ``loss(0)`` is evaluated too, for reference, unless the caller already knows it and passes
    it as ``loss_at_zero``; the returned gamma is always positive (the caller decides whether
    the move is worth it by comparing ``loss`` and ``loss_at_zero``).
    """
    if low_exp >= high_exp:
        raise ValueError(f"low_exp must be below high_exp, got {low_exp} and {high_exp}")
    at_zero = float(loss(0.0)) if loss_at_zero is None else float(loss_at_zero)
    exps = list(range(low_exp, high_exp + 1))
    values = [float(loss(2.0**e)) for e in exps]
    evals = len(values) + (loss_at_zero is None)
    finite = [(v if math.isfinite(v) else math.inf) for v in values]
    i = min(range(len(exps)), key=finite.__getitem__)
    best_e, best_v = float(exps[i]), finite[i]
    lo, hi = exps[max(i - 1, 0)], exps[min(i + 1, len(exps) - 1)]
    if refine > 0 and hi > lo:
        ratio = (math.sqrt(5.0) - 1.0) / 2.0
        a, b = float(lo), float(hi)
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        fc, fd = float(loss(2.0**c)), float(loss(2.0**d))
        evals += 2
        for _ in range(refine):
            if fc <= fd:
                b, d, fd = d, c, fc
                c = b - ratio * (b - a)
                fc = float(loss(2.0**c))
            else:
                a, c, fc = c, d, fd
                d = a + ratio * (b - a)
                fd = float(loss(2.0**d))
            evals += 1
        for e, v in ((c, fc), (d, fd)):
            if math.isfinite(v) and v < best_v:
                best_e, best_v = e, v
    return LineSearchResult(2.0**best_e, best_v, at_zero, evals)
