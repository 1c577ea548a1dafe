"""The SizableNet protocol: every network the methods build satisfies it, and hidden_forward
(written once, on DynamicMLP) applies each network's own activation."""

import pytest
import torch
import torch.nn.functional as F

from kernels.dynamic_cnn import DynamicCNN
from kernels.dynamic_mlp import DynamicMLP
from kernels.methods import get_method
from kernels.methods.registry import METHODS
from kernels.sizable import ModuleSeq, SizableNet
from kernels.tiny.network import GrowingMLP


def nets():
    g = torch.Generator().manual_seed(0)
    return [
        DynamicMLP(5, [4, 3], 2, generator=g),
        DynamicCNN((1, 4, 4), [3], [5], 2, generator=g),
        GrowingMLP(5, [4, 3], 2, activation="selu", generator=g),
    ]


@pytest.mark.parametrize("net", nets(), ids=lambda n: type(n).__name__)
def test_networks_are_sizable(net):
    assert isinstance(net, SizableNet)
    assert isinstance(net.linears, ModuleSeq) and isinstance(net.linears[0], torch.nn.Linear)
    assert len(net.unit_ids) == len(net.birth_step) == net.n_hidden == len(net.post)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_builds_a_sizable_net(name):
    model = get_method(name)().build(6, 3, [4, 4], generator=torch.Generator().manual_seed(0))
    assert isinstance(model, SizableNet)


def test_growing_mlp_hidden_forward_uses_its_activation():
    net = nets()[2]
    x = torch.randn(7, 5)
    lin = net.linears[0]
    torch.testing.assert_close(net.hidden_forward(x, 0), F.selu(lin(x)))
    # the whole forward is the composition of the hidden blocks and the output Linear
    expected = net.linears[2](F.selu(net.linears[1](F.selu(lin(x)))))
    torch.testing.assert_close(net(x), expected)


def test_module_seq_slices_and_state_dict_keys_are_those_of_module_list():
    seq = ModuleSeq([torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)])
    plain = torch.nn.ModuleList([torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)])
    assert isinstance(seq[:1], ModuleSeq) and len(seq[:1]) == 1
    assert list(seq.state_dict()) == list(plain.state_dict())
