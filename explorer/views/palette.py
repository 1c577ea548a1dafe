"""One palette for the whole explorer: layer i has the same colour in every plot."""

from __future__ import annotations

import numpy as np
from bokeh.palettes import Category10_10

LAYER_COLORS: tuple[str, ...] = tuple(Category10_10)
#: how many hidden layers the step plots draw lines for (deeper nets share colours)
MAX_LAYERS = 8
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
KNOB_COLOR = "#9467bd"
BORN_COLOR = "#2ca02c"
DIED_COLOR = "#7f7f7f"
ACCEPTED_COLOR = "#2ca02c"
REJECTED_COLOR = "#bbbbbb"


def layer_color(layer: int) -> str:
    return LAYER_COLORS[int(layer) % len(LAYER_COLORS)]


def layer_colors(layers) -> list[str]:
    return [layer_color(i) for i in np.asarray(layers, dtype=int)]
