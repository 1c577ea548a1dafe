"""TINY: spotting expressivity bottlenecks from backprop and fixing them with the best neurons
(the paper ``003`` in shared/papers). Torch only; the sizing method is kernels.methods.tiny."""

from kernels.tiny.best_neurons import LOBPCG_FROM, BestNeurons, accepted_count, best_neurons
from kernels.tiny.bottleneck import best_update, cross_moment, lack_of_expressivity, second_moment
from kernels.tiny.capture import LayerActivity, capture, forward_from
from kernels.tiny.growth import LayerGrowth, plan_layer, random_neurons
from kernels.tiny.line_search import LineSearchResult, line_search
from kernels.tiny.network import ACTIVATIONS, GrowingMLP

__all__ = [
    "ACTIVATIONS",
    "LOBPCG_FROM",
    "BestNeurons",
    "GrowingMLP",
    "LayerActivity",
    "LayerGrowth",
    "LineSearchResult",
    "accepted_count",
    "best_neurons",
    "best_update",
    "capture",
    "cross_moment",
    "forward_from",
    "lack_of_expressivity",
    "line_search",
    "plan_layer",
    "random_neurons",
    "second_moment",
]
