"""Frontier and compute-to-accuracy: the numbers that answer "one sizing run vs a search".

Pure functions on arrays, no plotting.

- :func:`pareto_frontier`: the runs no other run beats on both size and quality (smaller
  or equal size and better score); drawn as a step line (``steps-post``): at any size the
  line gives the best score reached by a run of that size or smaller.
- :func:`frontier_at`: that step line's value at a given size.
- :func:`accuracy_gap_pp`: how far one run sits below the searched frontier at its own size,
  in percentage points (positive = the search found a better net no larger than it).
- :func:`compute_to_accuracy`: a random search's cumulative compute against the best
  accuracy found so far, in the search's own order (the order its points were drawn, so the
  answer does not depend on which worker finished first); :func:`compute_to_reach` reads the
  compute needed to reach a given accuracy off it.
"""

from __future__ import annotations

import numpy as np


def pareto_frontier(size, score, higher_is_better: bool = True) -> np.ndarray:
    """Indices of the frontier points, by increasing size.

    A point is on the frontier when every point of smaller or equal size scores worse (ties
    in size keep the best score; ties in score keep the smallest size). NaN scores are
    skipped."""
    size = np.asarray(size, dtype=float)
    score = np.asarray(score, dtype=float)
    if size.shape != score.shape:
        raise ValueError(f"size and score differ in length: {size.shape} vs {score.shape}")
    sign = 1.0 if higher_is_better else -1.0
    ok = np.flatnonzero(np.isfinite(size) & np.isfinite(score))
    # by size, then best score first among equal sizes
    order = ok[np.lexsort((-sign * score[ok], size[ok]))]
    out, best = [], -np.inf
    for i in order:
        if sign * score[i] > best:
            out.append(i)
            best = sign * score[i]
    return np.asarray(out, dtype=int)


def frontier_at(size, score, at: float, higher_is_better: bool = True) -> float:
    """The best score among points of size <= ``at`` (NaN when there is none)."""
    size = np.asarray(size, dtype=float)
    score = np.asarray(score, dtype=float)
    keep = (size <= at) & np.isfinite(score)
    if not keep.any():
        return float("nan")
    return float(score[keep].max() if higher_is_better else score[keep].min())


def accuracy_gap_pp(search_size, search_acc, run_size: float, run_acc: float) -> float:
    """Frontier accuracy at the run's size minus the run's accuracy, in percentage points.

    Accuracies are fractions (0.95); the gap is ``100 * (frontier - run)``. Positive: the
    search found a net of the same size or smaller that is more accurate. NaN when no search
    point is that small."""
    best = frontier_at(search_size, search_acc, run_size)
    return 100.0 * (best - float(run_acc))


def compute_to_accuracy(acc, compute) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative compute, best accuracy so far) after each point of a search, in order.

    Failed points (NaN accuracy) still spend their compute; NaN compute counts as 0."""
    acc = np.asarray(acc, dtype=float)
    compute = np.nan_to_num(np.asarray(compute, dtype=float), nan=0.0)
    if acc.shape != compute.shape:
        raise ValueError(f"acc and compute differ in length: {acc.shape} vs {compute.shape}")
    cumulative = np.cumsum(compute)
    best = np.fmax.accumulate(np.where(np.isfinite(acc), acc, -np.inf)) if len(acc) else acc
    best = np.where(np.isfinite(best), best, np.nan)
    return cumulative, best


def compute_to_reach(acc, compute, target: float) -> float:
    """Compute a search spends until its best accuracy first reaches ``target`` (inf if it
    never does)."""
    cumulative, best = compute_to_accuracy(acc, compute)
    hit = np.flatnonzero(np.nan_to_num(best, nan=-np.inf) >= target)
    return float(cumulative[hit[0]]) if len(hit) else float("inf")


def compare_to_search(
    search_rows: list[dict],
    run_rows: list[dict],
    size: str = "params",
    acc: str = "test_acc",
    compute: str = "wall_s",
) -> list[dict]:
    """For each sizing run: the accuracy gap to the search frontier at its size (pp), the
    compute the search needed to reach the run's accuracy, and the run's compute as a
    fraction of the whole search and of that reach cost."""
    search = sorted(
        (r for r in search_rows if r.get("status") == "ok" or r.get("status") == "failed"),
        key=lambda r: r["index"],
    )
    s_size = np.array([_f(r.get(size)) for r in search])
    s_acc = np.array([_f(r.get(acc)) if r.get("status") == "ok" else np.nan for r in search])
    s_cost = np.array([_f(r.get(compute)) for r in search])
    total = float(np.nansum(s_cost))
    out = []
    for r in run_rows:
        if r.get("status") != "ok":
            continue
        reach = compute_to_reach(s_acc, s_cost, _f(r[acc]))
        run_cost = _f(r[compute])
        out.append(
            {
                "key": r["key"],
                "method": r["method"],
                "size": _f(r[size]),
                "acc": _f(r[acc]),
                "frontier_acc": frontier_at(s_size, s_acc, _f(r[size])),
                "gap_pp": accuracy_gap_pp(s_size, s_acc, _f(r[size]), _f(r[acc])),
                "run_compute": run_cost,
                "search_compute": total,
                "fraction_of_search": run_cost / total if total > 0 else float("nan"),
                "search_compute_to_reach": reach,
                "fraction_of_reach": run_cost / reach
                if np.isfinite(reach) and reach > 0
                else float("nan"),
            }
        )
    return out


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
