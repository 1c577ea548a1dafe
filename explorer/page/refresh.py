"""How often the page refreshes: a pure function of the user's floor and the measured cost.

The page's refreshes (drain, Bokeh serialisation, the websocket writes) take CPU time and
hold the GIL the trainer thread needs, so the period is stretched until the refreshes take at
most ``UI_SHARE`` of one core, never below the user's choice and never above
``MAX_PERIOD_MS`` unless the user asked for longer.

The cost is the server thread's *CPU* time per refresh (``time.thread_time``), not its wall
time: on a loaded machine (2 cores, load 10) a refresh of 10 ms of CPU took 70-150 ms of
wall time waiting for a core, and a wall-time estimate stretched the period to 1.5-3 s for
work that costs the trainer nothing while the refresh waits (issue 17).
"""

from __future__ import annotations

#: the share of one core the page's refreshes may take, in server CPU time per refresh (the
#: rest is the trainer's): 10 ms of CPU per refresh allows a refresh every 200 ms. Each
#: refresh also sets off the browser's redraw; ``python -m explorer bench --app`` measures
#: what the whole page costs the trainer at the resulting rate.
UI_SHARE = 0.05
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
