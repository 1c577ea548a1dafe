"""CapNorm (sec. 3.2): (z - mu) / max(sigma, 1), no affine parameters."""

import numpy as np
import pytest
import torch

from kernels.capnorm import CapNorm


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    stds = np.array([0.2, 0.5, 3.0, 10.0])  # two units below 1, two above
    return rng.normal(loc=[1.0, -2.0, 0.5, 4.0], scale=stds, size=(64, 4))


def test_training_matches_formula_and_caps_only_large_sigma():
    z = _batch()
    m = CapNorm(4).double().train()
    out = m(torch.tensor(z)).detach().numpy()
    mu, sigma = z.mean(0), z.std(0)  # population std, as over "the current mini-batch"
    np.testing.assert_allclose(out, (z - mu) / np.maximum(sigma, 1.0), atol=1e-12)
    assert (sigma[:2] < 1).all() and (sigma[2:] > 1).all()
    np.testing.assert_allclose(out[:, :2], z[:, :2] - mu[:2], atol=1e-12)  # only centred
    np.testing.assert_allclose(out[:, 2:].std(0), 1.0, atol=1e-12)  # scaled to unit std
    assert list(m.parameters()) == []


def test_running_stats_follow_batchnorm_momentum_and_are_used_in_eval():
    z = _batch(1)
    m = CapNorm(4).double()
    m(torch.tensor(z))
    np.testing.assert_allclose(m.running_mean.numpy(), 0.1 * z.mean(0), atol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * z.var(0, ddof=1), atol=1e-12)

    m.running_mean.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    m.running_var.copy_(torch.tensor([0.25, 4.0, 1.0, 9.0]))
    m.eval()
    zt = torch.tensor(z)
    out = m(zt)
    expected = (zt - m.running_mean) / torch.tensor([1.0, 2.0, 1.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(out, expected)
    before = m.running_mean.clone()
    m(zt)
    torch.testing.assert_close(m.running_mean, before)  # eval must not update


def test_resized_buffers_work_and_mismatch_is_reported():
    m = CapNorm(5)
    m(torch.randn(8, 5))
    m.running_mean.data = m.running_mean.data[:3]
    m.running_var.data = m.running_var.data[:3]
    assert m.num_features == 3
    assert m(torch.randn(8, 3)).shape == (8, 3)
    m.eval()
    assert m(torch.randn(2, 3)).shape == (2, 3)
    m.running_mean.data = torch.cat([m.running_mean.data, torch.zeros(2)])
    m.running_var.data = torch.cat([m.running_var.data, torch.ones(2)])
    assert m.train()(torch.randn(8, 5)).shape == (8, 5)
    with pytest.raises(ValueError, match="units"):
        m(torch.randn(8, 4))


def test_batch_of_one_in_training_is_finite():
    m = CapNorm(3)
    z = torch.randn(1, 3, requires_grad=True)
    out = m(z)
    assert torch.all(out == 0)  # mu is the sample itself, divisor max(0, 1) = 1
    out.sum().backward()
    assert torch.isfinite(z.grad).all()
    assert torch.all(m.running_var == 1.0)  # unbiased variance of one sample is skipped


def test_conv_shaped_input_normalises_per_channel():
    z = (
        torch.randn(4, 3, 5, 5, dtype=torch.float64)
        * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1).double()
    )
    out = CapNorm(3).double()(z)
    zn = z.transpose(0, 1).reshape(3, -1)
    mu = zn.mean(1)
    sigma = zn.std(1, unbiased=False)
    expected = (z - mu.view(1, 3, 1, 1)) / torch.clamp(sigma, min=1.0).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_gradcheck():
    z = (torch.randn(16, 3, dtype=torch.float64) * torch.tensor([0.3, 3.0, 5.0])).requires_grad_()
    m = CapNorm(3).double()
    assert torch.autograd.gradcheck(lambda x: m(x), (z,))
