"""Best update of a layer's existing weights and the lack of expressivity (TINY paper,
def. 3.1 and prop. 3.1).

Torch layout: B is n x (d_in + 1) (one row per sample, ones column for the bias), V is
n x d_out, a weight update dW is d_out x (d_in + 1) (its last column updates the bias).
"""

from __future__ import annotations

import torch


def second_moment(b: torch.Tensor) -> torch.Tensor:
    """S = (1/n) B^T B (sec. 3.2), the input second-moment matrix."""
    return b.T @ b / b.shape[0]


def cross_moment(b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """N = (1/n) B^T V (sec. 3.2): (d_in + 1) x d_out."""
    return b.T @ v / b.shape[0]


def best_update(b: torch.Tensor, v_goal: torch.Tensor) -> torch.Tensor:
    """dW* = (1/n) V_goal B^T ((1/n) B B^T)^+ (prop. 3.1), here (1/n) V^T B S^+.

    The minimum-norm least-squares solution of min ||V_goal - B dW^T||: the projection of the
    desired update onto what the layer's own weights can do. Solved in float64.
    """
    b64, v64 = b.double(), v_goal.double()
    s = second_moment(b64)
    return (cross_moment(b64, v64).T @ torch.linalg.pinv(s, hermitian=True)).to(b.dtype)


def lack_of_expressivity(
    b: torch.Tensor,
    v_goal: torch.Tensor,
    update: torch.Tensor | None = None,
    extra: torch.Tensor | None = None,
) -> float:
    """(1/n) ||V_goal - B dW^T - extra||_Tr^2 (def. 3.1 divided by n, as in prop. 3.2 (10)).

    With ``update`` = dW* this is the bottleneck of the layer; ``extra`` is the activity
    update of added neurons, V(theta) = (B alpha) omega^T.
    """
    r = v_goal.double()
    if update is not None:
        r = r - b.double() @ update.double().T
    if extra is not None:
        r = r - extra.double()
    return float((r * r).sum() / r.shape[0])
