"""The live page as components, each a ``pn.viewable.Viewer`` (except the Session, which has
no Panel in it), composed by :class:`explorer.app.ExplorerApp`:

- :class:`RunForm` (run_form.py): method, data set, sizes, seed, device, steps; ``.config()``;
  the data-set upload
- :class:`RunControls` (controls.py): start / pause / resume / step / stop / reset, refresh
- :class:`Actions` (actions.py): safe handlers (a failure is a message), parsing off the loop
- :class:`KnobPanel` (knob_panel.py): sliders built from the Knobs params
- :class:`~explorer.session.Session` (explorer/session.py, outside this package so that
  importing it pulls in no Panel): runner, History, drain
- :class:`Dashboard` (dashboard.py): the views by name in cards picked by record kinds
- :class:`SnapshotPanel` (snapshot_panel.py): save, upload, open from the folder;
  :class:`GroupSparsityPanel` (sweep_panel.py), :class:`StatusBar` (status.py),
  :class:`ReplayScrubber` (replay.py): a recorded run at any step
- :func:`refresh_period`, :class:`CostModel`, :class:`BrowserAck` (refresh.py): the adaptive
  refresh period, pure; :class:`Refresher` (refresher.py): the periodic drain that uses them,
  with :class:`RefreshAck` (ack.py), the browser's acknowledgement of each refresh
- :func:`register_tab` (tabs.py): more tabs beside the live plots
- curdoc_guard.py: Bokeh's ``curdoc()`` put back after a server callback that raised
- inline_arrays.py: a refresh's small arrays inside its message's JSON (3 websocket frames)
"""

from explorer.page import curdoc_guard, inline_arrays
from explorer.page.ack import RefreshAck
from explorer.page.actions import Actions
from explorer.page.controls import RunControls
from explorer.page.dashboard import CARDS, CardSpec, Dashboard, cards_for, declared_kinds
from explorer.page.knob_panel import KnobPanel, set_knob, slider_format, slider_range
from explorer.page.refresh import (
    FLOOR_MS,
    MAX_PERIOD_MS,
    UI_SHARE,
    BrowserAck,
    CostModel,
    refresh_period,
    smoothed_cost,
)
from explorer.page.refresher import Refresher
from explorer.page.replay import ReplayScrubber
from explorer.page.run_form import UPLOAD, RunForm, parse_hidden
from explorer.page.snapshot_panel import SnapshotPanel, snapshot_files, snapshot_folder
from explorer.page.status import StatusBar
from explorer.page.sweep_panel import GroupSparsityPanel
from explorer.page.tabs import LIVE, TABS, register_tab, tab_factories, unregister_tab

curdoc_guard.install()  # before any page is served: one failing callback leaks no curdoc
inline_arrays.install()  # a refresh in 3 websocket frames, not 3 + 2 per array

__all__ = [
    "CARDS",
    "FLOOR_MS",
    "LIVE",
    "MAX_PERIOD_MS",
    "TABS",
    "UI_SHARE",
    "UPLOAD",
    "Actions",
    "BrowserAck",
    "CardSpec",
    "CostModel",
    "Dashboard",
    "GroupSparsityPanel",
    "KnobPanel",
    "RefreshAck",
    "Refresher",
    "ReplayScrubber",
    "RunControls",
    "RunForm",
    "SnapshotPanel",
    "StatusBar",
    "cards_for",
    "declared_kinds",
    "parse_hidden",
    "refresh_period",
    "register_tab",
    "set_knob",
    "slider_format",
    "slider_range",
    "smoothed_cost",
    "snapshot_files",
    "snapshot_folder",
    "tab_factories",
    "unregister_tab",
]
