"""TINY's growth step made cheaper without changing what it computes (issue 17, session 7):
each fast path against the plain computation it replaces, bit for bit."""

from __future__ import annotations

import math

import pytest
import torch

from kernels.tiny.capture import _logits_gradient
from kernels.tiny.grid_loss import cross_entropy_columns, exp_floor


def _plain_cross_entropy_columns(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The formula before the clamp (oracle)."""
    top = logits.amax(0, keepdim=True)
    lse = (logits - top).exp().sum(0).log() + top[0]
    picked = logits.gather(0, y.view(1, 1, -1).expand(1, logits.shape[1], -1))[0]
    return (lse - picked).mean(1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_clamped_cross_entropy_is_the_plain_formula_bit_for_bit(dtype):
    """Logits of a line-search grid whose large amplitudes spread them over thousands: many
    shifted logits lie below exp's floor (subnormal or zero terms); the loss per grid point is
    the plain formula's exactly, including inf and NaN columns."""
    g = torch.Generator().manual_seed(3)
    scales = torch.tensor([1e-3, 1.0, 10.0, 100.0, 1e3, 1e4], dtype=dtype).view(1, -1, 1)
    logits = torch.randn(10, 6, 301, generator=g, dtype=dtype) * scales
    logits[3, 2, 7], logits[0, 4, 9] = math.inf, math.nan
    y = torch.randint(0, 10, (301,), generator=g)
    shifted = logits - logits.amax(0, keepdim=True)
    assert int((shifted < exp_floor(dtype)).sum()) > 1000  # the clamp is exercised
    got, want = cross_entropy_columns(logits, y), _plain_cross_entropy_columns(logits, y)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.nan_to_num(0.0), want.nan_to_num(0.0))


def test_exp_floor_is_where_exp_leaves_the_normal_numbers():
    for dtype in (torch.float32, torch.float64):
        floor, tiny = exp_floor(dtype), torch.finfo(dtype).tiny
        assert float(torch.tensor(floor, dtype=dtype).exp()) >= tiny
        assert float(torch.tensor(floor - 1, dtype=dtype).exp()) < tiny
    assert exp_floor(torch.float32) == -87.0


def _row_major_gradient(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """What autograd computes for the summed cross-entropy's logits (oracle)."""
    log_p = torch.log_softmax(h, 1)
    picked = torch.zeros_like(log_p).scatter_(1, y.view(-1, 1), -1.0)
    return torch.ops.aten._log_softmax_backward_data(picked, log_p, 1, log_p.dtype)


@pytest.mark.parametrize(
    ("classes", "n", "dtype"),
    [
        (10, 800, torch.float32),
        (10, 435, torch.float32),
        (10, 412, torch.float32),
        (10, 2803, torch.float32),
        (2, 17, torch.float32),
        (7, 1, torch.float32),
        (15, 333, torch.float32),
        (16, 333, torch.float32),  # row-major route
        (10, 333, torch.float64),  # row-major route
    ],
)
def test_logits_gradient_is_autograd_bit_for_bit(classes, n, dtype):
    """Oracle: the class-major route (samples padded to whole vectors) gives the row-major
    kernels' values exactly, for sample counts that are not multiples of 16, large and tiny
    logits, inf and NaN."""
    g = torch.Generator().manual_seed(classes * 1000 + n)
    h = torch.randn(n, classes, generator=g, dtype=dtype)
    h *= torch.logspace(-3, 3, n, dtype=dtype).view(-1, 1)
    h[0, 0] = math.inf
    h[n // 2, classes - 1] = -1e30
    h[-1, 1 % classes] = math.nan
    y = torch.randint(0, classes, (n,), generator=g)
    got, want = _logits_gradient(h, y), _row_major_gradient(h, y)
    assert got.shape == want.shape and got.is_contiguous()
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got.nan_to_num(7.0), want.nan_to_num(7.0))


def _tensor_count(eigenvalues, tau, mode, cap, loss):
    """accepted_count's rule in float64 tensor ops (oracle)."""
    gains = eigenvalues.double() ** 2
    if gains.numel() == 0:
        return 0
    if mode == "paper":
        gains = gains * float(loss)
    limit = tau * float(gains.max()) if mode == "relative" else tau
    count = int((gains > limit).sum())
    return count if cap is None else min(count, max(int(cap), 0))


@pytest.mark.parametrize("mode", ["paper", "absolute", "relative"])
def test_accepted_count_in_python_floats_is_the_tensor_rule(mode):
    from kernels.tiny.best_neurons import accepted_count

    g = torch.Generator().manual_seed(5)
    cases = [torch.rand(12, generator=g) * 10 ** float(e) for e in range(-4, 3)]
    cases += [torch.tensor([]), torch.tensor([2.0, math.nan, 1.0]), torch.tensor([math.inf, 1.0])]
    cases += [torch.tensor([0.1, 0.1, 0.1], dtype=torch.float64)]
    for ev in cases:
        for tau in (0.0, 1e-6, 1e-3, 0.5, 0.01):
            for cap in (None, 0, 2):
                want = _tensor_count(ev, tau, mode, cap, 0.37)
                assert accepted_count(ev, tau, mode, cap, loss=0.37) == want, (ev, tau, cap)


def test_support_of_s_is_the_tensor_rule():
    """Inputs zero on the whole batch (diag(S) = 0, or below 1e-14 of the largest) leave the
    support; a NaN diagonal leaves none; None means every input."""
    from kernels.tiny.best_neurons import _support

    def tensor_rule(s):
        d = torch.diagonal(s)
        return torch.nonzero(d > d.abs().max().clamp_min(1e-300) * 1e-14).flatten()

    full = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert _support(full) is None
    for diag in ([0.0, 2.0, 0.0, 1e-20, 5.0], [0.0, 0.0], [1.0, math.nan, 2.0], [3.0, 0.0]):
        s = torch.diag(torch.tensor(diag, dtype=torch.float64))
        got = _support(s)
        assert got is not None and torch.equal(got, tensor_rule(s)), diag


def test_live_inputs_are_the_columns_not_zero_on_the_batch():
    """Oracle |B|.max(0) != 0: columns only negative, only positive, mixed, 0 and -0.0, with
    a NaN, all zero but one entry."""
    from kernels.tiny.bottleneck import SPLIT_FROM, live_moments

    g = torch.Generator().manual_seed(6)
    b = torch.randn(40, SPLIT_FROM + 6, generator=g)
    b[:, 0] = -b[:, 0].abs() - 1e-3
    b[:, 1] = b[:, 1].abs()
    b[:, 2], b[:, 3] = 0.0, -0.0
    b[:, 4] = 0.0
    b[7, 4] = math.nan
    b[:, 5] = 0.0
    b[-1, 5] = -1e-30
    b[:, 6:20] = 0.0
    _, _, live = live_moments(b, b[:, :3])
    want = torch.nonzero(b.abs().amax(0) != 0).flatten()
    assert live is not None and torch.equal(live, want) and 0 in live and 2 not in live
