"""Best update of a layer's existing weights and the lack of expressivity (TINY paper,
def. 3.1 and prop. 3.1).

Torch layout: B is n x (d_in + 1) (one row per sample, ones column for the bias), V is
n x d_out, a weight update dW is d_out x (d_in + 1) (its last column updates the bias).
"""

from __future__ import annotations

import torch

#: input widths from which ``second_moment`` skips the all-zero columns and computes only the
#: upper block triangle (below, the plain product is as fast)
SPLIT_FROM = 256
#: column blocks of that product: B_i^T [B_i .. B_k] for each block i, k (k + 1) / (2 k) of
#: the plain product's work (5/8 for 4)
BLOCKS = 4


def live_moments(
    b: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """S = (1/n) B^T B and N = (1/n) B^T V (sec. 3.2) on the inputs that are not zero on the
    whole batch, and those inputs' indices (None: all of them; S and N are then the plain
    products).

    From ``SPLIT_FROM`` columns on (the input layer of image data): the columns that are zero
    on the whole batch (blank pixels: 138 of 785 on 2,800 MNIST images) give zero rows of S
    and N and are left out, and of the symmetric S only the blocks on and above the diagonal
    are computed, the others are their transposes; N's rows are computed block by block with
    them. Each entry is the same dot product over the n samples as in B^T B and B^T V (equal up
    to the rounding of the summation order: 1e-16 relative in float64,
    tests/test_tiny_growth_cost.py), for about half the work (12 vs 22 ms for S of 2800 x 785
    in float32, one thread here)."""
    n, d = b.shape
    if d < SPLIT_FROM:
        return b.T @ b / n, b.T @ v / n, None
    # a column is live when its largest or smallest entry is not 0 (NaN != 0: a NaN column
    # stays); two reductions instead of |B| (an n x d temporary, 8.8 MB on MNIST) and one
    live = torch.nonzero((b.amax(0) != 0) | (b.amin(0) != 0)).flatten()
    bl = b.index_select(1, live)
    m = len(live)
    edges = [round(i * m / BLOCKS) for i in range(BLOCKS + 1)]
    s_live = torch.empty(m, m, dtype=b.dtype, device=b.device)
    n_live = torch.empty(m, v.shape[1], dtype=b.dtype, device=b.device)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi == lo:
            continue
        block = bl[:, lo:hi]
        row = block.T @ bl[:, lo:]  # block row lo:hi, columns lo..m
        s_live[lo:hi, lo:] = row
        s_live[hi:, lo:hi] = row[:, hi - lo :].T
        n_live[lo:hi] = block.T @ v
    return s_live.div_(n), n_live.div_(n), live


def on_all_inputs(
    t: torch.Tensor, live: torch.Tensor | None, d: int, *, square: bool = False
) -> torch.Tensor:
    """Rows given on the ``live`` inputs (also the columns when ``square``: S) back on all
    ``d`` inputs, zeros elsewhere; ``t`` itself when ``live`` is None."""
    if live is None:
        return t
    rows = torch.zeros(d, t.shape[1], dtype=t.dtype, device=t.device).index_copy_(0, live, t)
    if not square:
        return rows
    return torch.zeros(d, d, dtype=t.dtype, device=t.device).index_copy_(1, live, rows)


def second_moment(b: torch.Tensor) -> torch.Tensor:
    """S = (1/n) B^T B (sec. 3.2), the input second-moment matrix (on all inputs; see
    :func:`live_moments`)."""
    if b.shape[1] < SPLIT_FROM:
        return b.T @ b / b.shape[0]
    s, _, live = live_moments(b, b[:, :0])
    return on_all_inputs(s, live, b.shape[1], square=True)


def cross_moment(b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """N = (1/n) B^T V (sec. 3.2): (d_in + 1) x d_out."""
    return b.T @ v / b.shape[0]


def best_update(b: torch.Tensor, v_goal: torch.Tensor, ridge: float = 0.0) -> torch.Tensor:
    """dW* = (1/n) V_goal B^T ((1/n) B B^T)^+ (prop. 3.1), here (1/n) V^T B S^+.

    The minimum-norm least-squares solution of min ||V_goal - B dW^T||: the projection of the
    desired update onto what the layer's own weights can do. Solved in float64.

    ``ridge`` > 0 solves (S + ridge * mean(diag S) I) instead (Tikhonov; a departure from the
    paper's inverse): with the pseudo-inverse, directions of S with tiny variance get huge
    weights; on digits, grown every 10 steps by the rank of N, the line-searched gamma_0 dW*
    moves (gamma_0 20-50 on the output layer) made the batch loss explode from 0.04 to 1e10
    within 100 steps; ridge 1e-3 kept it below 0.2 there but not with 40 steps between growth
    steps (test loss 2e7); the tiny-race presets use 1e-2.
    """
    b64, v64 = b.double(), v_goal.double()
    s = second_moment(b64)
    if ridge > 0:
        s = s + ridge * float(torch.diagonal(s).mean()) * torch.eye(s.shape[0], dtype=s.dtype)
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
