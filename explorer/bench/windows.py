"""The page bench's windows (:func:`explorer.bench.app.with_page`): steps per second with the
refresh held and refreshing, and each refreshing window's cost against its held neighbours."""

from __future__ import annotations

import statistics
from itertools import pairwise


def window_rates(
    step_records: list[dict],
    toggles: list[tuple[int, bool]],
    settled: dict[int, int] | None = None,
) -> dict:
    """Steps per second with the refresh on and off. ``toggles`` = (step, refresh on) in
    order; a window runs from its toggle's step to the next toggle's step (the last toggle
    only closes the window before it). ``settled`` (toggle index -> step): where a refreshing
    window's first refresh had ended; that window's steady rate is taken from there.

    Why: the first refresh of a refreshing window drains the whole held window's records (3 s
    of them) at once, a catch-up that a page which never stops refreshing does not have; with
    it the refreshing windows pay for their own records and the held window's. ``costs`` are
    the steady ones when ``settled`` is given; ``costs_with_catch_up`` the windows whole."""
    by_step = {r["step"]: r["time"] for r in step_records}
    settled = settled or {}
    windows, whole = [], []
    for i, ((start, on), (end, _)) in enumerate(pairwise(toggles)):
        if not (end > start and start in by_step and end in by_step):
            continue
        whole.append((on, end - start, by_step[end] - by_step[start]))
        steady = settled.get(i, start) if on else start
        if not (end > steady and steady in by_step):
            steady = start
        windows.append((on, end - steady, by_step[end] - by_step[steady]))
    rate = {}
    for state in (True, False):
        steps = sum(w[1] for w in windows if w[0] == state)
        seconds = sum(w[2] for w in windows if w[0] == state)
        rate[state] = steps / seconds if seconds else float("nan")
    return {
        "on": rate[True],
        "off": rate[False],
        "windows": windows,
        "costs": _neighbour_costs(windows),
        "costs_with_catch_up": _neighbour_costs(whole),
    }


def _neighbour_costs(windows: list[tuple[bool, int, float]]) -> list[float]:
    """Each "on" window against the mean of the two "off" windows around it (%): a drift of
    the machine's speed or of the network's size cancels to first order."""
    costs = []
    for i in range(1, len(windows) - 1):
        (on, n, t), before, after = windows[i], windows[i - 1], windows[i + 1]
        if on and not before[0] and not after[0]:
            held = statistics.fmean([before[1] / before[2], after[1] / after[2]])
            costs.append(100 * (1 - (n / t) / held))
    return costs
