"""The explorer's plots: each a ``pn.viewable.Viewer`` fed increments of records."""

from explorer.views.base import (
    LINE_ROWS,
    ROLLOVER,
    View,
    group_records,
    history_records,
    step_range,
)
from explorer.views.cost import CostView
from explorer.views.fan_history import FanHistoryView
from explorer.views.group_sparsity import GroupSparsityView
from explorer.views.lifetimes import LifetimeView
from explorer.views.loss import LossView
from explorer.views.selection import UnitSelection
from explorer.views.sizes import SizesView
from explorer.views.spectrum import SpectrumView
from explorer.views.switches import SwitchView
from explorer.views.tradeoff import TradeoffView
from explorer.views.units import UnitScatterView

__all__ = [
    "LINE_ROWS",
    "ROLLOVER",
    "CostView",
    "FanHistoryView",
    "GroupSparsityView",
    "LifetimeView",
    "LossView",
    "SizesView",
    "SpectrumView",
    "SwitchView",
    "TradeoffView",
    "UnitScatterView",
    "UnitSelection",
    "View",
    "group_records",
    "history_records",
    "step_range",
]
