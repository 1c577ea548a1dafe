"""Regularizers (eq. 2-3) and shrinkage operators against numpy oracles."""

import numpy as np
import pytest
import torch

from kernels.prox import group_shrink_, proximal_step_, soft_threshold_, zero_rows
from kernels.regularizers import fan_in_norm, fan_in_penalty, fan_out_norm, fan_out_penalty


def _rows_with_spread_norms(rows=12, cols=7, seed=0):
    """Random fan-ins whose lengths span 0.05 .. 3 so a threshold of 1 zeroes some."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(rows, cols))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    W *= np.linspace(0.05, 3.0, rows)[:, None]
    return W


def test_group_shrink_matches_closed_form():
    W = _rows_with_spread_norms()
    t = 1.0
    out = group_shrink_(torch.tensor(W), t).numpy()
    norms = np.linalg.norm(W, axis=1)
    for w, o, n in zip(W, out, norms, strict=True):
        expected = w * max(0.0, 1.0 - t / n)
        np.testing.assert_allclose(o, expected, atol=1e-12)
        if n <= t:
            assert np.all(o == 0.0), "short fan-ins must become exactly zero"
        else:
            assert np.linalg.norm(o) == pytest.approx(n - t, abs=1e-12)
            cos = o @ w / (np.linalg.norm(o) * n)
            assert cos == pytest.approx(1.0, abs=1e-12)
    assert (norms <= t).any() and (norms > t).any()


def test_group_shrink_flattens_conv_fan_ins_and_takes_row_thresholds():
    W = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0, 100.0, 0.1], dtype=torch.float64)
    before = W.reshape(5, -1).norm(dim=1)
    group_shrink_(W, t)
    after = W.reshape(5, -1).norm(dim=1)
    expected = torch.clamp(before - t, min=0.0)
    torch.testing.assert_close(after, expected)
    assert zero_rows(W).tolist() == [False, False, False, True, False]


def test_group_shrink_leaves_zero_rows_zero_without_nan():
    W = torch.zeros(3, 4)
    W[1] = 1.0
    group_shrink_(W, 0.5)
    assert torch.isfinite(W).all()
    assert zero_rows(W).tolist() == [True, False, True]


def test_soft_threshold_matches_numpy():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 9))
    out = soft_threshold_(torch.tensor(W), 0.4).numpy()
    np.testing.assert_allclose(out, np.sign(W) * np.maximum(np.abs(W) - 0.4, 0.0), atol=1e-15)


@pytest.mark.parametrize("p", [1, 2])
def test_proximal_step_dispatches_on_p(p):
    W = torch.tensor(_rows_with_spread_norms(seed=2))
    expected = W.clone()
    (soft_threshold_ if p == 1 else group_shrink_)(expected, 0.3 * 2.0)
    proximal_step_(W, lam=0.3, lr=2.0, p=p)
    torch.testing.assert_close(W, expected)


def test_zero_rows_atol():
    W = torch.tensor([[0.0, 1e-9], [0.0, 0.0], [1.0, 0.0]])
    assert zero_rows(W).tolist() == [False, True, False]
    assert zero_rows(W, atol=1e-8).tolist() == [True, True, False]


def _np_penalty(groups, lam, p):
    return lam * sum(np.sum(np.abs(v)) if p == 1 else np.sqrt(np.sum(v * v)) for v in groups)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("shape", [(4, 6), (4, 3, 2, 2)])
def test_penalties_match_numpy_loops(p, shape):
    rng = np.random.default_rng(3)
    W = rng.normal(size=shape)
    fan_in_groups = [W[j].ravel() for j in range(shape[0])]
    fan_out_groups = [W[:, i].ravel() for i in range(shape[1])]
    Wt = torch.tensor(W, requires_grad=True)
    got_in = fan_in_penalty(Wt, 0.7, p)
    got_out = fan_out_penalty(Wt, 0.7, p)
    assert got_in.item() == pytest.approx(_np_penalty(fan_in_groups, 0.7, p), rel=1e-12)
    assert got_out.item() == pytest.approx(_np_penalty(fan_out_groups, 0.7, p), rel=1e-12)
    (got_in + got_out).backward()
    assert Wt.grad is not None and torch.isfinite(Wt.grad).all()


def test_p2_penalty_gradient_is_finite_on_zero_fan_in():
    W = torch.randn(3, 4)
    W[1] = 0.0
    W.requires_grad_(True)
    fan_in_penalty(W, 1.0, 2).backward()
    assert torch.isfinite(W.grad).all()
    assert torch.all(W.grad[1] == 0)


def test_norms_match_numpy():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(5, 3, 2))
    np.testing.assert_allclose(
        fan_in_norm(torch.tensor(W)).numpy(), [np.linalg.norm(W[j]) for j in range(5)]
    )
    np.testing.assert_allclose(
        fan_out_norm(torch.tensor(W)).numpy(), [np.linalg.norm(W[:, i]) for i in range(3)]
    )
    assert fan_out_norm(torch.tensor(W)).shape == (3,)


@pytest.mark.parametrize("fn", [fan_in_penalty, fan_out_penalty])
@pytest.mark.parametrize("bad_p", [0, 3, 1.5, float("inf")])
def test_bad_p_raises_naming_accepted_values(fn, bad_p):
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        fn(torch.ones(2, 2), 0.1, bad_p)
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        proximal_step_(torch.ones(2, 2), 0.1, 1.0, bad_p)
