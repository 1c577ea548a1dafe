"""How often the page refreshes: a pure function of the user's floor and the measured cost.

The page's refreshes (drain, Bokeh serialisation, the browser's replies) hold the GIL the
trainer thread needs, so the period is stretched until the refreshes take at most ``UI_SHARE``
of the wall clock, never below the user's choice and never above ``MAX_PERIOD_MS`` unless the
user asked for longer.
"""

from __future__ import annotations

#: the share of wall-clock time the page's refreshes may take (the rest is the trainer's).
#: Each refresh's server time also sets off the browser's redraw and the messages it sends
#: back, so the trainer loses about 2-3x this share: with 0.05 (about one refresh a second
#: here) the page cost 7-13% of the throughput in ``python -m explorer bench --app``; with
#: 0.025 (about one every 1.5-2 s on this 2-core machine, faster on a faster one) -3% to 10%
#: over six runs, about 5% in the middle.
UI_SHARE = 0.025
#: the slowest refresh the page falls back to when refreshes are expensive
MAX_PERIOD_MS = 3000
#: weight of the newest refresh in the running estimate of a refresh's cost
SMOOTHING = 0.2


def smoothed_cost(previous_ms: float | None, spent_ms: float, weight: float = SMOOTHING) -> float:
    """Exponential running mean of the refresh cost (the first refresh starts it)."""
    if previous_ms is None:
        return spent_ms
    return (1 - weight) * previous_ms + weight * spent_ms


def refresh_period(
    floor_ms: float, cost_ms: float, ui_share: float = UI_SHARE, cap_ms: float = MAX_PERIOD_MS
) -> int:
    """The refresh period (ms): long enough that refreshes costing ``cost_ms`` take at most
    ``ui_share`` of the time, at least the user's ``floor_ms`` and at most ``cap_ms`` (a
    user's floor above the cap stands)."""
    if not 0 < ui_share <= 1:
        raise ValueError(f"ui_share must be in (0, 1], got {ui_share}")
    return int(max(floor_ms, min(cap_ms, cost_ms / ui_share)))
