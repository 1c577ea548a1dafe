"""The knob sliders, built from the :class:`~explorer.knobs.Knobs` params.

Each slider's range, step and scale come from its param (soft bounds, ``step``,
:class:`~explorer.knobs.LogNumber`), so the page and the params cannot disagree. A slider sets
its knob when released; a knob changed elsewhere (a snapshot opened, ``ex.knobs.lam = ...`` in
a notebook) moves its slider. Only the knobs the current method reads are shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import panel as pn
import param
from bokeh.models import CustomJSTickFormatter

from explorer.config import declared_options
from explorer.knobs import Knobs, LogNumber, knob_names, switch_names
from kernels.methods import METHODS
from kernels.methods.nonparametric_options import LIFETIME_EPOCHS

#: slider step of a log-scale knob, in decades
LOG_STEP = 0.05


def slider_range(name: str) -> tuple[float, float, float | None, bool]:
    """(low, high, step, log) of knob ``name``'s slider, read from its param."""
    p = Knobs.param[name]
    lo, hi = p.softbounds if p.softbounds is not None else p.bounds
    hard_lo, hard_hi = p.bounds
    lo = hard_lo if lo is None else lo
    hi = hard_hi if hi is None else hi
    if lo is None or hi is None:
        raise ValueError(f"knob '{name}' needs soft or hard bounds for its slider")
    log = isinstance(p, LogNumber)
    if log and lo <= 0:
        raise ValueError(f"knob '{name}' is on a log scale: its soft bounds must be > 0, got {lo}")
    return lo, hi, (LOG_STEP if log else p.step), log


def slider_format(name: str) -> str:
    """The numeral.js format of knob ``name``'s linear slider label: as many decimals as its
    param's ``step`` has (lam2's step 1e-4 shows its 1e-4 default as 0.0001, not 0); log
    sliders label in scientific notation instead."""
    step = Knobs.param[name].step
    if isinstance(Knobs.param[name], param.Integer) or not step:
        return "0,0"
    exponent = Decimal(str(step)).normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 2
    return "0." + "0" * decimals if decimals else "0,0"


def set_knob(knobs: Knobs, name: str, value) -> None:
    """Set one knob; the trainer uses it from its next step. Out of bounds -> one-line
    ValueError naming the allowed range, the knob unchanged."""
    names = knob_names() + switch_names()
    if name not in names:
        raise ValueError(f"unknown knob '{name}'; accepted: {', '.join(names)}")
    if isinstance(Knobs.param[name], param.Boolean):
        setattr(knobs, name, bool(value))
        return
    if name == "radial_lr":  # a value set by hand: alpha_r stops following lambda
        knobs.radial_auto = False
    if isinstance(Knobs.param[name], param.Integer):
        value = int(round(value))
    try:
        setattr(knobs, name, value)
    except ValueError as exc:
        lo, hi = Knobs.param[name].bounds
        raise ValueError(
            f"{name}={value!r} is not accepted (allowed {lo} to {hi}); "
            f"it stays {getattr(knobs, name)}"
        ) from exc


def lifetime_for(dataset: str) -> float:
    """The unit lifetime (epochs) of radial_lr auto for a run on ``dataset``: what the data
    set declares (Table 3), else the method's default."""
    return float(declared_options("nonparametric", dataset).get("lifetime", LIFETIME_EPOCHS))


class KnobPanel(pn.viewable.Viewer):
    """One slider (and a tooltip icon with the knob's doc) per knob of the method."""

    method = param.String(
        default="nonparametric", doc="the sizing method whose knobs are shown (kernels.methods)"
    )
    lifetime = param.Number(
        default=LIFETIME_EPOCHS,
        bounds=(0, None),
        doc="the unit lifetime T (epochs) of radial_lr auto, alpha_r = 1/(T lambda): the data "
        "set's Table 3 value (explorer.config.declared_options) or the method's default",
    )

    def __init__(
        self, knobs: Knobs, on_change: Callable[[str, float], None] | None = None, **params
    ) -> None:
        super().__init__(**params)
        self.knobs = knobs
        self._on_change = on_change or (lambda name, value: set_knob(self.knobs, name, value))
        self.widgets = {name: self._widget(name) for name in knob_names()}
        # sliders take no tooltip of their own: the knob's doc sits in an icon beside it
        self.rows = {
            name: pn.Row(
                widget,
                pn.widgets.TooltipIcon(value=Knobs.param[name].doc),
                sizing_mode="stretch_width",
            )
            for name, widget in self.widgets.items()
        }
        # alpha_r: "auto" follows lambda (Table 3); beside it the unit lifetime it implies
        self.radial_auto = pn.widgets.Checkbox(
            label=f"radial_lr auto: 1/({self.lifetime:g} lambda)",
            value=bool(self.knobs.radial_auto),
        )
        self.radial_auto.param.watch(lambda e: self._on_change("radial_auto", bool(e.new)), "value")
        self.lifetime_pane = pn.pane.Markdown(self.lifetime_text(), margin=(0, 10))
        self.rows["radial_lr"] = pn.Column(
            self.rows["radial_lr"],
            pn.Row(self.radial_auto, pn.widgets.TooltipIcon(value=Knobs.param["radial_auto"].doc)),
            self.lifetime_pane,
            sizing_mode="stretch_width",
        )
        self._show_method_knobs()
        self.knobs.param.watch(self._follow, [n for n in knob_names() if n != "radial_lr"])
        self.knobs.param.watch(self._follow_radial, ["radial_auto", "radial_lr", "lam"])
        self._follow_radial()

    def apply(self, values: dict) -> None:
        """Set the knobs to ``values`` (a preset's, a method's defaults), the others back to
        their defaults; each through ``set_knob`` (bounds checked), the sliders follow."""
        values = {**Knobs().values(), **values}
        auto = bool(values.pop("radial_auto"))
        for name, value in values.items():
            set_knob(self.knobs, name, value)
        self.knobs.radial_auto = auto  # set last: a hand-set radial_lr turns it off

    def lifetime_text(self) -> str:
        """The unit lifetime the knobs imply: 1/(alpha_r lambda) epochs (sec. 4.1)."""
        alpha = self.knobs.radial_lr_in_use(self.lifetime)
        life = self.knobs.unit_lifetime_epochs(self.lifetime)
        shown = "never (lambda = 0)" if math.isinf(life) else f"{life:.3g} epochs"
        return (
            f"<small>alpha_r in use {alpha:.3g}; a new unit lives {shown} under "
            "shrinkage alone (1/(alpha_r lambda) epochs; x steps per epoch for "
            "steps)</small>"
        )

    @param.depends("lifetime", watch=True)
    def _follow_radial(self, *events) -> None:
        """The radial_lr slider shows the alpha_r in use: with "auto" on it follows lambda
        (1/(lifetime lambda), labelled "auto"); a hand move turns auto off (``set_knob``)."""
        auto = bool(self.knobs.radial_auto)
        self.radial_auto.value = auto
        self.radial_auto.label = f"radial_lr auto: 1/({self.lifetime:g} lambda)"
        self.lifetime_pane.object = self.lifetime_text()
        slider = self.widgets["radial_lr"]
        slider.value = self._shown("radial_lr", self.knobs.radial_lr_in_use(self.lifetime))
        slider.name = "radial_lr (auto: follows lambda)" if auto else "radial_lr"

    def _widget(self, name: str):
        lo, hi, step, log = slider_range(name)
        value = getattr(self.knobs, name)
        if log:
            widget = pn.widgets.FloatSlider(
                label=f"{name} (log scale)",
                start=math.log10(lo),
                end=math.log10(hi),
                step=step,
                value=self._shown(name, value),
                sizing_mode="stretch_width",
                format=CustomJSTickFormatter(code="return (10 ** tick).toExponential(1)"),
            )
            widget.param.watch(lambda e, n=name: self._on_change(n, 10**e.new), "value_throttled")
            return widget
        integer = isinstance(Knobs.param[name], param.Integer)
        cls = pn.widgets.IntSlider if integer else pn.widgets.FloatSlider
        widget = cls(
            label=name,
            start=lo,
            end=hi,
            step=step or (1 if integer else 0.01),
            value=self._shown(name, value),
            sizing_mode="stretch_width",
            format=slider_format(name),
        )
        widget.param.watch(lambda e, n=name: self._on_change(n, e.new), "value_throttled")
        return widget

    @staticmethod
    def _shown(name: str, value: float) -> float:
        """Where the slider shows ``value``: clamped to its range (log10 on a log scale)."""
        lo, hi, _, log = slider_range(name)
        if log:
            return math.log10(min(max(value, lo), hi) if value > 0 else lo)
        return min(max(value, lo), hi)

    def _follow(self, *events) -> None:
        """A knob changed (by its slider or elsewhere): move the slider there. Setting
        ``value`` does not fire ``value_throttled``, so this does not loop."""
        for event in events:
            self.widgets[event.name].value = self._shown(event.name, event.new)

    @param.depends("method", watch=True)
    def _show_method_knobs(self) -> None:
        """Lay out the rows of the knobs the method reads, only those: a row not shown is
        not rendered at all (a hidden widget still costs its Bokeh models at page load)."""
        used = set(METHODS[self.method].knobs) if self.method in METHODS else set()
        for name, row in self.rows.items():
            row.visible = name in used
        shown = [row for name, row in self.rows.items() if name in used]
        if not hasattr(self, "_layout"):
            header = pn.pane.Markdown("### knobs (act on the next step)")
            self._layout = pn.Column(header, *shown, sizing_mode="stretch_width")
        else:
            self._layout.objects = [self._layout.objects[0], *shown]

    def __panel__(self):
        return self._layout
