"""Extra tabs of the live page: a registry name -> factory.

A factory takes the page's :class:`~explorer.app.ExplorerApp` and returns anything Panel can
show (a ``pn.viewable.Viewer`` is best). Register once at import of the module that owns the
tab::

    from explorer.page.tabs import register_tab
    register_tab("runs", lambda app: RunsView(app.session))

or pass tabs to one page: ``ExplorerApp(tabs={"runs": factory})``. The live plots are always
the first tab ("live"); the others follow in registration order and are built only when the
page is built (``pn.Tabs(dynamic=True)`` renders only the tab on show).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

#: tab name -> factory(app) -> a Panel viewable
TABS: dict[str, Callable[[Any], Any]] = {}
#: the name of the first tab, the live plots
LIVE = "live"


def register_tab(name: str, factory: Callable[[Any], Any]) -> None:
    """Add (or replace) a tab shown on every page built afterwards."""
    if not name or name == LIVE:
        raise ValueError(f"a tab needs a name other than '{LIVE}'")
    if not callable(factory):
        raise TypeError(f"tab '{name}': the factory must be callable, got {type(factory)}")
    TABS[name] = factory


def unregister_tab(name: str) -> None:
    if name not in TABS:
        raise KeyError(_unknown(name))
    del TABS[name]


def tab_factories(
    tabs: Mapping[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Callable[[Any], Any]]:
    """The registered tabs followed by ``tabs`` (which wins on a shared name)."""
    out = dict(TABS)
    for name, factory in (tabs or {}).items():
        if not callable(factory):
            raise TypeError(f"tab '{name}': the factory must be callable, got {type(factory)}")
        out[name] = factory
    return out


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, list(TABS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"no tab named '{name}'{hint} registered: {', '.join(TABS) or 'none'}"
