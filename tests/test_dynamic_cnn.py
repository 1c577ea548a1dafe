"""DynamicCNN speaks DynamicMLP's surgery interface: removing a channel removes it from the
conv, BatchNorm (weight, bias, running statistics), switch, the next conv or the H*W flatten
columns, and the optimizer's state; zero-switch channels leave the output unchanged."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F  # noqa: N812

from kernels import surgery
from kernels.dynamic_cnn import DynamicCNN
from kernels.switch import Switch


def make(seed=0, image=(1, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    model = DynamicCNN(image, [4, 5], [6], 3, post=lambda n: [Switch(n, g)], generator=g)
    with torch.no_grad():  # nontrivial BatchNorm parameters and running statistics
        for bn in model.norms:
            bn.weight.uniform_(0.5, 1.5, generator=g)
            bn.bias.normal_(0, 0.3, generator=g)
    model.train()
    for _ in range(3):
        model(torch.randn(16, *image, generator=g))
    return model


def test_shapes_and_flat_input():
    model = make().eval()
    x = torch.randn(10, 1, 8, 8)
    assert model(x).shape == (10, 3)
    assert torch.equal(model(x.flatten(1)), model(x))
    assert model.n_hidden == 3 and model.hidden_sizes == [4, 5, 6]
    assert model.spatial == (2, 2) and model.linears[0].in_features == 5 * 4
    assert model.input_neurons() == 1 + 4 + 20 + 6
    assert np.concatenate(model.unit_ids).tolist() == list(range(15))
    with pytest.raises(ValueError, match="needs 64"):
        model(torch.randn(2, 63))


def test_fan_out_norm_of_flatten_block():
    model = make()
    w = model.linears[0].weight.detach().reshape(6, 5, 4)  # (out, channel, H*W)
    expected = w.pow(2).sum(dim=(0, 2)).sqrt()
    assert torch.allclose(model.fan_out_norm(1), expected)
    w1 = model.convs[1].weight.detach()
    assert torch.allclose(model.fan_out_norm(0), w1.pow(2).sum(dim=(0, 2, 3)).sqrt())


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_prune_zero_switch_unit_keeps_output_and_resizes_everything(layer):
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 64), torch.randint(0, 3, (16,))
    F.cross_entropy(model(x), y).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    pos = [1, 3]
    with torch.no_grad():
        model.post[layer][0].switch[pos] = 0.0
    before_train = model(x).detach()
    model.eval()
    with torch.no_grad():
        before_eval = model(x)
    kept = [i for i in range(model.hidden_sizes[layer]) if i not in pos]
    if layer < 2:
        bn = model.norms[layer]
        expect_bn = {
            k: t.detach()[kept].clone()
            for k, t in [
                ("weight", bn.weight),
                ("bias", bn.bias),
                ("mean", bn.running_mean),
                ("var", bn.running_var),
            ]
        }
    if layer == 1:  # the flatten block: channel c owns columns 4c..4c+3
        cols = [4 * c + k for c in kept for k in range(4)]
        expect_cols = model.linears[0].weight.detach()[:, cols].clone()
    ids = surgery.prune(model, layer, pos, opt)
    assert len(ids) == 2
    assert model.hidden_sizes[layer] == [4, 5, 6][layer] - 2
    with torch.no_grad():
        assert torch.allclose(model(x), before_eval, atol=1e-6)
    if layer < 2:
        bn = model.norms[layer]
        assert bn.num_features == model.convs[layer].out_channels == len(kept)
        for name, t in [
            ("weight", bn.weight),
            ("bias", bn.bias),
            ("mean", bn.running_mean),
            ("var", bn.running_var),
        ]:
            assert torch.equal(t.detach(), expect_bn[name])
    if layer == 0:
        assert model.convs[1].in_channels == model.convs[1].weight.shape[1] == 2
    if layer == 1:
        assert model.linears[0].in_features == 12
        assert torch.equal(model.linears[0].weight.detach(), expect_cols)
    model.train()
    assert torch.allclose(model(x), before_train, atol=1e-5)
    for p in model.parameters():
        for v in opt.state[p].values():
            if v.ndim:
                assert v.shape == p.shape
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


def test_grow_channel_with_zero_fan_out_keeps_output():
    model = make().eval()
    x = torch.randn(8, 64)
    with torch.no_grad():
        before = model(x)
    fan_in = torch.randn(2, 4, 3, 3)
    new = surgery.grow(model, 1, fan_in, step=7)
    assert new.tolist() == [15, 16] and model.birth_step[1].tolist()[-2:] == [7, 7]
    assert model.norms[1].running_var[-2:].tolist() == [1.0, 1.0]
    assert model.norms[1].weight[-2:].tolist() == [1.0, 1.0]
    assert model.linears[0].weight.shape == (6, 7 * 4)
    with torch.no_grad():
        assert torch.allclose(model(x), before, atol=1e-6)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="image_shape"):
        DynamicCNN((8, 8), [4], [], 3)
    with pytest.raises(ValueError, match="channels is empty"):
        DynamicCNN((1, 8, 8), [], [], 3)
    with pytest.raises(IndexError, match="does not exist"):
        make().unit_touches(3)
