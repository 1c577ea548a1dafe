"""TINY (paper 003): the best update, the best neurons and their spectrum against dense
solvers, autograd finite differences and the paper's identities; the method in the trainer."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from kernels import surgery
from kernels.tiny import (
    GrowingMLP,
    accepted_count,
    best_neurons,
    best_update,
    capture,
    cross_moment,
    lack_of_expressivity,
    line_search,
    plan_layer,
    second_moment,
)


def batch(n=200, d=12, d_out=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    b = torch.cat([x, torch.ones(n, 1, dtype=dtype)], dim=1)
    v = torch.randn(n, d_out, generator=g, dtype=dtype)
    return b, v


def rel_residual(s, n, sol):
    """max_k ||N N^T a_k - lambda_k^2 S a_k|| / (||N N^T a_k|| + lambda_k^2 ||S a_k||)."""
    a, lam = sol.alpha.double(), sol.eigenvalues.double()
    lhs, rhs = n @ n.T @ a, (s @ a) * lam**2
    return float(((lhs - rhs).norm(dim=0) / (lhs.norm(dim=0) + rhs.norm(dim=0))).max())


@pytest.mark.parametrize("route", ["cholesky", "psd", "lobpcg"])
def test_alpha_omega_solve_the_generalised_eigenproblem(route):
    b, v = batch()
    s, n = second_moment(b), cross_moment(b, v)
    sol = best_neurons(s, n, route=route, k=4, generator=torch.Generator().manual_seed(1))
    assert sol.route == route
    lam = sol.eigenvalues.double()
    assert torch.all(lam[:-1] >= lam[1:])
    assert rel_residual(s, n, sol) < 1e-4
    # S-orthonormal fan-ins, unit orthogonal fan-outs, N^T alpha_k = lambda_k omega_k (B.4)
    a, w = sol.alpha.double(), sol.omega.double()
    assert torch.allclose(a.T @ s @ a, torch.eye(a.shape[1], dtype=a.dtype), atol=1e-8)
    assert torch.allclose(w.T @ w, torch.eye(w.shape[1], dtype=w.dtype), atol=1e-8)
    assert torch.allclose(n.T @ a, w * lam, atol=1e-8)
    if route != "lobpcg":  # every lambda_k: the singular values of L^{-1} N
        ref = torch.linalg.svdvals(
            torch.linalg.solve_triangular(torch.linalg.cholesky(s), n, upper=False)
        )
        assert torch.allclose(lam, ref, rtol=1e-8)


def test_cholesky_svd_and_lobpcg_agree_on_top_eigenvalues():
    b, v = batch(n=600, d=150, d_out=30, seed=3)
    s, n = second_moment(b), cross_moment(b, v)
    chol = best_neurons(s, n, route="cholesky")
    lob = best_neurons(s, n, route="lobpcg", k=6, generator=torch.Generator().manual_seed(0))
    assert lob.route == "lobpcg" and len(lob.eigenvalues) == 6
    assert torch.allclose(lob.eigenvalues, chol.eigenvalues[:6], rtol=1e-6)
    # same directions up to sign
    cos = (lob.alpha.T @ s @ chol.alpha[:, :6]).diagonal().abs()
    assert torch.all(cos > 1 - 1e-5)


def test_best_update_matches_dense_least_squares():
    b, v = batch(n=80, d=10, d_out=4, seed=2)
    ref = torch.linalg.lstsq(b, v).solution.T
    assert torch.allclose(best_update(b, v), ref, atol=1e-10)
    # rank-deficient inputs: the minimum-norm solution (gelsd) of prop. 3.1's pseudo-inverse
    b2 = torch.cat([b[:, :3], b[:, :3] * 2.0, b[:, 3:]], dim=1)
    ref2 = torch.linalg.lstsq(b2, v, driver="gelsd").solution.T
    assert torch.allclose(best_update(b2, v), ref2, atol=1e-8)
    # the residual is orthogonal to the inputs: V* is the projection of V_goal (sec. 3.1)
    r = v - b2 @ best_update(b2, v).T
    assert float((b2.T @ r).abs().max()) < 1e-9
    # ridge: the Tikhonov solution, an oracle from the augmented least-squares problem
    # [B; sqrt(n r m) I] dW^T = [V; 0], m = mean diag of S = (1/n) B^T B
    n, r = b2.shape[0], 0.3
    m = float((b2 * b2).sum() / (n * b2.shape[1]))
    aug_b = torch.cat([b2, (n * r * m) ** 0.5 * torch.eye(b2.shape[1], dtype=b2.dtype)])
    aug_v = torch.cat([v, torch.zeros(b2.shape[1], v.shape[1], dtype=v.dtype)])
    ref3 = torch.linalg.lstsq(aug_b, aug_v).solution.T
    assert torch.allclose(best_update(b2, v, ridge=r), ref3, atol=1e-10)
    assert not torch.allclose(best_update(b2, v, ridge=r), best_update(b2, v), atol=1e-3)


def test_bottleneck_drops_by_sum_of_lambda_squared():
    b, v = batch(n=300, d=9, d_out=6, seed=4)
    s, n = second_moment(b), cross_moment(b, v)
    sol = best_neurons(s, n)
    before = lack_of_expressivity(b, v)
    for k in range(1, len(sol.eigenvalues) + 1):
        alpha, omega = sol.scaled(k)
        after = lack_of_expressivity(b, v, extra=(b @ alpha) @ omega.T)
        expected = before - float((sol.eigenvalues[:k] ** 2).sum())
        assert after == pytest.approx(expected, rel=1e-9, abs=1e-12)


def small_net(seed=0, hidden=(5, 4), d=8, classes=3, n=256, train_steps=40):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = GrowingMLP(d, list(hidden), classes, generator=g).double()
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    teacher = torch.randn(d, classes, generator=g, dtype=torch.float64)
    y = (torch.tanh(x @ teacher) + 0.3 * (x**2) @ teacher.abs()).argmax(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(train_steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


def neuron_solution(model, x, y, layer, use_dw=True):
    acts = capture(model, x, y)
    b_prev, b_l, v = acts[layer].inputs, acts[layer + 1].inputs, acts[layer + 1].v_goal
    v_proj = v - b_l @ best_update(b_l, v).T if use_dw else v
    s, n = second_moment(b_prev), cross_moment(b_prev, v_proj)
    return acts, v, v_proj, best_neurons(s, n)


def grow_scaled(model, layer, alpha, omega, gamma):
    root = gamma**0.5
    rows = (alpha * root).T
    surgery.grow(
        model,
        layer,
        rows[:, :-1].contiguous(),
        (omega * root).contiguous(),
        bias=rows[:, -1].contiguous(),
    )


def test_adding_the_neurons_through_surgery_lowers_the_bottleneck_as_predicted():
    model, x, y = small_net(seed=5)
    layer, k, gamma = 0, 3, 1e-4
    acts, _, v_proj, sol = neuron_solution(model, x, y, layer)
    alpha, omega = sol.scaled(k)
    before = lack_of_expressivity(acts[layer].inputs, v_proj)
    grow_scaled(model, layer, alpha, omega, gamma)
    with torch.no_grad():
        moved = model.linears[layer + 1](model.hidden_forward(x, layer))
    realised = (moved - acts[layer + 1].pre) / gamma  # ELU: -> V(theta) as gamma -> 0
    after = lack_of_expressivity(acts[layer].inputs, v_proj, extra=realised)
    predicted = before - float((sol.eigenvalues[:k] ** 2).sum())
    assert after == pytest.approx(predicted, rel=1e-3)
    assert after < before


def test_first_order_loss_decrease_matches_sum_lambda_squared():
    """Prop. 3.2 (11): with the layer above at a stationary point (dW* = 0, V_proj = V_goal),
    adding the K best neurons at amplitude gamma lowers the mean loss by
    gamma sigma'(0) sum_k lambda_k^2 + o(gamma); ELU has sigma'(0) = 1."""
    model, x, y = small_net(seed=6)
    layer, k, gamma = 1, 3, 1e-5
    with torch.no_grad():
        feats = model.hidden_forward(model.hidden_forward(x, 0), 1)
    top = model.linears[-1]
    opt = torch.optim.LBFGS(
        top.parameters(),
        lr=1,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(top(feats), y)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    acts, v, v_proj, sol = neuron_solution(model, x, y, layer, use_dw=False)
    assert float((acts[layer + 1].inputs.T @ v).abs().max()) < 1e-5  # stationary
    alpha, omega = sol.scaled(k)
    with torch.no_grad():
        base = float(F.cross_entropy(model(x), y))
        grow_scaled(model, layer, alpha, omega, gamma)
        measured = (base - float(F.cross_entropy(model(x), y))) / gamma
    predicted = float((sol.eigenvalues[:k] ** 2).sum())
    assert measured == pytest.approx(predicted, rel=0.05)


def test_first_order_loss_change_is_the_activity_inner_product_anywhere():
    """Away from a stationary point the first-order decrease is (1/n) <V_goal, V(theta)>
    (sec. 3.2), of which sum lambda_k^2 = (1/n) <V_proj, V(theta)> is the part dW* can't do."""
    model, x, y = small_net(seed=7)
    layer, k, gamma = 0, 2, 1e-5
    acts, v, v_proj, sol = neuron_solution(model, x, y, layer)
    alpha, omega = sol.scaled(k)
    v_theta = (acts[layer].inputs @ alpha) @ omega.T
    n = len(y)
    assert float((v_proj * v_theta).sum() / n) == pytest.approx(
        float((sol.eigenvalues[:k] ** 2).sum()), rel=1e-9
    )
    with torch.no_grad():
        base = float(F.cross_entropy(model(x), y))
        grow_scaled(model, layer, alpha, omega, gamma)
        measured = (base - float(F.cross_entropy(model(x), y))) / gamma
    assert measured == pytest.approx(float((v * v_theta).sum() / n), rel=0.05)


@pytest.mark.slow
def test_optimal_neurons_beat_random_ones_after_the_line_search():
    """Appendix C.4 over 20 seeds: same count, same line search; report the share."""
    wins, margins = 0, []
    for seed in range(20):
        model, x, y = small_net(seed=100 + seed, hidden=(3, 3), train_steps=30)
        acts = capture(model, x, y)
        kw = dict(tau=0.0, cap=2, generator=torch.Generator().manual_seed(seed))
        best = plan_layer(model, acts, 0, y, neurons="optimal", **kw)
        rand = plan_layer(model, acts, 0, y, neurons="random", **kw)
        # both propose 2 neurons; random ones that lower no loss are rejected (loss unchanged)
        assert best.count + best.rejected == rand.count + rand.rejected == 2
        assert best.count == 2
        wins += best.loss_after < rand.loss_after
        margins.append(rand.loss_after - best.loss_after)
    share = wins / 20
    print(
        f"optimal beat random in {wins}/20 seeds ({share:.0%}); median loss margin "
        f"{np.median(margins):.4f}"
    )
    assert share >= 0.75


def test_semi_definite_s_is_handled():
    """Blank inputs (zero rows/columns of S) and collinear inputs (appendix B.3)."""
    b, v = batch(n=150, d=8, d_out=5, seed=8)
    zero = torch.zeros(len(b), 2, dtype=b.dtype)
    b_psd = torch.cat([zero, b[:, :4], b[:, :2] - b[:, 2:4], b[:, 4:]], dim=1)
    s, n = second_moment(b_psd), cross_moment(b_psd, v)
    assert float(torch.linalg.eigvalsh(s)[0]) < 1e-10
    with pytest.raises(torch.linalg.LinAlgError):
        best_neurons(s, n, route="cholesky")
    sol = best_neurons(s, n)
    assert sol.route == "psd"
    assert rel_residual(s, n, sol) < 1e-4
    assert torch.all(sol.alpha[:2] == 0)  # nothing on blank inputs
    # the same spectrum as the full-rank problem on the independent inputs
    ref = best_neurons(second_moment(b), cross_moment(b, v), route="cholesky")
    assert torch.allclose(sol.eigenvalues, ref.eigenvalues, rtol=1e-7)
    alpha, omega = sol.scaled(3)
    after = lack_of_expressivity(b_psd, v, extra=(b_psd @ alpha) @ omega.T)
    assert after == pytest.approx(
        lack_of_expressivity(b_psd, v) - float((sol.eigenvalues[:3] ** 2).sum()), rel=1e-9
    )
    # LOBPCG on a singular S falls back to a direct route and says which
    lob = best_neurons(s, n, route="lobpcg", k=2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(lob.eigenvalues[:2], ref.eigenvalues[:2], rtol=1e-6)


def test_ridge_shrinks_the_spectrum_and_keeps_the_fan_ins_bounded():
    b, v = batch(n=300, d=9, d_out=6, seed=9)
    s, n = second_moment(b), cross_moment(b, v)
    exact, ridged = best_neurons(s, n), best_neurons(s, n, ridge=1e-2)
    assert torch.all(ridged.eigenvalues <= exact.eigenvalues + 1e-12)
    assert torch.all(ridged.eigenvalues > 0.9 * exact.eigenvalues)
    quad = torch.einsum("ik,ij,jk->k", ridged.alpha, s, ridged.alpha)
    assert torch.all(quad <= 1 + 1e-12)
    with pytest.raises(ValueError, match="ridge must be >= 0"):
        best_neurons(s, n, ridge=-1.0)


def test_threshold_and_cap():
    lam = torch.tensor([1.0, 0.5, 0.1, 0.01])
    # the paper's rule (end of sec. 2.4): lambda_k^2 * L > tau
    assert accepted_count(lam, 0.2, loss=1.0) == 2  # lambda^2 = 1, .25 > .2
    assert accepted_count(lam, 0.2, loss=0.5) == 1  # .25 * .5 < .2: a lower loss asks more
    assert accepted_count(lam, 0.2, loss=0.1) == 0  # growth stops once the loss is small
    assert accepted_count(lam, 0.2, cap=1, loss=1.0) == 1
    assert accepted_count(lam, 0.2, "absolute") == 2
    assert accepted_count(lam, 0.005, "relative") == 3  # > 0.005 * 1
    assert accepted_count(lam, 0.9, "relative") == 1  # always the top neuron
    with pytest.raises(ValueError, match="paper, absolute, relative"):
        accepted_count(lam, 0.1, "percent")
    with pytest.raises(ValueError, match="needs the loss"):
        accepted_count(lam, 0.1)


def test_line_search_finds_the_minimum_of_a_parabola():
    res = line_search(lambda g: (g - 0.3) ** 2 + 1.0)
    assert res.gamma == pytest.approx(0.3, rel=0.02)
    assert res.loss_at_zero == pytest.approx(1.09)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown route 'svd'"):
        best_neurons(torch.eye(3), torch.ones(3, 2), route="svd")
    with pytest.raises(ValueError, match="S must be square"):
        best_neurons(torch.eye(3), torch.ones(4, 2))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        GrowingMLP(3, [1], 2, activation="gelu")


def test_amplitude_grid_reaches_an_interior_minimum_and_records_cap_hits():
    """The grid goes up to max_gamma within the safety bound: a minimum at gamma = 5 is found
    (the old fixed cap of 1 returned 1); a minimum beyond the grid is reported as capped."""
    from kernels.tiny.growth import MAX_GAMMA, SAFETY, safe_high_exp

    high = safe_high_exp(1.0, 100.0, safety=SAFETY, max_gamma=MAX_GAMMA)
    assert high == 8  # 2^8 <= 4 * 100 / 1 < 2^9
    res = line_search(lambda g: (g - 5.0) ** 2 + 1.0, high_exp=high)
    assert res.gamma == pytest.approx(5.0, rel=0.02) and res.gamma < 2.0**high
    assert safe_high_exp(1e6, 1.0, safety=4.0, max_gamma=MAX_GAMMA) == -15  # at least 2 points
    assert safe_high_exp(0.0, 1.0, safety=4.0, max_gamma=8.0) == 3  # no move: max_gamma
    # in a growth step: interior minima above the old cap of 1 (seed 2: gamma_0 ~ 4.2,
    # gamma ~ 5.3, grid top 32), and a minimum beyond the safety bound recorded as capped
    # (seed 3: top 16, the unbounded search finds ~28)
    model, x, y = small_net(seed=2, hidden=(3, 3), train_steps=30)
    plan = plan_layer(model, capture(model, x, y), 0, y, tau=0.0, cap=2)
    assert 1.0 < plan.gamma < plan.gamma_max and not plan.gamma_capped
    assert plan.gamma0 > 1.0 and not plan.gamma0_capped
    model, x, y = small_net(seed=3, hidden=(3, 3), train_steps=30)
    acts = capture(model, x, y)
    capped = plan_layer(model, acts, 0, y, tau=0.0, cap=2)
    assert capped.gamma_capped and capped.gamma == capped.gamma_max == 16.0
    free = plan_layer(model, acts, 0, y, tau=0.0, cap=2, safety=1e6)
    assert not free.gamma_capped and free.gamma > 16.0 and free.loss_after < capped.loss_after
    small = plan_layer(model, acts, 0, y, tau=0.0, cap=2, max_gamma=0.5)
    assert small.gamma_max == 0.5 and small.gamma_capped and small.gamma0 <= 0.5


def test_line_search_takes_a_known_loss_at_zero_without_evaluating_it():
    calls = []

    def loss(g):
        calls.append(g)
        return (g - 0.3) ** 2 + 1.0

    res = line_search(loss, loss_at_zero=1.09)
    assert 0.0 not in calls and res.loss_at_zero == 1.09
    assert res.evaluations == len(calls)
    assert res.gamma == pytest.approx(line_search(lambda g: (g - 0.3) ** 2 + 1.0).gamma)
