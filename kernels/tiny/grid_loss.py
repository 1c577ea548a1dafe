"""The loss of a whole amplitude grid in one tensor op (TINY paper sec. 3.3 line search).

A growth move of hidden layer l changes only the output of Linear l+1 (the best update
gamma_0 dW* adds gamma_0 B_l dW*^T; new neurons add sqrt(gamma) sigma(sqrt(gamma) B_{l-1}
alpha) omega^T), so the loss for every gamma on the grid needs only the captured output of
Linear l+1, the added term and the layers above it: no forward pass through the layers below.
All gammas of a grid are stacked in one tensor, G x d x n, in feature-major layout (one column
per sample): the layers above are batched matrix products W @ Z, and the cross-entropy
reduces over the class axis of a G x C x n tensor, which on a CPU is several times faster
than ``F.cross_entropy`` on the row-major n x C logits (the per-call cost of the latter, about
0.3 ms for 800 x 10 here, made most of the line search's time; ``explorer.bench.tiny_growth``
measures the whole growth step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

#: largest G x d x n block evaluated at once (elements); larger grids go in chunks
MAX_BLOCK = 1 << 22


def logits_from(model, layer: int, zt: torch.Tensor) -> torch.Tensor:
    """Logits (G x C x n) of the network given the outputs (G x d x n, feature-major) of
    Linear ``layer``: the batched, feature-major ``capture.forward_from``. Assumes no
    unit-wise modules between a Linear and its activation (``plan_layer`` checks it)."""
    for j in range(layer, model.n_hidden):
        lin = model.linears[j + 1]
        zt = torch.matmul(lin.weight, model.activation(zt))
        if lin.bias is not None:
            zt = zt + lin.bias[:, None]
    return zt


def cross_entropy_columns(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per grid point: logits G x C x n (classes on axis 1), labels n."""
    top = logits.amax(1, keepdim=True)
    lse = (logits - top).exp().sum(1).log() + top[:, 0]
    picked = logits.gather(1, y.view(1, 1, -1).expand(logits.shape[0], 1, -1))[:, 0]
    return (lse - picked).mean(1)


class GridLoss:
    """``loss(gammas)``: the estimation batch's loss for each gamma, the move's Linear-output
    given by ``outputs(g)`` (g: a G x 1 x 1 tensor of amplitudes -> G x d x n, or 1 x d x n
    broadcast). ``loss_fn`` other than ``F.cross_entropy`` is called per grid point on the
    row-major logits."""

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
            logits = logits_from(self.model, self.layer + 1, self.outputs(g.view(-1, 1, 1)))
            if logits.shape[0] != len(g):
                logits = logits.expand(len(g), -1, -1)
            if self.loss_fn is F.cross_entropy:
                values = cross_entropy_columns(logits, self.y).tolist()
            else:
                values = [float(self.loss_fn(z.T, self.y)) for z in logits]
            out += [v if math.isfinite(v) else math.inf for v in values]
        return out


__all__ = ["MAX_BLOCK", "GridLoss", "cross_entropy_columns", "logits_from"]
