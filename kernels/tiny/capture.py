"""Layer activities and desired updates of one minibatch, in one forward/backward pass.

For every Linear j of the network (TINY paper sec. 2.1, in torch's row-per-sample layout):

- ``inputs`` B_{j-1}: the layer's input activities, n x (d_in + 1), the last column all ones
  when the layer has a bias (b = (x, 1), fig. 1);
- ``pre`` A_j: the layer's outputs (pre-activations), n x d_out;
- ``v_goal`` V_goal^j: the desired update of those pre-activations, minus the gradient of each
  sample's own loss with respect to them, v_goal(x_i) = -eta grad_{a_j} L(f(x_i), y_i) with
  eta = 1 (sec. 2.3). The per-sample loss is used, so V_goal does not shrink with n.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)


@dataclass
class LayerActivity:
    inputs: torch.Tensor
    pre: torch.Tensor
    v_goal: torch.Tensor

    def rows(self, start: int, stop: int) -> LayerActivity:
        """The samples start..stop-1 (each row depends on its own sample only)."""
        return LayerActivity(self.inputs[start:stop], self.pre[start:stop], self.v_goal[start:stop])


def with_ones(h: torch.Tensor, bias: bool) -> torch.Tensor:
    """Append the constant-1 column that multiplies the bias (b = (h, 1))."""
    if not bias:
        return h
    return torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype, device=h.device)], dim=1)


def hidden_output(model, layer: int, z: torch.Tensor) -> torch.Tensor:
    """Post-activation of hidden layer ``layer`` from its Linear output ``z``."""
    for m in model.post[layer]:
        z = m(z)
    return model.activation(z)


def forward_from(model, layer: int, z: torch.Tensor) -> torch.Tensor:
    """Logits of the network given the output ``z`` of Linear ``layer`` (the line search
    changes only that layer's pre-activations, so the layers below are not recomputed)."""
    for j in range(layer, model.n_hidden):
        z = model.linears[j + 1](hidden_output(model, j, z))
    return z


def newest_rows(
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    n: int,
    *,
    ones: bool = True,
    scratch: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The ``n`` newest samples of ``batches`` (oldest first; the newest batch comes first in
    the result, as ``torch.cat`` of the batches newest first, cut at n): (x, y, b0, scratch).

    b0 = x with a ones column appended (the first Linear's B, for ``capture``'s ``b0``) when
    ``ones``, else None; x is then its view without that column. The rows are written once
    into ``scratch`` (returned, to pass back next time; a new one when it is too small or of
    another kind): on the MNIST subset's 5600 x 785 rows, one copy into reused memory instead
    of two into fresh memory (``torch.cat`` then the ones column), whose page faults were most
    of their cost."""
    xs, ys, have = [], [], 0
    for x, y in reversed(batches):
        xs.append(x)
        ys.append(y)
        have += len(y)
        if have >= n:
            break
    rows, d, ref = min(have, n), xs[0].shape[1], xs[0]
    if (
        scratch is None
        or scratch.shape[0] < rows
        or scratch.shape[1] != d + int(ones)
        or (scratch.dtype, scratch.device) != (ref.dtype, ref.device)
    ):
        scratch = torch.empty(rows, d + int(ones), dtype=ref.dtype, device=ref.device)
    b0 = scratch[:rows]
    start = 0
    for x in xs:
        take = min(len(x), rows - start)
        b0[start : start + take, :d].copy_(x[:take])
        start += take
    if ones:
        b0[:, d] = 1.0
    return b0[:, :d], torch.cat(ys)[:n], (b0 if ones else None), scratch


def capture(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn=F.cross_entropy,
    *,
    b0: torch.Tensor | None = None,
) -> list[LayerActivity]:
    """B, A and V_goal of every Linear of ``model`` on the minibatch (x, y).

    ``loss_fn(logits, y, reduction="sum")`` gives the summed per-sample loss. A plain
    :class:`~kernels.tiny.network.GrowingMLP` (no unit-wise modules) with the cross-entropy
    takes a direct route, bit for bit the same values: the forward pass without autograd and
    the backward written out with the ops autograd would call (about 0.7x the time of
    a growth step's capture on digits, whose autograd graph and engine cost more than the
    small products). ``b0``: the
    first Linear's B already built (x with the ones column when it has a bias; ``x`` is then
    its view without that column), so that the widest input is not copied again (TINY's
    estimation data are written into it once, :func:`newest_rows`).
    """
    if _direct(model, loss_fn):
        return _capture_direct(model, x, y, b0)
    was_training = model.training
    model.eval()
    h, inputs, pres = x, [], []
    for j, lin in enumerate(model.linears):
        inputs.append(_layer_input(j, lin, h.detach(), x, b0).detach())
        z = lin(h)
        pres.append(z)
        h = hidden_output(model, j, z) if j < model.n_hidden else z
    loss = loss_fn(h, y, reduction="sum")
    grads = torch.autograd.grad(loss, pres)
    model.train(was_training)
    return [
        LayerActivity(b, a.detach(), -g.detach())
        for b, a, g in zip(inputs, pres, grads, strict=True)
    ]


def _layer_input(j: int, lin, h: torch.Tensor, x: torch.Tensor, b0) -> torch.Tensor:
    """B of Linear ``j``: its input ``h`` with the ones column, or for the first Linear the
    caller's ``b0`` (x with that column already written, :func:`newest_rows`)."""
    if j == 0 and b0 is not None:
        if b0.shape != (x.shape[0], x.shape[1] + (lin.bias is not None)):
            raise ValueError(
                f"b0 must be x with the ones column, got {tuple(b0.shape)} for x {tuple(x.shape)}"
            )
        return b0
    return with_ones(h, lin.bias is not None)


#: backward of each activation as autograd computes it: (grad, pre-activation z) -> grad of z
_ACTIVATION_BACKWARD = {
    "elu": lambda g, z: torch.ops.aten.elu_backward(g, 1.0, 1, 1, False, z),
    "selu": lambda g, z: torch.ops.aten.elu_backward(
        g, 1.6732632423543772848170429916717, 1.0507009873554804934193349852946, 1, False, z
    ),
    "tanh": lambda g, z: torch.ops.aten.tanh_backward(g, torch.tanh(z)),
    "relu": lambda g, z: torch.ops.aten.threshold_backward(g, torch.relu(z), 0),
}


def _direct(model, loss_fn) -> bool:
    """Whether ``capture`` may take the direct route: the cross-entropy and a GrowingMLP
    whose hidden blocks are Linear + activation only."""
    from kernels.tiny.network import GrowingMLP

    return (
        loss_fn is F.cross_entropy
        and type(model) is GrowingMLP
        and model.activation_name in _ACTIVATION_BACKWARD
        and not any(len(p) for p in model.post)
        and all(type(lin) is torch.nn.Linear for lin in model.linears)
    )


#: class counts for which the class-major route of :func:`_logits_gradient` gives autograd's
#: values bit for bit (one AVX-512 vector of float32 holds the 16 lanes the row-major kernels
#: treat as a special case at 16 classes and more; tests/test_tiny_growth_speed.py)
CLASS_MAJOR_BELOW = 16


def _logits_gradient(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(sum_i nll_i)/d logits, n x C: softmax - onehot, as autograd computes it (log_softmax,
    then its backward on the gradient -1 of each sample's picked class).

    torch's row-major kernels for few classes cost ~0.18 us a row here (0.21 ms for 800 x 10,
    about 40% of a digits capture); the same kernels over the class axis of the C x n
    transpose take 0.02 ms. They round alike wherever the sample axis fills whole vectors, so
    the class-major route pads the samples to a multiple of 16 (float32 on a CPU with AVX-512
    and fewer than ``CLASS_MAJOR_BELOW`` classes, where that equality is tested; anything else
    takes the row-major route)."""
    n, c = h.shape
    if (
        h.dtype != torch.float32
        or h.device.type != "cpu"
        or not 1 < c < CLASS_MAJOR_BELOW
        or torch.backends.cpu.get_cpu_capability() != "AVX512"
    ):
        log_p = torch.log_softmax(h, 1)
        picked = torch.zeros_like(log_p).scatter_(1, y.view(-1, 1), -1.0)  # d(sum nll)/d log_p
        return torch.ops.aten._log_softmax_backward_data(picked, log_p, 1, log_p.dtype)
    m = n + (-n) % 16
    ht = h.new_zeros(c, m)
    ht[:, :n] = h.T
    log_p = torch.log_softmax(ht, 0)
    picked = torch.zeros_like(log_p)
    picked[:, :n].scatter_(0, y.view(1, -1), -1.0)
    g = torch.ops.aten._log_softmax_backward_data(picked, log_p, 0, log_p.dtype)
    return g[:, :n].T.contiguous()


def _capture_direct(model, x, y, b0) -> list[LayerActivity]:
    """``capture`` for a plain GrowingMLP and the summed cross-entropy: V_goal of the logits
    is -(softmax - onehot) (through log_softmax's backward, as autograd computes it), then
    V_goal of Linear j's outputs is (V_goal_{j+1} W_{j+1}) * sigma'(z_j) (the activation's
    own backward op)."""
    back = _ACTIVATION_BACKWARD[model.activation_name]
    inputs, pres = [], []
    with torch.no_grad():
        h = x
        for j, lin in enumerate(model.linears):
            inputs.append(_layer_input(j, lin, h, x, b0))
            z = F.linear(h, lin.weight, lin.bias)
            pres.append(z)
            h = model.activation(z) if j < model.n_hidden else z
        grads = [_logits_gradient(h, y)]
        g = grads[0]
        for j in range(model.n_hidden, 0, -1):
            g = back(g @ model.linears[j].weight, pres[j - 1])
            grads.append(g)
    return [LayerActivity(b, a, -g) for b, a, g in zip(inputs, pres, grads[::-1], strict=True)]
