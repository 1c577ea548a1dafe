"""Switches vs group lasso (ShrinkNets sec. 3.4, 4.3, prop. A.1)."""

import numpy as np
import pytest
import torch

from kernels.group_sparsity import (
    fit_group_lasso,
    fit_switch,
    frontier_area,
    group_lasso_objective,
    lambda_max,
    null_loss,
    sparsity,
    sweep,
    switch_objective,
)
from kernels.prox import group_shrink_


def problem(n=60, p=8, k=3, relevant=3, seed=0, noise=0.5):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, p, generator=g, dtype=torch.float64)
    W = torch.zeros(p, k, dtype=torch.float64)
    W[:relevant] = torch.randn(relevant, k, generator=g, dtype=torch.float64)
    return X, X @ W + noise * torch.randn(n, k, generator=g, dtype=torch.float64)


def test_prop_a1_values_match_under_unit_rows():
    X, Y = problem()
    g = torch.Generator().manual_seed(1)
    W = torch.randn(8, 3, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    beta = W.norm(dim=1)  # the map of the proof of prop. A.1
    A = W / beta[:, None]  # unit rows (the paper's unit columns of A')
    assert torch.allclose(A.norm(dim=1), torch.ones(8, dtype=torch.float64))
    for lam in (0.0, 0.3, 2.0):
        assert float(switch_objective(X, Y, A, beta, b, lam)) == pytest.approx(
            float(group_lasso_objective(X, Y, W, b, lam)), rel=1e-12
        )
    # and back: any unit-row A and beta give W = diag(beta) A with the same value
    beta2 = torch.randn(8, generator=g, dtype=torch.float64)
    assert float(switch_objective(X, Y, A, beta2, b, 0.3)) == pytest.approx(
        float(group_lasso_objective(X, Y, beta2[:, None] * A, b, 0.3)), rel=1e-12
    )


@pytest.mark.parametrize("lam_share", [0.05, 0.3, 0.7])
def test_prop_a1_minima_match(lam_share):
    X, Y = problem()
    lam = lam_share * lambda_max(X, Y)
    gl = fit_group_lasso(X, Y, lam)
    sw = fit_switch(X, Y, lam, lam2=0.0, unit_rows=True)
    assert sw.objective == pytest.approx(gl.objective, rel=1e-6)
    assert sw.sparsity == gl.sparsity


def test_group_prox_on_columns_matches_closed_form():
    g = torch.Generator().manual_seed(2)
    M = torch.randn(4, 6, generator=g, dtype=torch.float64)
    M[:, 2] *= 0.05  # a short column that must vanish
    t = 0.4
    expected = torch.stack([c * max(0.0, 1 - t / float(c.norm())) for c in M.T], dim=1)
    out = M.clone()
    group_shrink_(out.T, t)  # columns of M are the rows of M.T
    assert torch.allclose(out, expected, atol=1e-12)
    assert torch.equal(out[:, 2], torch.zeros(4, dtype=torch.float64))
    # it is the prox: z minimises 0.5 ||z - v||^2 + t ||z|| for every column
    for j in range(6):
        v, z = M[:, j], out[:, j]

        def h(w, v=v):
            return 0.5 * float((w - v).pow(2).sum()) + t * float(w.norm())

        for _ in range(20):
            d = 1e-3 * torch.randn(4, generator=g, dtype=torch.float64)
            assert h(z) <= h(z + d) + 1e-12


def test_group_lasso_kkt_and_lambda_max():
    X, Y = problem()
    top = lambda_max(X, Y)
    assert fit_group_lasso(X, Y, 1.01 * top).sparsity == 1.0
    assert fit_group_lasso(X, Y, 0.9 * top).sparsity < 1.0
    lam = 0.2 * top
    fit = fit_group_lasso(X, Y, lam)
    W = fit.W.clone().requires_grad_(True)
    loss = 0.5 * (Y - X @ W - fit.b).pow(2).sum() / len(Y)
    (grad,) = torch.autograd.grad(loss, [W])
    for j in range(W.shape[0]):
        w = fit.W[j]
        if float(w.norm()) == 0:
            assert float(grad[j].norm()) <= lam * (1 + 1e-4)
        else:
            assert torch.allclose(grad[j], -lam * w / w.norm(), atol=1e-5)


def test_switch_symmetries_of_prop_a3_a4():
    X, Y = problem()
    g = torch.Generator().manual_seed(3)
    A = torch.randn(8, 3, generator=g, dtype=torch.float64)
    beta = torch.randn(8, generator=g, dtype=torch.float64)
    b = torch.zeros(3, dtype=torch.float64)
    base = float(switch_objective(X, Y, A, beta, b, 0.5, 0.1))
    flip = torch.ones(8, dtype=torch.float64)
    flip[[0, 5]] = -1  # prop. A.4: negating beta_j and A_j changes nothing
    assert float(
        switch_objective(X, Y, flip[:, None] * A, flip * beta, b, 0.5, 0.1)
    ) == pytest.approx(base, rel=1e-12)
    # prop. A.3: without lam2, scaling A up and beta down always lowers the objective
    assert float(switch_objective(X, Y, 2 * A, beta / 2, b, 0.5)) < float(
        switch_objective(X, Y, A, beta, b, 0.5)
    )


@pytest.mark.slow
def test_sweep_recovers_support_and_reports_normalised_figures():
    X, Y = problem(n=100, p=10, relevant=3, noise=0.3)
    top = lambda_max(X, Y)
    fits = sweep(X, Y, top * np.logspace(0, -2, 5), top * np.logspace(0.5, -2.5, 5))
    for f in fits:
        assert 0.0 <= f.normalised_loss <= 1.0 and 0.0 <= f.sparsity <= 1.0
    for method in ("group lasso", "switch"):
        mine = [f for f in fits if f.method == method]
        assert any(f.sparsity == 0.7 and (f.W[:3].abs() >= 1e-3).any(dim=1).all() for f in mine), (
            method
        )
        assert max(f.sparsity for f in mine) == 1.0
        assert 0.0 < frontier_area(mine, 10) < 1.0


def test_logistic_regression_fits_and_null_loss():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(90, 5, generator=g, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    prior = torch.bincount(y).double() / 90
    assert null_loss(y, "logistic") == pytest.approx(float(-(prior * prior.log()).sum()))
    top = lambda_max(X, y, "logistic")
    gl = fit_group_lasso(X, y, 0.3 * top, "logistic")
    sw = fit_switch(X, y, 0.3 * top, 1e-3, "logistic")
    for fit in (gl, sw):
        assert fit.normalised_loss < 0.9 and fit.sparsity >= 0.4
        assert (fit.W[:2].abs() >= 1e-3).any(dim=1).all()  # the two relevant inputs stay
    assert sparsity(torch.zeros(5, 3)) == 1.0


@pytest.mark.slow
def test_cli_groupsparsity_prints_table(capsys):
    from explorer.cli import main

    assert main(["groupsparsity", "--dataset", "linnerud", "--points", "3"]) == 0
    out = capsys.readouterr().out
    assert "linnerud   switch" in out and "frontier area" in out
