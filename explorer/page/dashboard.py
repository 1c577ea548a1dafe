"""The live plots by name, in cards; which cards show is decided by record kinds.

Every card names the record kinds it shows (``CardSpec.kinds``; None = every run). A card
shows when the method of the page declares one of its kinds (``SizingMethod.record_kinds``)
or when records of one of its kinds arrive (a replay of another method's run, a sweep). A
card's views are built when the first run starts (or the first records arrive) and only for
the cards shown, so a page load builds no figure and a page never pays for the plots of
other methods. The dashboard never looks inside a view: it hands each view the new records
(``update``), and empties it (``reset``) when a run begins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import panel as pn
import param

from explorer.history import History
from explorer.views import (
    CostView,
    FanHistoryView,
    GroupSparsityView,
    LifetimeView,
    LossView,
    SizesView,
    SpectrumView,
    SwitchView,
    TradeoffView,
    UnitScatterView,
    UnitSelection,
    View,
    step_range,
)
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


def cards_for(kinds: Iterable[str]) -> list[str]:
    """The names of the cards shown for record ``kinds`` (the always-shown ones included)."""
    kinds = set(kinds)
    return [c.name for c in CARDS if c.kinds is None or c.kinds & kinds]


def declared_kinds(method: str) -> frozenset[str]:
    """The record kinds the method declares beyond the common ones (none if unknown)."""
    cls = METHODS.get(method)
    return frozenset(getattr(cls, "record_kinds", ())) if cls is not None else frozenset()


class Dashboard(pn.viewable.Viewer):
    """The live plots of one page.

    ``views`` holds the views built so far by name; ``view(name)`` builds one on demand.
    ``extras`` maps a card name to a callable returning more objects for that card (the
    page's group-sparsity controls).
    """

    method = param.String(
        default="nonparametric",
        doc="the page's sizing method: its declared record kinds pick cards",
    )

    def __init__(
        self,
        history: History | None = None,
        extras: dict[str, Callable[[], list]] | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.history = history if history is not None else History()
        self.selection = UnitSelection()
        self.x_range = step_range()
        self.views: dict[str, View] = {}
        self.seen: set[str] = set()
        self._extras = extras or {}
        self._factories: dict[str, Callable[[], View]] = {
            "loss": lambda: LossView(x_range=self.x_range),
            "sizes": lambda: SizesView(x_range=self.x_range),
            "units": lambda: UnitScatterView(self.selection, min_interval=0.4),
            "lifetimes": lambda: LifetimeView(self.selection, x_range=self.x_range),
            "fan_history": lambda: FanHistoryView(
                self.history, self.selection, x_range=self.x_range
            ),
            "tradeoff": TradeoffView,
            "spectrum": lambda: SpectrumView(x_range=self.x_range),
            "switches": lambda: SwitchView(self.selection, x_range=self.x_range),
            "cost": lambda: CostView(x_range=self.x_range),
            "groupsparsity": GroupSparsityView,
        }
        self.cards = {
            spec.name: pn.Card(
                title=spec.title, collapsible=True, sizing_mode="stretch_width", visible=False
            )
            for spec in CARDS
        }
        self._built: set[str] = set()
        #: False until a run starts or records arrive: the cards' plots are built then, so a
        #: page load costs no Bokeh figures (2.5 s of server time here) and a client that
        #: never starts a run never pays for them
        self.filled = False
        self.hint = pn.pane.Markdown(
            self._hint_text(), sizing_mode="stretch_width", name="idle_hint"
        )
        self.show_cards()

    # -- views and cards -------------------------------------------------------------------
    def view(self, name: str) -> View:
        """The view ``name``, built now if it was not."""
        if name not in self._factories:
            raise KeyError(f"no view named '{name}'; views: {', '.join(self._factories)}")
        if name not in self.views:
            self.views[name] = self._factories[name]()
        return self.views[name]

    def all_views(self) -> dict[str, View]:
        """Every view, building the ones not built yet (the notebook shows them all)."""
        return {name: self.view(name) for name in self._factories}

    def _build_card(self, spec: CardSpec) -> None:
        if spec.name in self._built:
            return
        views = [self.view(v) for v in spec.views]
        objects: list = []
        if spec.name == "tradeoff":
            self.size_axis = pn.widgets.RadioButtonGroup(options=["units", "params"], value="units")
            self.size_axis.param.watch(lambda e: views[0].set_size_axis(e.new), "value")
            objects = [self.size_axis, *views]
        elif spec.name == "shrinknets":
            objects = [
                pn.Row(*views[:2], sizing_mode="stretch_width"),
                *self._extras.get(spec.name, list)(),
                views[2],
            ]
        else:
            objects = [*views, *self._extras.get(spec.name, list)()]
        self.cards[spec.name].objects = objects
        self._built.add(spec.name)

    def shown_kinds(self) -> set[str]:
        return set(declared_kinds(self.method)) | self.seen

    @param.depends("method", watch=True)
    def show_cards(self) -> None:
        """Build and show the cards of the declared and seen kinds; hide the others."""
        shown = set(cards_for(self.shown_kinds()))
        for spec in CARDS:
            if spec.name in shown and self.filled:
                self._build_card(spec)
            self.cards[spec.name].visible = spec.name in shown
        self.hint.object = self._hint_text()

    def fill(self) -> None:
        """Build the plots of the shown cards (a run starts, or records arrive)."""
        if not self.filled:
            self.filled = True
            self.show_cards()

    def _hint_text(self) -> str:
        shown = cards_for(self.shown_kinds())
        lines = "\n".join(f"- **{c.title}**: {c.hint}" for c in CARDS if c.name in shown)
        return (
            "Pick a sizing method and a data set on the left, then press **start** "
            "(or **step once**). The cards below will show:\n\n" + lines
        )

    # -- records ---------------------------------------------------------------------------
    def update(self, by_kind: dict[str, list[dict]]) -> list[str]:
        """Hand new records to every built view; returns one message per view that could
        not take them (the others still got theirs)."""
        if not by_kind:
            return []
        new = set(by_kind) - self.seen
        self.seen |= new
        if new or not self.filled:
            self.filled = True
            self.show_cards()
        self.hint.visible = False
        errors = []
        for view in list(self.views.values()):
            try:
                view.update(by_kind)
            except (ValueError, KeyError, TypeError) as exc:
                errors.append(f"{type(view).__name__} could not show a record: {exc}")
        return errors

    def reveal(self, kinds: set[str]) -> None:
        """Show the cards of ``kinds`` before their first record (a sweep just started)."""
        if set(kinds) - self.seen:
            self.seen |= set(kinds)
            self.show_cards()

    def new_run(self, history: History, method_label: str | None = None) -> None:
        """Empty the run's plots for a new run (earlier runs stay in the trade-off plot)."""
        self.history = history
        if "fan_history" in self.views:
            self.views["fan_history"].history = history
        if method_label is not None and "tradeoff" in self.views:
            self.views["tradeoff"].method_label = method_label  # names the archived run
        for name, view in self.views.items():
            if name not in KEEP_ACROSS_RUNS:
                view.reset()
        self.selection.clear()
        self.seen &= KEEP_ACROSS_RUNS
        self.show_cards()
        self.hint.visible = True

    def clear(self) -> None:
        """Empty every run plot, earlier runs included (a replay scrubbed back)."""
        for name, view in self.views.items():
            if name not in KEEP_ACROSS_RUNS:
                view.reset()
        if "tradeoff" in self.views:  # its reset keeps the run as an earlier one: drop it
            View.reset(self.views["tradeoff"])
        self.selection.clear()

    def show_units_at_once(self, table: dict) -> None:
        """Draw the latest unit table now (the scatter throttles its updates)."""
        if "units" in self.views:
            self.views["units"].show_table(table)

    def __panel__(self):
        c = self.cards
        row = {"sizing_mode": "stretch_width"}
        return pn.Column(
            self.hint,
            pn.Row(c["loss"], c["sizes"], **row),
            pn.Row(c["units"], c["lifetimes"], **row),
            pn.Row(c["fan_history"], c["tradeoff"], **row),
            c["tiny"],
            c["shrinknets"],
            **row,
        )
