"""Structural surgery keeps the network's function and the optimizer's state in step."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kernels import surgery
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP, init_fan_in


def make(post=None, bias=True, hidden=(6, 5), seed=0):
    g = torch.Generator().manual_seed(seed)
    return DynamicMLP(7, list(hidden), 3, bias=bias, post=post, generator=g)


def train_steps(model, opt, n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x, y = torch.randn(16, 7, generator=g), torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("post", [None, lambda n: [CapNorm(n)]], ids=["plain", "capnorm"])
@pytest.mark.parametrize("layer", [0, 1])
def test_adding_zero_fan_out_unit_keeps_output(post, layer):
    model = make(post, bias=post is None)
    x = torch.randn(64, 7)
    before = model(x)
    fan_in = init_fan_in(3, model.linears[layer].in_features)
    ids = surgery.grow(model, layer, fan_in)
    assert model.hidden_sizes[layer] == [6, 5][layer] + 3
    assert torch.allclose(model(x), before, atol=1e-6)
    assert len(set(np.concatenate(model.unit_ids).tolist())) == sum(model.hidden_sizes)
    assert ids.tolist() == [11, 12, 13]


def test_adding_zero_fan_in_unit_keeps_output_without_bias():
    model = make(bias=False)
    x = torch.randn(64, 7)
    before = model(x)
    fan_out = torch.randn(model.linears[1].out_features, 2)
    surgery.grow(model, 0, torch.zeros(2, 7), fan_out)
    assert torch.allclose(model(x), before, atol=1e-6)


@pytest.mark.parametrize("post", [None, lambda n: [CapNorm(n)]], ids=["plain", "capnorm"])
def test_removing_zero_units_keeps_output(post):
    model = make(post, bias=False)
    with torch.no_grad():
        model.linears[0].weight[[1, 4]] = 0.0  # zero fan-in
        model.linears[2].weight[:, 2] = 0.0  # zero fan-out of layer-1 unit 2
    model.eval()
    x = torch.randn(64, 7)
    before = model(x)
    removed0 = surgery.prune(model, 0, [1, 4])
    removed1 = surgery.prune(model, 1, [2])
    assert model.hidden_sizes == [4, 4]
    assert removed0.tolist() == [1, 4] and removed1.tolist() == [8]
    assert torch.allclose(model(x), before, atol=1e-6)
    assert model.unit_ids[0].tolist() == [0, 2, 3, 5]


@pytest.mark.parametrize("opt_name", ["adam", "sgd", "rmsprop"])
def test_prune_slices_optimizer_state_and_training_continues_identically(opt_name):
    """A pruned network trains exactly like a network built without those units."""
    make_opt = {
        "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
        "sgd": lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-2),
    }[opt_name]
    model = make()
    opt = make_opt(model.parameters())
    train_steps(model, opt)
    reference = copy.deepcopy(model)
    ref_opt = make_opt(reference.parameters())
    ref_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    # reference: rebuild by hand with plain indexing
    keep = [0, 2, 3, 5]
    with torch.no_grad():
        for p, (idx, dim) in zip(
            [reference.linears[0].weight, reference.linears[0].bias, reference.linears[1].weight],
            [(keep, 0), (keep, 0), (keep, 1)],
            strict=True,
        ):
            st = ref_opt.state[p]
            for k, v in list(st.items()):
                if torch.is_tensor(v) and v.ndim:
                    st[k] = v.index_select(dim, torch.tensor(idx))
            p.data = p.data.index_select(dim, torch.tensor(idx))
    surgery.prune(model, 0, [1, 4], opt)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert p.shape == q.shape
        for k, v in opt.state[p].items():
            if torch.is_tensor(v) and v.ndim:
                assert torch.equal(v, ref_opt.state[q][k]), k
    reference.sync_shapes(0)
    train_steps(model, opt, n=3, seed=5)
    train_steps(reference, ref_opt, n=3, seed=5)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_grow_pads_optimizer_state_with_zeros_and_keeps_old_rows():
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, opt)
    w0, w1 = model.linears[0].weight, model.linears[1].weight
    old_m0 = opt.state[w0]["exp_avg"].clone()
    old_v1 = opt.state[w1]["exp_avg_sq"].clone()
    surgery.grow(model, 0, init_fan_in(2, 7), optimizer=opt, step=3)
    m0, v1 = opt.state[w0]["exp_avg"], opt.state[w1]["exp_avg_sq"]
    assert m0.shape == (8, 7) and v1.shape == (5, 8)
    assert torch.equal(m0[:6], old_m0) and torch.all(m0[6:] == 0)
    assert torch.equal(v1[:, :6], old_v1) and torch.all(v1[:, 6:] == 0)
    assert model.birth_step[0].tolist() == [0] * 6 + [3, 3]
    train_steps(model, opt)  # the optimizer accepts the resized state


def test_capnorm_buffers_follow_units():
    model = make(lambda n: [CapNorm(n)], bias=False)
    model(torch.randn(32, 7))
    surgery.grow(model, 1, init_fan_in(2, 6))
    cap = model.post[1][0]
    assert cap.running_mean.shape == (7,) and torch.all(cap.running_var[-2:] == 1)
    surgery.prune(model, 1, [0])
    assert cap.running_var.shape == (6,)
    model(torch.randn(32, 7))


def test_bad_surgery_arguments():
    model = make()
    with pytest.raises(IndexError, match="out of range"):
        surgery.prune(model, 0, [9])
    with pytest.raises(ValueError, match="fan_in must have shape"):
        surgery.grow(model, 0, torch.zeros(2, 3))
    with pytest.raises(IndexError, match="does not exist"):
        model.unit_touches(2)


@pytest.mark.parametrize("momentum", [False, True], ids=["adarad", "adarad-m"])
def test_pruning_and_growth_carry_adarad_state_unit_by_unit(momentum):
    """Every surviving unit keeps exactly its AdaRad statistics (phi_bar, c, and with
    momentum phi_tilde, a); the layer above keeps its per-row state and loses the pruned
    columns of phi_tilde, re-orthogonalised (Alg. 2 lines 23, 29, 33); new units start at
    zero (Alg. 1 line 24); and the optimizer steps on."""
    from kernels.adarad import AdaRad

    model = make(bias=False, hidden=(6, 5))
    opt = AdaRad(model.parameters(), radial_lr=0.3, angular_lr=2.0, lam=1e-3, momentum=momentum)
    train_steps(model, opt, n=4)
    w0, w1 = model.linears[0].weight, model.linears[1].weight
    before0 = {k: v.clone() for k, v in opt.state[w0].items()}
    before1 = {k: v.clone() for k, v in opt.state[w1].items()}
    surgery.prune(model, 0, [1, 4], opt)
    keep = [0, 2, 3, 5]
    for key in ("phi_sq_avg", "capacity", *(("arith_capacity", "phi_avg") if momentum else ())):
        assert torch.equal(opt.state[w0][key], before0[key][keep]), key
    for key in ("phi_sq_avg", "capacity", *(("arith_capacity",) if momentum else ())):
        assert torch.equal(opt.state[w1][key], before1[key]), key
    if momentum:
        sliced = before1["phi_avg"][:, keep]
        w = w1.detach()
        ortho = sliced - ((sliced * w).sum(1) / (w * w).sum(1))[:, None] * w
        assert torch.allclose(opt.state[w1]["phi_avg"], ortho, atol=1e-7)
    surgery.grow(model, 0, init_fan_in(3, 7), None, opt)
    for key in ("phi_sq_avg", "capacity", *(("arith_capacity", "phi_avg") if momentum else ())):
        assert torch.equal(opt.state[w0][key][:4], before0[key][keep])
        assert torch.all(opt.state[w0][key][4:] == 0)
    train_steps(model, opt, n=2)
    assert model.hidden_sizes == [7, 5]
