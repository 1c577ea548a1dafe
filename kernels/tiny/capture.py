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


def capture(
    model, x: torch.Tensor, y: torch.Tensor, loss_fn=F.cross_entropy
) -> list[LayerActivity]:
    """B, A and V_goal of every Linear of ``model`` on the minibatch (x, y).

    ``loss_fn(logits, y, reduction="sum")`` gives the summed per-sample loss.
    """
    was_training = model.training
    model.eval()
    h, inputs, pres = x, [], []
    for j, lin in enumerate(model.linears):
        inputs.append(with_ones(h.detach(), lin.bias is not None))
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
