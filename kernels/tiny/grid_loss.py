"""The loss of a whole amplitude grid in one tensor op (TINY paper sec. 3.3 line search).

A growth move of hidden layer l changes only the output of Linear l+1 (the best update
gamma_0 dW* adds gamma_0 B_l dW*^T; new neurons add sqrt(gamma) sigma(sqrt(gamma) B_{l-1}
alpha) omega^T), so the loss for every gamma on the grid needs only the captured output of
Linear l+1, the added term and the layers above it: no forward pass through the layers below.
All gammas of a grid are stacked in one tensor, d x G x n, feature-major with the grid in the
middle (one column per sample and gamma): each layer above is ONE matrix product
W @ Z.view(d, G n) (no copy: the batched products of a G x d x n layout went through
``matmul``'s transposed fold, which copied every block, 22% of the line search's time), and
the cross-entropy reduces over the leading class axis of a C x G x n tensor, which on a CPU is
several times faster than ``F.cross_entropy`` on the row-major n x C logits (the per-call
cost of the latter, about 0.3 ms for 800 x 10 here, made most of the line search's time;
``explorer.bench.tiny_growth`` measures the whole growth step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

#: largest d x G x n block evaluated at once (elements); larger grids go in chunks. Blocks
#: that stay in the core's cache are much faster (2 MB of L2 per core here): 27 grid points,
#: one thread, float32, 2^16 against 2^22: 1.1 vs 1.9 ms (digits, 800 samples, 17-12 net),
#: 3.5 vs 12.6 ms (MNIST, 2800 samples, 11-11). Each chunk costs its ~20 op calls, so in whole
#: runs (small nets early on) 2^18 beat 2^16: line search 8.6-8.9% vs 9.5-10.0% of a digits
#: run's CPU time, 3.7-3.9% vs 4.1-4.7% on MNIST (3 runs each, interleaved)
MAX_BLOCK = 1 << 18


def lead_matmul(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """w @ z over z's leading axis: w (m x d), z (d x ...) -> m x ..., one matrix product."""
    return (w @ z.reshape(z.shape[0], -1)).view(w.shape[0], *z.shape[1:])


def logits_from(model, layer: int, zt: torch.Tensor) -> torch.Tensor:
    """Logits (C x G x n) of the network given the outputs (d x G x n, feature-major) of
    Linear ``layer``: the batched, feature-major ``capture.forward_from``. Assumes no
    unit-wise modules between a Linear and its activation (``plan_layer`` checks it)."""
    for j in range(layer, model.n_hidden):
        lin = model.linears[j + 1]
        h = model.activation(zt).reshape(zt.shape[0], -1)
        out = (
            torch.addmm(lin.bias[:, None], lin.weight, h)
            if lin.bias is not None
            else lin.weight @ h
        )
        zt = out.view(lin.out_features, *zt.shape[1:])
    return zt


def exp_floor(dtype: torch.dtype) -> float:
    """An argument below which exp's result is subnormal or 0 in ``dtype``, rounded up to an
    integer (-87 for float32): the floor :func:`cross_entropy_columns` clamps to."""
    return float(math.ceil(math.log(torch.finfo(dtype).tiny)))


def cross_entropy_columns(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per grid point: logits C x G x n (classes on the leading axis),
    labels n.

    log sum_c exp(l_c - max) with every l_c - max clamped at :func:`exp_floor` first: exp of a
    float32 argument below -87.3 (a subnormal result) is about 100x slower here than of the
    others (4.7 ms for 120,000 such arguments), and the grid's large amplitudes give many (the
    first grid of a digits layer-0 search: 10% of its logits, 0.49 of its 1.25 ms). The value
    is unchanged, bit for bit: each sum holds the max's term exp(0) = 1 and terms <= 1, so
    terms below ``exp(floor)`` (< 2e-38, float32) vanish in it whatever their exact value
    (tests/test_tiny_growth_speed.py)."""
    top = logits.amax(0, keepdim=True)
    shifted = (logits - top).clamp_min_(exp_floor(logits.dtype))
    lse = shifted.exp_().sum(0).log_() + top[0]
    picked = logits.gather(0, y.view(1, 1, -1).expand(1, logits.shape[1], -1))[0]
    return (lse - picked).mean(1)


class GridLoss:
    """``loss(gammas)``: the estimation batch's loss for each gamma, the move's Linear-output
    given by ``outputs(g)`` (g: a G x 1 tensor of amplitudes -> d x G x n, or d x 1 x n
    broadcast; a d x 1 x n tensor plus g times another gives it). ``loss_fn`` other than
    ``F.cross_entropy`` is called per grid point on the row-major logits."""

    def __init__(
        self,
        model,
        layer: int,
        y: torch.Tensor,
        outputs: Callable[[torch.Tensor], torch.Tensor],
        *,
        loss_fn=F.cross_entropy,
    ) -> None:
        self.model, self.layer, self.y = model, layer, y
        self.outputs, self.loss_fn = outputs, loss_fn
        widest = max(lin.out_features for lin in model.linears[layer + 1 :])
        self.chunk = max(1, MAX_BLOCK // max(widest * max(int(y.shape[0]), 1), 1))
        ref = model.linears[layer].weight
        self.dtype, self.device = ref.dtype, ref.device

    def __call__(self, gammas: Sequence[float]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(gammas), self.chunk):
            g = torch.tensor(gammas[i : i + self.chunk], dtype=self.dtype, device=self.device)
            logits = logits_from(self.model, self.layer + 1, self.outputs(g.view(-1, 1)))
            if logits.shape[1] != len(g):
                logits = logits.expand(-1, len(g), -1)
            if self.loss_fn is F.cross_entropy:
                values = cross_entropy_columns(logits, self.y).tolist()
            else:
                values = [float(self.loss_fn(logits[:, i].T, self.y)) for i in range(len(g))]
            out += [v if math.isfinite(v) else math.inf for v in values]
        return out


__all__ = ["MAX_BLOCK", "GridLoss", "cross_entropy_columns", "lead_matmul", "logits_from"]
