"""The cards of the live page: their titles, views, the record kinds that show them, and how
their views are refreshed (see :mod:`explorer.page.dashboard`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernels.methods import METHODS
from kernels.records import GROUPSPARSITY, SPECTRUM, SWITCH


@dataclass(frozen=True)
class CardSpec:
    """A card of the page: its title, its views (by name), the record kinds that make it
    show (None: always shown), a one-line account for the idle page's hint, and whether its
    views are emptied when a run begins (the group-sparsity sweep outlives runs)."""

    name: str
    title: str
    views: tuple[str, ...]
    kinds: frozenset[str] | None = None
    hint: str = ""


#: the cards, in page order (two to a row)
CARDS: tuple[CardSpec, ...] = (
    CardSpec(
        "loss",
        "loss and accuracy",
        ("loss",),
        hint="training loss per step, validation loss and accuracy, knob changes",
    ),
    CardSpec(
        "sizes",
        "layer sizes",
        ("sizes",),
        hint="each hidden layer's width over time, with births and deaths",
    ),
    CardSpec(
        "units",
        "units",
        ("units",),
        hint="every live unit by fan-in and fan-out norm (click or box-select)",
    ),
    CardSpec(
        "lifetimes", "unit lifetimes", ("lifetimes",), hint="when each unit was born and eliminated"
    ),
    CardSpec(
        "fan_history",
        "selected units",
        ("fan_history",),
        hint="the norms of the units you select, over time",
    ),
    CardSpec(
        "tradeoff",
        "size vs loss",
        ("tradeoff",),
        hint="validation loss against network size, this run and earlier ones",
    ),
    CardSpec(
        "tiny",
        "TINY: eigenvalue spectra",
        ("spectrum",),
        frozenset({SPECTRUM}),
        hint="TINY's proposed neurons and their eigenvalues at each growth step",
    ),
    CardSpec(
        "shrinknets",
        "ShrinkNets: switches, cost, group sparsity",
        ("switches", "cost", "groupsparsity"),
        frozenset({SWITCH, GROUPSPARSITY}),
        hint="switch values, the cost model and the group-sparsity sweep",
    ),
)
#: views whose data outlives a run (not emptied when a new run begins)
KEEP_ACROSS_RUNS = frozenset({GROUPSPARSITY})
#: views that always take their records, shown or not: their reset is not a plain empty (the
#: trade-off plot keeps earlier runs, the group-sparsity sweep outlives runs), so they cannot
#: be redrawn from the History; both are cheap (a few rows per refresh)
ALWAYS_UPDATED = frozenset({"tradeoff", "groupsparsity"})
#: views updated at most once per so many seconds (their records wait in between): the
#: per-unit views and the size-vs-loss plot. BokehJS repaints a whole plot (its axes, legend,
#: every glyph) for any change of its data, so each view updated at a refresh is one more plot
#: the browser repaints before it can acknowledge the refresh (issue 17). The per-step lines
#: (loss, accuracy, ShrinkNets' cost), the TINY spectra and the status line take every refresh
#: (the page's refresh period), the layer sizes as ``STEADY`` says; these views once a second.
SLOW = {"units": 1.0, "lifetimes": 1.0, "fan_history": 1.0, "tradeoff": 1.0, "switches": 1.0}
#: views updated at every refresh while their records change what they show (``View.changes``:
#: a layer's size, a birth or death) and at most once per so many seconds while they only
#: extend it (the layer sizes' lines held level). A run that stopped growing and pruning spent
#: a repaint of the sizes plot a refresh on a longer level line: its largest plot, ~6 ms of
#: Chromium's main thread a refresh on a 256-256 digits page (issue 17, session 11)
STEADY = {"sizes": 1.0}


def interval(name: str) -> float:
    """The longest a view's records may wait (s): 0 for the views updated at every refresh."""
    return SLOW.get(name, STEADY.get(name, 0.0))


#: the card of each view
CARD_OF = {view: spec.name for spec in CARDS for view in spec.views}


def cards_for(kinds: Iterable[str]) -> list[str]:
    """The names of the cards shown for record ``kinds`` (the always-shown ones included)."""
    kinds = set(kinds)
    return [c.name for c in CARDS if c.kinds is None or c.kinds & kinds]


def declared_kinds(method: str) -> frozenset[str]:
    """The record kinds the method declares beyond the common ones (none if unknown)."""
    cls = METHODS.get(method)
    return frozenset(getattr(cls, "record_kinds", ())) if cls is not None else frozenset()
