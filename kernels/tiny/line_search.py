"""Amplitude line search for a move of the network (TINY paper sec. 3.3, eq. (6)-(7)).

gamma* = argmin over a positive neighbourhood of 0 of the minibatch loss f(gamma). The loss is
not convex in gamma, so the search scans a geometric grid (factor 2^grid_step, from the top
2^high_exp down, so the top is always on it) for the best point and then refines it between
its two neighbours in log2(gamma):

- with a scalar ``loss``: golden-section search, ``refine`` steps (one evaluation each);
- with ``batch_loss`` (every gamma of a list in one call, :class:`kernels.tiny.grid_loss.
  GridLoss`): the whole grid in one call, then two zoom rounds of ``refine`` evenly spaced
  points each (the bracket of width 2 grid_step shrinks to 4 grid_step / (refine + 1)^2 in
  log2: for the default 8, 0.05 with factor 2, about 1.7% in gamma, and 0.1 with factor 4,
  3.5%; golden section's 10 evaluations reach 0.026 with factor 2), each round one call;
  with ``vertex`` the second round is replaced by one point, the vertex of the parabola
  through the best point of the first round and its two neighbours (in log2 gamma; the
  closed-form minimum of the fitted quadratic, clipped to their bracket), which costs one
  grid point instead of ``refine``: the search ends at the best point it evaluated, never
  worse than the first round's best (:func:`parabola_vertex`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass
class LineSearchResult:
    gamma: float
    loss: float
    loss_at_zero: float
    evaluations: int


def _finite(v: float) -> float:
    v = float(v)
    return v if math.isfinite(v) else math.inf


def line_search(
    loss: Callable[[float], float] | None = None,
    *,
    low_exp: int = -16,
    high_exp: int = 6,
    refine: int = 8,
    loss_at_zero: float | None = None,
    batch_loss: Callable[[Sequence[float]], Sequence[float]] | None = None,
    grid_step: int = 1,
    vertex: bool = False,
) -> LineSearchResult:
    """Local minimiser of ``loss`` (or ``batch_loss``) over gamma in [2^low_exp, 2^high_exp].

    ``loss(0)`` is evaluated too, for reference, unless the caller already knows it and passes
    it as ``loss_at_zero``; the returned gamma is always positive (the caller decides whether
    the move is worth it by comparing ``loss`` and ``loss_at_zero``).
    """
    if low_exp >= high_exp:
        raise ValueError(f"low_exp must be below high_exp, got {low_exp} and {high_exp}")
    if grid_step < 1:
        raise ValueError(f"grid_step must be >= 1, got {grid_step}")
    if (loss is None) == (batch_loss is None):
        raise ValueError("give exactly one of loss and batch_loss")
    if batch_loss is None:
        assert loss is not None

        def batch(gs: Sequence[float]) -> list[float]:
            return [float(loss(g)) for g in gs]
    else:
        batch = batch_loss  # type: ignore[assignment]
    # from the top down, so that the grid always holds 2^high_exp (the safety bound's top)
    exps = [float(e) for e in range(high_exp, low_exp - 1, -grid_step)][::-1]
    if loss_at_zero is None:
        values = [_finite(v) for v in batch([0.0] + [2.0**e for e in exps])]
        at_zero, values = values[0], values[1:]
    else:
        at_zero = float(loss_at_zero)
        values = [_finite(v) for v in batch([2.0**e for e in exps])]
    evals = len(values) + (loss_at_zero is None)
    i = min(range(len(exps)), key=values.__getitem__)
    best_e, best_v = exps[i], values[i]
    lo, hi = exps[max(i - 1, 0)], exps[min(i + 1, len(exps) - 1)]
    if refine > 0 and hi > lo:
        if batch_loss is None:
            e, v, n = _golden(batch, lo, hi, refine)
        else:
            known = dict(zip(exps, values, strict=True)) if vertex else None
            e, v, n = _zoom(batch, lo, hi, best_e, best_v, refine, known=known)
        evals += n
        if v < best_v:
            best_e, best_v = e, v
    return LineSearchResult(2.0**best_e, best_v, at_zero, evals)


def _golden(batch, lo: float, hi: float, steps: int) -> tuple[float, float, int]:
    """Golden-section search of log2(gamma) in [lo, hi]: the best point seen and the count."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = (_finite(v) for v in batch([2.0**c, 2.0**d]))
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _finite(batch([2.0**c])[0])
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _finite(batch([2.0**d])[0])
    best_e, best_v = (c, fc) if fc <= fd else (d, fd)
    return best_e, best_v, steps + 2


def parabola_vertex(e: Sequence[float], v: Sequence[float]) -> float | None:
    """The minimiser of the parabola through (e[0], v[0]), (e[1], v[1]), (e[2], v[2]) with
    e[0] < e[1] < e[2], clipped to [e[0], e[2]]; None when the three points are not strictly
    convex (no minimum) or not finite."""
    (a, b, c), (fa, fb, fc) = e, v
    p, q = (b - a) * (fb - fc), (b - c) * (fb - fa)
    den = p - q
    if not all(math.isfinite(t) for t in (fa, fb, fc)) or not den < 0:
        return None
    # b - (1/2) ((b-a)^2 (fb-fc) - (b-c)^2 (fb-fa)) / ((b-a)(fb-fc) - (b-c)(fb-fa))
    x = b - 0.5 * ((b - a) * p - (b - c) * q) / den
    return min(max(x, a), c) if math.isfinite(x) else None


def _zoom(batch, lo, hi, best_e, best_v, points, known=None) -> tuple[float, float, int]:
    """Two rounds of ``points`` evenly spaced log2(gamma) values, the bracket shrinking
    around the best point found so far (never past [lo, hi]); each round is one ``batch``
    call. With ``known`` (the grid's log2 gamma -> loss): one round, then the parabola's
    vertex through the best point seen and its neighbours (one call of one point, when
    there is a vertex not evaluated yet)."""
    evals, floor, top = 0, lo, hi
    vertex = known is not None
    seen = dict(known or {})
    for _ in range(1 if vertex else 2):
        step = (hi - lo) / (points + 1)
        es = [lo + step * (j + 1) for j in range(points)]
        for e, v in zip(es, batch([2.0**e for e in es]), strict=True):
            seen[e] = _finite(v)
            if _finite(v) < best_v:
                best_e, best_v = e, _finite(v)
        evals += points
        lo, hi = max(best_e - step, floor), min(best_e + step, top)  # never past the grid
    if vertex:
        es = sorted(e for e in seen if floor <= e <= top)
        i = es.index(best_e)
        if 0 < i < len(es) - 1:
            trio = es[i - 1 : i + 2]
            x = parabola_vertex(trio, [seen[e] for e in trio])
            if x is not None and min(abs(x - e) for e in trio) > 1e-9:
                v = _finite(batch([2.0**x])[0])
                evals += 1
                if v < best_v:
                    best_e, best_v = x, v
    return best_e, best_v, evals
