"""Cells (Shu, Wang & Cai 2020, sec. 3) and landscape kernels (sec. 4.2) against oracles:
hand-built cells with the widths/depths the paper states, exhaustive enumeration, loops vs vmap,
autograd per example, a quadratic with a known Hessian."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kernels.cells import (
    Cell,
    CellNetwork,
    all_cells,
    chain,
    darts_cell,
    random_variants,
    study_cells,
    widest_shallowest,
)
from kernels.landscape import (
    filter_normalized_direction,
    gradient_variance,
    gradient_variance_loop,
    loss_surface,
    loss_surface_loop,
    model_params,
    top_eigenvalue,
    train_cell,
    variance_surface,
    variance_surface_loop,
)


# -- cells ----------------------------------------------------------------------------------
def test_darts_cell_width_and_depth_as_in_sec_3_2():
    cell = darts_cell()
    assert cell.n_nodes == 7 and cell.n_inputs == 2
    assert cell.width() == pytest.approx(3.5) and cell.depth() == 3
    assert cell.width(c=16) == pytest.approx(56.0)
    assert cell.node_widths() == [1.0, 1.0, 1.0, 0.5]


def test_widest_and_deepest_bounds_sec_3_2():
    # sec. 3.2: N = 7, M = 2 -> smallest depth 2, largest width 4c; N = 8 -> 2 and 5c
    for n, width in ((7, 4.0), (8, 5.0)):
        w = widest_shallowest(n, 2)
        assert (w.width(), w.depth()) == (width, 2)
        every = all_cells(n, 2)
        assert max(c.width() for c in every) == width
        assert min(c.depth() for c in every) == 2
        deep = chain(n, 2)
        assert deep.depth() == max(c.depth() for c in every) == n - 2
        assert deep.width() == min(c.width() for c in every)


def test_hand_built_partly_connected_cell():
    # one input node; node 1 from the input, node 2 from node 1 and the input, node 3 from 1, 2
    cell = Cell(1, ((0,), (1, 0), (1, 2)), (("linear",), ("linear", "skip"), ("linear",) * 2))
    assert cell.node_widths() == [1.0, 0.5, 0.0]
    assert cell.width() == 1.5
    assert cell.depth() == 4  # 0 -> 1 -> 2 -> 3 -> output
    # only node 1 concatenated: the longest path to the output goes through node 1
    assert Cell(1, cell.sources, cell.ops, concat=(1,)).depth() == 2


def test_bad_cells_say_why():
    with pytest.raises(ValueError, match="not a preceding node"):
        Cell(2, ((0, 2),), (("linear", "linear"),))
    with pytest.raises(ValueError, match="did you mean 'linear'"):
        Cell(2, ((0, 1),), (("liner", "linear"),))
    with pytest.raises(ValueError, match="intermediate nodes"):
        widest_shallowest(3, 2)


def test_random_variants_keep_ops_and_are_labelled():
    base = widest_shallowest(7, 2)
    variants = random_variants(base, 8, seed=3, exclude=[chain(7, 2)])
    keys = {tuple(map(tuple, map(sorted, v.sources))) for v in variants}
    assert len(keys) == 8 and tuple(map(tuple, map(sorted, base.sources))) not in keys
    assert [v.name for v in variants] == [f"C{i}" for i in range(1, 9)]
    order = [(-v.width(), v.depth()) for v in variants]
    assert order == sorted(order)
    for v in variants:
        assert v.ops == base.ops
        for j, srcs in enumerate(v.sources):
            assert len(set(srcs)) == 2 and all(s < 2 + j for s in srcs)
    labels = [c.name for c in study_cells(7, 2, 6)]
    assert labels[0] == "widest" and labels[-1] == "chain" and len(labels) == 8


def test_cell_network_shapes_and_skip_ops():
    net = CellNetwork(darts_cell(), 10, 3, c=4, n_cells=3)
    out = net(torch.randn(5, 10))
    assert out.shape == (5, 3)
    pool = Cell(2, ((0, 1), (2, 0)), (("avg_pool", "max_pool"), ("skip", "linear")))
    assert CellNetwork(pool, 6, 2, c=5).forward(torch.randn(4, 6)).shape == (4, 2)


# -- landscape --------------------------------------------------------------------------------
def _tiny_problem(seed=0):
    torch.manual_seed(seed)
    net = CellNetwork(darts_cell(), 6, 3, c=4, n_cells=1)
    X, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    params = model_params(net)
    g = torch.Generator().manual_seed(seed)
    return (
        net,
        params,
        filter_normalized_direction(params, g),
        filter_normalized_direction(params, g),
        X,
        y,
    )


def test_filter_normalisation_property():
    net, params, d1, _, _, _ = _tiny_problem()
    for name, w in params.items():
        if w.dim() >= 2:
            np.testing.assert_allclose(d1[name].norm(dim=1), w.norm(dim=1), rtol=1e-5)
        else:
            assert torch.count_nonzero(d1[name]) == 0
    conv = {"w": torch.randn(3, 2, 5, 5)}
    d = filter_normalized_direction(conv, torch.Generator().manual_seed(1))["w"]
    np.testing.assert_allclose(
        d.reshape(3, -1).norm(dim=1), conv["w"].reshape(3, -1).norm(dim=1), rtol=1e-5
    )
    assert not torch.allclose(d, conv["w"])


def test_vmap_contour_equals_loop():
    net, params, d1, d2, X, y = _tiny_problem()
    a = np.linspace(-1, 1, 5)
    b = np.linspace(-0.5, 1.5, 4)
    fast = loss_surface(net, params, d1, d2, a, b, X, y, chunk=7)
    slow = loss_surface_loop(net, params, d1, d2, a, b, X, y)
    assert fast.shape == (4, 5)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
    # centre row/column of a symmetric grid is the loss at w*
    assert fast[1, 2] != fast[0, 0]


def test_vmap_gradient_variance_equals_loop_over_examples():
    net, params, d1, d2, X, y = _tiny_problem()
    assert gradient_variance(net, params, X, y) == pytest.approx(
        gradient_variance_loop(net, params, X, y), rel=1e-5
    )
    a = np.linspace(-1, 1, 3)
    fast = variance_surface(net, params, d1, d2, a, a, X, y, chunk=2)
    slow = variance_surface_loop(net, params, d1, d2, a, a, X, y, per_example_loop=True)
    np.testing.assert_allclose(fast, slow, rtol=1e-4)
    assert fast.min() > 0


def test_gradient_variance_closed_form_linear_regression_like():
    # one linear layer, squared-error-free check: per-example CE gradients of a 1x? model
    # against a numpy computation of (softmax - onehot) x^T
    lin = nn.Linear(3, 2, bias=False)
    X, y = torch.randn(7, 3), torch.randint(0, 2, (7,))
    p = F.softmax(lin(X), 1).detach().numpy()
    r = p - np.eye(2)[y.numpy()]
    grads = r[:, :, None] * X.numpy()[:, None, :]
    expected = ((grads - grads.mean(0)) ** 2).sum((1, 2)).mean()
    assert gradient_variance(lin, model_params(lin), X, y) == pytest.approx(expected, rel=1e-5)


def test_power_iteration_recovers_known_hessian_eigenvalue():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    eig = np.linspace(0.1, 1.0, 12)
    eig[-1] = 7.5  # well separated top eigenvalue
    A = torch.as_tensor(q @ np.diag(eig) @ q.T, dtype=torch.float64)

    def loss(p):
        x = torch.cat([p["a"].reshape(-1), p["b"].reshape(-1)])
        return 0.5 * x @ A @ x + x.sum()

    params = {"a": torch.zeros(3, 2, dtype=torch.float64), "b": torch.ones(6, dtype=torch.float64)}
    lam, iters = top_eigenvalue(loss, params, iters=200, tol=1e-8)
    assert lam == pytest.approx(7.5, rel=0.01)
    assert iters < 200


@pytest.mark.slow
def test_train_cell_records_and_learns():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    res = train_cell(
        widest_shallowest(5, 2),
        X[:80],
        y[:80],
        X[80:],
        y[80:],
        2,
        c=8,
        steps=200,
        lr=0.1,
        batch_size=20,
        eval_every=100,
        tag={"variant": "widest"},
    )
    kinds = [r["kind"] for r in res.records]
    assert kinds.count("eval") == 2 and kinds.count("step") == 2
    assert all(r["variant"] == "widest" for r in res.records)
    assert res.final_test_acc > 0.75 and not res.diverged
