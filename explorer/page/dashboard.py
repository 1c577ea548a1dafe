"""The live plots by name, in cards; which cards show is decided by record kinds.

Every card names the record kinds it shows (``CardSpec.kinds``; None = every run). A card
shows when the method of the page declares one of its kinds (``SizingMethod.record_kinds``)
or when records of one of its kinds arrive (a replay of another method's run, a sweep). A
card's views are built when the first run starts (or the first records arrive) and only for
the cards shown, so a page load builds no figure and a page never pays for the plots of
other methods. The dashboard never looks inside a view: it hands each view the new records
(``update``), and empties it (``reset``) when a run begins.

What a refresh sends is kept small (issue 17): a view whose card is collapsed or hidden, or
every view while another tab is open (``on_screen``), is not updated at all; it is marked
stale and redrawn from the run's History (reset, then the History as one increment) when it
is shown again. The per-unit views (the unit scatter, lifetimes, whose every update patches a
column per unit, the selected units' history, the ShrinkNets switch points, one per unit and
record) and the size-vs-loss plot are updated at most once per ``SLOW`` seconds (1 s): each
update is a whole plot the browser repaints; what arrives in between waits in the dashboard
and is delivered at the next update or :meth:`Dashboard.flush_due`. The layer sizes plot
(``STEADY``) takes every refresh while a size changes or a unit is born or dies, and once a
second while its lines only extend level (the view says which: ``View.changes``). The step
plots share one step axis set from the server in coarse steps
(:mod:`explorer.views.step_axis`), so a plot whose own data did not change is not repainted
because another plot's data moved the axis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import panel as pn
import param

from explorer.history import History
from explorer.page.cards import (
    ALWAYS_UPDATED,
    CARD_OF,
    CARDS,
    KEEP_ACROSS_RUNS,
    SLOW,
    STEADY,
    CardSpec,
    cards_for,
    declared_kinds,
    interval,
)
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
    history_records,
)
from explorer.views.step_axis import StepAxis


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
    on_screen = param.Boolean(
        default=True,
        doc="whether the live plots are on screen (False while another tab is open: no "
        "view is updated, each is redrawn from the History when they are shown again)",
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
        #: the step axis of every step plot, set from the server (explorer.views.step_axis)
        self.step_axis = StepAxis()
        self.x_range = self.step_axis.range
        self.views: dict[str, View] = {}
        self.seen: set[str] = set()
        self._extras = extras or {}
        self._factories: dict[str, Callable[[], View]] = {
            "loss": lambda: LossView(x_range=self.x_range),
            "sizes": lambda: SizesView(x_range=self.x_range),
            "units": lambda: UnitScatterView(self.selection),  # once a second: SLOW
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
        for card in self.cards.values():
            card.param.watch(self._on_card, ["collapsed", "visible"])
        #: views not updated while hidden (redrawn from the History when shown)
        self.stale: set[str] = set()
        #: records waiting for a SLOW view, and when it may next be updated
        self._pending: dict[str, dict[str, list[dict]]] = {}
        self._due: dict[str, float] = {}
        #: the last step handed to the views (a replay scrubbed back shows no later one)
        self._upto: int | None = None
        self.clock = time.monotonic
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
            self.views[name] = view = self._factories[name]()
            for fig in view.figures():
                self.step_axis.attach(fig)
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
        """Hand new records to every built view that is shown; returns one message per view
        that could not take them (the others still got theirs)."""
        if not by_kind:
            return []
        new = set(by_kind) - self.seen
        self.seen |= new
        if new or not self.filled:
            self.filled = True
            self.show_cards()
        self.hint.visible = False
        steps = [r["step"] for rows in by_kind.values() for r in rows[-1:] if "step" in r]
        if steps:
            self._upto = max(steps if self._upto is None else [*steps, self._upto])
        firsts = [r["step"] for rows in by_kind.values() for r in rows[:1] if "step" in r]
        self.step_axis.show(min(firsts) if firsts else None, self._upto)
        errors = []
        now = self.clock()
        for name, view in list(self.views.items()):
            if name not in ALWAYS_UPDATED and not self.shown(name):
                self.stale.add(name)
                self._pending.pop(name, None)
                continue
            if name in self.stale:
                errors += self._catch_up(name)
                continue
            increment = by_kind
            if name in SLOW or name in STEADY:
                # a STEADY view's records wait only while they change nothing it shows (the
                # ones already waiting did not: they would have been delivered)
                urgent = name in STEADY and _changes(view, by_kind)
                waiting = self._pending.setdefault(name, {})
                for kind, rows in by_kind.items():
                    waiting.setdefault(kind, []).extend(rows)
                if now < self._due.get(name, 0.0) and not urgent:
                    continue
                increment = self._pending.pop(name)
                self._due[name] = now + interval(name)
            errors += _give(view, increment)
        return errors

    def flush_due(self, everything: bool = False) -> list[str]:
        """Deliver the records waiting for a SLOW view whose interval has passed, or for
        every view with ``everything`` (called at every refresh, so the last records of a run
        show without a next one)."""
        errors: list[str] = []
        now = self.clock()
        for name in list(self._pending):
            if (everything or now >= self._due.get(name, 0.0)) and name in self.views:
                self._due[name] = now + interval(name)
                errors += _give(self.views[name], self._pending.pop(name))
        return errors

    def shown(self, name: str) -> bool:
        """Whether the view ``name`` is on screen: the live tab is open and its card is
        shown and not collapsed."""
        card = self.cards[CARD_OF[name]]
        return self.on_screen and card.visible and not card.collapsed

    def _catch_up(self, name: str) -> list[str]:
        """Redraw a view that was hidden from the run's History (up to the last step the
        shown views were given)."""
        self.stale.discard(name)
        self._pending.pop(name, None)
        view = self.views[name]
        view.reset()
        records = history_records(self.history)
        if self._upto is not None:
            records = {
                kind: [r for r in rows if r.get("step", 0) <= self._upto]
                for kind, rows in records.items()
            }
            records = {kind: rows for kind, rows in records.items() if rows}
        return _give(view, records) if records else []

    def _on_card(self, event) -> None:
        self._show_stale()

    @param.depends("on_screen", watch=True)
    def _show_stale(self) -> None:
        due = [name for name in self.stale if name in self.views and self.shown(name)]
        if due:
            with pn.io.hold():
                for name in due:
                    self._catch_up(name)

    def reveal(self, kinds: set[str]) -> None:
        """Show the cards of ``kinds`` before their first record (a sweep just started)."""
        if set(kinds) - self.seen:
            self.seen |= set(kinds)
            self.show_cards()

    def new_run(self, history: History, method_label: str | None = None) -> None:
        """Empty the run's plots for a new run (earlier runs stay in the trade-off plot)."""
        self.history = history
        if "tradeoff" in self._pending and "tradeoff" in self.views:  # the run it archives
            _give(self.views["tradeoff"], self._pending.pop("tradeoff"))
        self.step_axis.reset()
        if "fan_history" in self.views:
            self.views["fan_history"].history = history
        if method_label is not None and "tradeoff" in self.views:
            self.views["tradeoff"].method_label = method_label  # names the archived run
        for name, view in self.views.items():
            if name not in KEEP_ACROSS_RUNS:
                view.reset()
        self._forget()
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
        self._forget()
        self.selection.clear()
        self.step_axis.reset()

    def settle_step_axis(self) -> None:
        """The run is not running: the step axis spans its steps exactly (2% padding), not
        up to the next coarse step (unless the user zoomed or panned it)."""
        self.step_axis.show(None, None, exact=True)

    def _forget(self) -> None:
        """Drop what waits for hidden and slow views (their plots were just emptied)."""
        self.stale.clear()
        self._pending.clear()
        self._due.clear()
        self._upto = None

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


def _changes(view: View, increment: dict[str, list[dict]]) -> bool:
    """``view.changes``; a view that cannot tell (a malformed record) takes the records at
    once, and its ``update`` then says what is wrong (:func:`_give`)."""
    try:
        return bool(view.changes(increment))
    except Exception:
        return True


def _give(view: View, by_kind: dict[str, list[dict]]) -> list[str]:
    """Hand records to one view; a view that cannot take them says why (one message)."""
    try:
        view.update(by_kind)
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{type(view).__name__} could not show a record: {exc}"]
    return []
