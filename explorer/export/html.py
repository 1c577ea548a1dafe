"""A static, self-contained HTML dashboard of a run, drawn by the live page's own views."""

from __future__ import annotations

import re
from pathlib import Path

from explorer.export.files import cleanup_on_failure
from explorer.history import History
from kernels.records import EVAL, EVENT, STEP


def unit_lifetimes(history: History) -> dict[str, list]:
    """One row per unit ever seen: layer, birth step, death step (or the last step), cause.

    Units present from the start carry no birth event: they are born at the step of the
    first table that shows them minus their age there (as the live lifetimes plot)."""
    last_step = 0
    for kind in (STEP, EVAL):
        rec = history.last(kind)
        if rec:
            last_step = max(last_step, int(rec["step"]))
    units: dict[int, dict] = {}
    for table in history.tables:
        last_step = max(last_step, int(table["step"]))
        ages = table["age"].tolist() if "age" in table else [0] * len(table["unit_id"])
        for layer, uid, age in zip(
            table["layer"].tolist(), table["unit_id"].tolist(), ages, strict=True
        ):
            units.setdefault(
                uid,
                {
                    "layer": layer,
                    "born": max(int(table["step"]) - int(age), 0),
                    "died": None,
                    "cause": "",
                },
            )
    for e in history.rows.get(EVENT, []):
        u = units.setdefault(
            int(e["unit_id"]), {"layer": int(e["layer"]), "born": 0, "died": None, "cause": ""}
        )
        if e["event"] == "born":
            u["born"] = int(e["step"])
        else:
            u["died"], u["cause"] = int(e["step"]), str(e.get("cause", ""))
    ids = sorted(units)
    return {
        "unit_id": ids,
        "layer": [units[i]["layer"] for i in ids],
        "born": [units[i]["born"] for i in ids],
        "end": [units[i]["died"] if units[i]["died"] is not None else last_step for i in ids],
        "alive": [units[i]["died"] is None for i in ids],
        "cause": [units[i]["cause"] or "alive" for i in ids],
    }


def _dashboard_views(history: History) -> list:
    """The live page's views that draw a kind this history holds, fed the whole history."""
    from explorer.views import (
        CostView,
        LifetimeView,
        LossView,
        SizesView,
        SpectrumView,
        SwitchView,
        TradeoffView,
        UnitScatterView,
        UnitSelection,
        history_records,
        step_range,
    )

    records = history_records(history)
    selection, x_range = UnitSelection(), step_range()
    views = [
        LossView(x_range=x_range),
        SizesView(x_range=x_range),
        UnitScatterView(selection),
        LifetimeView(selection, x_range=x_range),
        TradeoffView(),
        CostView(x_range=x_range),
        SpectrumView(x_range=x_range),
        SwitchView(selection, x_range=x_range),
    ]
    shown = [v for v in views if set(v.kinds) & set(records)]
    for view in shown:
        view.update(records)
    return shown


def _view_figures(view) -> list:
    return [
        getattr(view, name)
        for name in ("loss_fig", "acc_fig", "fig", "summary_fig")
        if getattr(view, name, None) is not None
    ]


def _lifetime_rows_toggle(view):
    """The lifetimes' 'living only' / 'all units' switch, in the browser (no server)."""
    from bokeh.models import CustomJS, RadioButtonGroup

    from explorer.views.lifetimes import ROW_MODES

    modes = list(ROW_MODES)
    toggle = RadioButtonGroup(labels=modes, active=modes.index(view.rows.value))
    toggle.js_on_change(
        "active",
        CustomJS(
            args={
                "glyph": view.bars.glyph,
                "axis": view.fig.yaxis[0],
                "fields": [ROW_MODES[m][0] for m in modes],
                "labels": [ROW_MODES[m][1] for m in modes],
            },
            code="glyph.y = {field: fields[cb_obj.active]}; "
            "axis.axis_label = labels[cb_obj.active];",
        ),
    )
    return toggle


def dashboard(history: History, title: str = "Sizing Explorer run", landscape: dict | None = None):
    """Bokeh layout of a run drawn by the live page's own views (explorer.views), fed the
    whole history: the same colours, legends, lifetimes (units present from the start born
    at their step minus their age), thinning of long lines and cards per record kind
    (pan, zoom and hover; no server needed); then the session's ``landscape`` results drawn
    by the landscape page's own HoloViews views (:mod:`explorer.export.landscape`)."""
    from bokeh.layouts import column, gridplot
    from bokeh.models import Div

    from explorer.views import LifetimeView
    from explorer.views.base import anchor_ranges, quiet_ranges

    figures, extras = [], []
    for view in _dashboard_views(history):
        for fig in _view_figures(view):
            quiet_ranges(fig)
            anchor_ranges(fig)
            fig.sizing_mode = "fixed"
            fig.width = 600
            figures.append(fig)
        if isinstance(view, LifetimeView):
            extras.append(_lifetime_rows_toggle(view))
    events = history.rows.get(EVENT, [])
    born = sum(e["event"] == "born" for e in events)
    last = history.last(STEP) or {}
    header = Div(
        text=f"<h2>{_escape(title)}</h2><p>steps: {last.get('step', 0)}, sizes: "
        f"{last.get('sizes', [])}, units born: {born}, died: "
        f"{len(events) - born}</p>"
    )
    rows = [
        figures[i : i + 2] + [None] * (2 - len(figures[i : i + 2]))
        for i in range(0, len(figures), 2)
    ]
    parts = [header, *extras]
    if rows:
        parts.append(gridplot(rows))
    if landscape:
        from explorer.export.landscape import landscape_models

        parts += landscape_models(landscape)
    layout = column(*parts)
    for model in layout.references():
        # the views link selections and ranges with Python callbacks, which need a server;
        # a file page has none (Bokeh warns), so drop them from this one-off document
        if getattr(model, "_callbacks", None):
            model._callbacks = {}
    return layout


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def dashboard_html(
    history: History, title: str = "Sizing Explorer run", landscape: dict | None = None
) -> str:
    """The dashboard as one HTML page with Bokeh's JavaScript inlined (no CDN, no server)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    page = file_html(dashboard(history, title, landscape), INLINE, title=title)
    # Importing Panel patches Bokeh's Resources to add an ES-module shim <script src=...>; the
    # dashboard uses no Panel model and a file page cannot load that path, so drop such tags
    # and keep the page self-contained (Bokeh's own JS is inlined above).
    return re.sub(r'<script[^>]*\bsrc="[^"]*"[^>]*>\s*</script>\s*', "", page)


def export_html(
    history: History,
    path: str | Path,
    title: str = "Sizing Explorer run",
    landscape: dict | None = None,
) -> Path:
    path = Path(path)
    page = dashboard_html(history, title, landscape)  # made before anything is written
    with cleanup_on_failure(path.parent) as written:
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(path)
        path.write_text(page, encoding="utf-8")
    return path
