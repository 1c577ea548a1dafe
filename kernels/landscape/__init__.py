"""Loss landscape tools (Shu, Wang & Cai 2020, sec. 4.1-4.2; Li et al. 2018): filter-normalised
directions, loss contours and gradient-variance maps batched with torch.func, the top Hessian
eigenvalue, and convergence runs of cell networks. No UI imports."""

from kernels.landscape.analysis import LandscapeResult, analyse_network
from kernels.landscape.convergence import TrainResult, train_cell
from kernels.landscape.directions import filter_normalized_direction, perturbed
from kernels.landscape.hessian import hvp, top_eigenvalue
from kernels.landscape.surface import (
    gradient_variance,
    gradient_variance_loop,
    loss_surface,
    loss_surface_loop,
    model_params,
    variance_surface,
    variance_surface_loop,
)

__all__ = [
    "LandscapeResult",
    "TrainResult",
    "analyse_network",
    "filter_normalized_direction",
    "gradient_variance",
    "gradient_variance_loop",
    "hvp",
    "loss_surface",
    "loss_surface_loop",
    "model_params",
    "perturbed",
    "top_eigenvalue",
    "train_cell",
    "variance_surface",
    "variance_surface_loop",
]
