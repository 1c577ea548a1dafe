"""AdaRad (Algorithm 1) and AdaRad-M (Algorithm 2) behaviour and a numpy reference."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from kernels.adarad import AdaRad
from kernels.capnorm import CapNorm


def _row_norms(p):
    return p.detach().reshape(p.shape[0], -1).norm(dim=1)


def _cosines(a, b):
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def test_angular_step_preserves_lengths_and_changes_directions():
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(6, 5)), nn.Parameter(torch.randn(4, 3, 2, 2))]
    opt = AdaRad(params, radial_lr=0.0, angular_lr=3.0, lam=0.0)
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.randn_like(p)
    opt.step()
    for p, b in zip(params, before, strict=True):
        torch.testing.assert_close(_row_norms(p), _row_norms(b), atol=1e-5, rtol=0)
        assert (_cosines(p.detach(), b) < 1 - 1e-3).all(), "every fan-in should turn"


def test_radial_step_and_shrinkage_match_hand_computation():
    torch.manual_seed(1)
    W = torch.randn(8, 5)
    W[:3] *= 0.003  # short fan-ins that shrinkage must zero out
    p = nn.Parameter(W.clone())
    g = torch.randn(8, 5)
    g[:3] *= 0.003  # keep their radial step small so it cannot flip and lengthen them
    p.grad = g.clone()
    opt = AdaRad([p], radial_lr=1.0, angular_lr=5.0)
    # hyperparameters are read live from param_groups
    opt.param_groups[0].update(angular_lr=0.0, radial_lr=0.2, lam=0.5, batch_fraction=0.25)
    opt.step()

    ar, lam, bf = 0.2, 0.5, 0.25
    for j in range(8):
        w, G = W[j].double(), g[j].double() * bf
        radial = w - ar * (G @ w) / (w @ w) * w  # line 15
        expected_len = max(0.0, radial.norm().item() - ar * lam * bf)  # line 17
        got = p.detach()[j].double()
        assert got.norm().item() == pytest.approx(expected_len, abs=1e-5)
        if expected_len == 0:
            assert torch.all(got == 0)
        else:
            expected = radial * expected_len / radial.norm()
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert torch.all(p.detach()[:3] == 0)


def test_zero_fan_in_stays_zero_and_finite():
    p = nn.Parameter(torch.randn(4, 3))
    with torch.no_grad():
        p[2] = 0.0
    opt = AdaRad([p], radial_lr=0.1, angular_lr=10.0, lam=0.1, momentum=True)
    for _ in range(3):
        p.grad = torch.randn_like(p)
        opt.step()
    assert torch.all(p.detach()[2] == 0)
    for value in opt.state[p].values():
        assert torch.isfinite(value).all()


def _toy_data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    y = ((X[:, 0] * X[:, 1]) > 0).long()  # XOR quadrants
    return X, y


def _mlp(seed=0, hidden=16):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, hidden, bias=False),
        CapNorm(hidden),
        nn.ReLU(),
        nn.Linear(hidden, 2, bias=False),
    )


def _train(net, opt, X, y, steps):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("momentum", [False, True])
def test_training_lowers_loss(momentum):
    X, y = _toy_data()
    net = _mlp()
    opt = AdaRad(net.parameters(), radial_lr=0.5, angular_lr=1.0, lam=1e-3, momentum=momentum)
    losses = _train(net, opt, X, y, 150)
    assert losses[-1] < 0.5 * losses[0]
    assert np.isfinite(losses).all()


def _max_abs_cos(opt, p):
    phi = opt.state[p]["phi_avg"]
    live = phi.reshape(phi.shape[0], -1).norm(dim=1) > 0
    return _cosines(phi, p.detach())[live].abs().max().item()


def test_adarad_m_keeps_phi_avg_orthogonal_also_after_column_removal():
    X, y = _toy_data()
    net = _mlp()
    opt = AdaRad(net.parameters(), radial_lr=0.3, angular_lr=2.0, lam=1e-3, momentum=True)
    for _ in range(6):
        _train(net, opt, X, y, 1)
        for p in net.parameters():
            assert _max_abs_cos(opt, p) < 1e-5

    # Remove hidden units 0, 3, 7: columns of the output layer (its inputs).
    out = net[3].weight
    keep = torch.tensor([j for j in range(out.shape[1]) if j not in (0, 3, 7)])
    out.data = out.data[:, keep]
    out.grad = None
    opt.state[out]["phi_avg"] = opt.state[out]["phi_avg"][:, keep]
    assert _max_abs_cos(opt, out) > 1e-3, "slicing alone should break orthogonality"
    opt.after_surgery(out)
    assert _max_abs_cos(opt, out) < 1e-5


def test_after_surgery_is_noop_without_momentum():
    p = nn.Parameter(torch.randn(3, 4))
    opt = AdaRad([p], radial_lr=0.1, angular_lr=1.0)
    p.grad = torch.randn_like(p)
    opt.step()
    opt.after_surgery(p)
    assert set(opt.state[p]) == {"phi_sq_avg", "capacity"}


def test_state_shapes_and_state_dict_round_trip():
    X, y = _toy_data()
    net = _mlp()
    opt = AdaRad(net.parameters(), radial_lr=0.3, angular_lr=2.0, lam=1e-2, momentum=True)
    _train(net, opt, X, y, 3)
    w = net[0].weight
    assert opt.state[w]["phi_sq_avg"].shape == (16,)
    assert opt.state[w]["capacity"].shape == (16,)
    assert opt.state[w]["arith_capacity"].shape == (16,)
    assert opt.state[w]["phi_avg"].shape == w.shape

    twin = copy.deepcopy(net)
    twin_opt = AdaRad(twin.parameters(), radial_lr=9.0, angular_lr=9.0, momentum=True)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert twin_opt.param_groups[0]["radial_lr"] == 0.3
    assert float(twin_opt.param_groups[0]["phi_max"]) == float(opt.param_groups[0]["phi_max"])
    _train(net, opt, X, y, 3)
    _train(twin, twin_opt, X, y, 3)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_ndim_one_param_is_rejected():
    with pytest.raises(ValueError, match="ndim >= 2"):
        AdaRad([nn.Parameter(torch.randn(3))], radial_lr=0.1, angular_lr=1.0)
    opt = AdaRad([nn.Parameter(torch.randn(3, 2))], radial_lr=0.1, angular_lr=1.0)
    with pytest.raises(ValueError, match="ndim >= 2"):
        opt.add_param_group({"params": [nn.Parameter(torch.randn(3))]})


# ---------------------------------------------------------------------------
# Independent numpy reference of Algorithm 1, in the paper's layout: W_l is
# d_{l-1} x d_l and fan-in j is COLUMN j.  One loop over units computes the
# statistics (lines 11-13), a second loop moves the fan-ins (lines 14-17); the
# optimizer documents the same order (global maxima before the moves).
# ---------------------------------------------------------------------------


def _reference_step(Ws, grads, st, ar, aphi, lam, bf, beta=0.005, eps=1e-8):
    Gs = [bf * g for g in grads]  # G = (1/|D|) grad of the summed losses
    parts = []
    for l, (W, G) in enumerate(zip(Ws, Gs, strict=True)):
        for j in range(W.shape[1]):
            w, g = W[:, j], G[:, j]
            r = (g @ w) / (w @ w) * w
            phi = g - r
            st["phibar"][l][j] = (1 - beta) * st["phibar"][l][j] + beta * (phi @ phi)
            st["c"][l][j] = (1 - beta) * st["c"][l][j] + beta
            st["phi_max"] = max(st["phi_max"], st["phibar"][l][j])
            st["c_max"] = max(st["c_max"], st["c"][l][j])
            parts.append((l, j, r, phi))
    for l, j, r, phi in parts:
        W = Ws[l]
        ratio = np.sqrt(st["phi_max"] / st["c_max"])
        phi_adj = ratio * phi / np.sqrt(st["phibar"][l][j] / st["c"][l][j] + eps)
        w = W[:, j] - ar * r
        theta = aphi * np.linalg.norm(phi_adj)
        e1 = w / np.linalg.norm(w)
        e2 = -phi_adj / np.linalg.norm(phi_adj)
        w = np.linalg.norm(w) * (np.cos(theta) * e1 + np.sin(theta) * e2)
        length = np.linalg.norm(w)
        W[:, j] = w * max(0.0, 1.0 - ar * lam * bf / length)


def test_matches_numpy_reference_of_algorithm_1():
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(40, 5)))
    y = torch.tensor(rng.integers(0, 3, size=40))
    dims = [5, 7, 3]

    def loss_fn(W1, W2):  # torch layout (out, in)
        return nn.functional.cross_entropy(torch.relu(X @ W1.T) @ W2.T, y)

    init = [rng.normal(size=(dims[i + 1], dims[i])) / np.sqrt(dims[i]) for i in range(2)]
    params = [nn.Parameter(torch.tensor(w)) for w in init]
    hp = dict(radial_lr=0.5, angular_lr=2.0, lam=0.05, batch_fraction=0.5)
    opt = AdaRad(params, **hp)

    ref_W = [w.T.copy() for w in init]  # paper layout
    st = {
        "phibar": [np.zeros(d) for d in dims[1:]],
        "c": [np.zeros(d) for d in dims[1:]],
        "phi_max": 0.0,
        "c_max": 0.0,
    }
    for _ in range(5):
        opt.zero_grad()
        loss_fn(*params).backward()
        opt.step()

        ref_params = [torch.tensor(W.T, requires_grad=True) for W in ref_W]
        loss_fn(*ref_params).backward()
        ref_grads = [p.grad.numpy().T for p in ref_params]
        _reference_step(
            ref_W, ref_grads, st, hp["radial_lr"], hp["angular_lr"], hp["lam"], hp["batch_fraction"]
        )
        for p, W in zip(params, ref_W, strict=True):
            np.testing.assert_allclose(p.detach().numpy(), W.T, atol=1e-5)
    assert float(opt.param_groups[0]["phi_max"]) == pytest.approx(st["phi_max"], rel=1e-6)
    # the step moved the weights a real distance, so agreement is not trivial
    assert (
        max(np.abs(p.detach().numpy() - w).max() for p, w in zip(params, init, strict=True)) > 0.05
    )


def test_phi_max_is_a_running_maximum_over_steps_and_layers():
    a, b = nn.Parameter(torch.randn(3, 4)), nn.Parameter(torch.randn(2, 3))
    opt = AdaRad([{"params": [a]}, {"params": [b], "beta_quad": 0.5}], 0.0, 1.0)
    a.grad, b.grad = torch.zeros_like(a), torch.randn_like(b) * 10
    opt.step()
    first = float(opt.param_groups[0]["phi_max"])
    assert first == pytest.approx(opt.state[b]["phi_sq_avg"].max().item(), rel=1e-6)
    b.grad = torch.zeros_like(b)  # phi_bar decays, the running maximum must not
    opt.step()
    assert opt.state[b]["phi_sq_avg"].max().item() < first
    assert float(opt.param_groups[0]["phi_max"]) == pytest.approx(first, rel=1e-6)
    assert float(opt.param_groups[0]["c_max"]) == pytest.approx(0.75)


# ---------------------------------------------------------------------------
# The optimizer computes each step in closed form per fan-in (w_new = A w + B grad, no
# full-size phi, r or u).  Oracle: the direct transcription of Alg. 1 / Alg. 2 below, which
# forms r, phi, phi_tilde, phi_adj and u as tensors and rotates with them, in float64.
# ---------------------------------------------------------------------------


def _orth(x, w):
    sq = (w * w).sum(1)
    coef = torch.where(sq > 0, (x * w).sum(1) / sq, 0.0)
    return x - coef[:, None] * w


def _direct_step(params, st, hp, momentum):
    """One step of Alg. 1 (Alg. 2 with momentum) for fan-in rows, written out directly."""
    bq, ba, bf, eps = 0.005, 0.1, hp["batch_fraction"], 1e-8
    moves = []
    for i, p in enumerate(params):
        w = p.detach().reshape(p.shape[0], -1).clone()
        g = p.grad.reshape(p.shape[0], -1) * bf  # line 8
        sq = (w * w).sum(1)
        live = sq > 0
        r = torch.where(live, (g * w).sum(1) / sq, 0.0)[:, None] * w  # line 11
        phi = g - r
        st["phibar"][i] = torch.where(
            live, (1 - bq) * st["phibar"][i] + bq * (phi * phi).sum(1), st["phibar"][i]
        )  # line 12
        st["c"][i] = torch.where(live, (1 - bq) * st["c"][i] + bq, st["c"][i])
        if momentum:  # Alg. 2 line 16 and the projection of sec. 7.3
            st["phit"][i] = _orth(
                torch.where(live[:, None], (1 - ba) * st["phit"][i] + ba * phi, st["phit"][i]), w
            )
            st["a"][i] = torch.where(live, (1 - ba) * st["a"][i] + ba, st["a"][i])
        moves.append((i, p, w, r, phi))
    st["phi_max"] = max([st["phi_max"]] + [float(v.max()) for v in st["phibar"]])  # line 13
    st["c_max"] = max([st["c_max"]] + [float(v.max()) for v in st["c"]])
    ratio = np.sqrt(st["phi_max"] / st["c_max"])
    for i, p, w, r, phi in moves:
        norm = ratio / torch.sqrt(
            torch.where(st["c"][i] > 0, st["phibar"][i] / st["c"][i], 0.0) + eps
        )
        if momentum:  # Alg. 2 line 17
            direction = torch.where(
                st["a"][i][:, None] > 0, st["phit"][i] / st["a"][i][:, None], 0.0
            )
        else:  # Alg. 1 line 14
            direction = phi
        phi_adj = norm[:, None] * direction
        w1 = w - hp["radial_lr"] * r  # line 15
        u = -_orth(phi_adj, w1)  # line 16: rotate towards -phi_adj in the plane of w1
        u_len, w1_len = u.norm(dim=1), w1.norm(dim=1)
        theta = torch.where(
            (u_len > 0) & (w1_len > 0), hp["angular_lr"] * phi_adj.norm(dim=1), 0.0
        )[:, None]
        u_hat = torch.where(u_len[:, None] > 0, u / u_len[:, None], 0.0)
        w2 = torch.cos(theta) * w1 + torch.sin(theta) * w1_len[:, None] * u_hat
        if momentum:  # Alg. 2 line 20
            w1_hat = torch.where(w1_len[:, None] > 0, w1 / w1_len[:, None], 0.0)
            phit = st["phit"][i]
            st["phit"][i] = (
                torch.cos(theta) * phit + torch.sin(theta) * phit.norm(dim=1, keepdim=True) * w1_hat
            )
        t = hp["radial_lr"] * hp["lam"] * bf  # line 17
        length = w2.norm(dim=1, keepdim=True)
        w2 = torch.where(length > t, w2 * (1 - t / length), 0.0)
        with torch.no_grad():
            p.copy_(w2.reshape(p.shape))


@pytest.mark.parametrize("rows_in_numpy", [True, False])
@pytest.mark.parametrize("momentum", [False, True])
def test_closed_form_step_matches_direct_transcription(momentum, rows_in_numpy, monkeypatch):
    import kernels.adarad as adarad

    monkeypatch.setattr(adarad, "USE_NUMPY_ROWS", rows_in_numpy)
    gen = torch.Generator().manual_seed(3)
    shapes = [(7, 5), (4, 3, 2, 2), (6, 7)]
    init = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    init[0][2] = 0.0  # a zero fan-in
    init[2][:2] *= 0.01  # short fan-ins that the shrinkage zeroes
    fast = [nn.Parameter(w.clone()) for w in init]
    slow = [nn.Parameter(w.clone()) for w in init]
    hp = dict(radial_lr=0.3, angular_lr=2.0, lam=0.2, batch_fraction=0.5)
    opt = AdaRad([{"params": fast[:2]}, {"params": fast[2:]}], momentum=momentum, **hp)
    st = {
        "phibar": [torch.zeros(s[0], dtype=torch.float64) for s in shapes],
        "c": [torch.zeros(s[0], dtype=torch.float64) for s in shapes],
        "phit": [torch.zeros(s[0], int(np.prod(s[1:])), dtype=torch.float64) for s in shapes],
        "a": [torch.zeros(s[0], dtype=torch.float64) for s in shapes],
        "phi_max": 0.0,
        "c_max": 0.0,
    }
    for _ in range(25):
        for a, b in zip(fast, slow, strict=True):
            grad = torch.randn(a.shape, generator=gen, dtype=torch.float64)
            a.grad, b.grad = grad.clone(), grad.clone()
        opt.step()
        _direct_step(slow, st, hp, momentum)
        for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
            torch.testing.assert_close(a.detach(), b.detach(), atol=1e-10, rtol=1e-10)
            state = opt.state[a]
            torch.testing.assert_close(state["phi_sq_avg"], st["phibar"][i], atol=1e-12, rtol=1e-10)
            torch.testing.assert_close(state["capacity"], st["c"][i], atol=1e-12, rtol=1e-10)
            if momentum:
                torch.testing.assert_close(
                    state["phi_avg"].reshape(a.shape[0], -1), st["phit"][i], atol=1e-10, rtol=1e-10
                )
                torch.testing.assert_close(state["arith_capacity"], st["a"][i])
    assert float(opt.param_groups[0]["phi_max"]) == pytest.approx(st["phi_max"], rel=1e-12)
    assert all(torch.all(p.detach()[0] == 0) for p in fast[2:3]), "shrinkage should zero a row"
    assert torch.all(fast[0].detach()[2] == 0)


# ---------------------------------------------------------------------------
# Independent numpy transcription of Algorithm 2 (AdaRad-M, sec. 7.3), paper layout (fan-in
# j = COLUMN j of W_l), unit by unit, in the order the optimizer documents (statistics of
# every fan-in first, lines 13-16; then the moves, lines 17-21). Kills: a dropped bias
# correction (line 17's division by a_l(j)), a dropped batch share in the shrink (line 21),
# a doubled radial step (line 18), phi_tilde not rotated with w (line 20).
# ---------------------------------------------------------------------------


def _rotate(v, toward, theta):
    """Rotate v by theta in the plane of v and ``toward`` (orthogonal to v), toward it."""
    return np.cos(theta) * v + np.sin(theta) * np.linalg.norm(v) * toward / np.linalg.norm(toward)


def _reference_step_m(Ws, grads, st, ar, aphi, lam, bf, bq=0.005, ba=0.1, eps=1e-8):
    parts = []
    for l, (W, g_all) in enumerate(zip(Ws, grads, strict=True)):
        G = bf * g_all  # line 9: (1/|D|) grad of the summed batch losses
        for j in range(W.shape[1]):
            w, g = W[:, j], G[:, j]
            r = (g @ w) / (w @ w) * w  # line 13
            phi = g - r
            st["phibar"][l][j] = (1 - bq) * st["phibar"][l][j] + bq * (phi @ phi)  # line 14
            st["c"][l][j] = (1 - bq) * st["c"][l][j] + bq
            st["phi_max"] = max(st["phi_max"], st["phibar"][l][j])  # line 15
            st["c_max"] = max(st["c_max"], st["c"][l][j])
            st["phit"][l][:, j] = (1 - ba) * st["phit"][l][:, j] + ba * phi  # line 16
            st["a"][l][j] = (1 - ba) * st["a"][l][j] + ba
            parts.append((l, j, r))
    for l, j, r in parts:
        W, phit = Ws[l], st["phit"][l]
        phi_adj = (
            np.sqrt(st["phi_max"] / st["c_max"])
            / np.sqrt(st["phibar"][l][j] / st["c"][l][j] + eps)
            * phit[:, j]
            / st["a"][l][j]
        )  # line 17
        w = W[:, j] - ar * r  # line 18
        theta = aphi * np.linalg.norm(phi_adj)
        w_rot = _rotate(w, -phi_adj, theta)  # line 19
        phit[:, j] = _rotate(phit[:, j], w, theta)  # line 20 (toward w / |w|)
        length = np.linalg.norm(w_rot)
        W[:, j] = w_rot * max(0.0, 1.0 - ar * lam * bf / length)  # line 21


def test_adarad_m_matches_numpy_transcription_of_algorithm_2_step_by_step():
    rng = np.random.default_rng(1)
    X = torch.tensor(rng.normal(size=(40, 5)))
    y = torch.tensor(rng.integers(0, 3, size=40))
    dims = [5, 7, 3]

    def loss_fn(W1, W2):  # torch layout (out, in)
        return nn.functional.cross_entropy(torch.relu(X @ W1.T) @ W2.T, y)

    init = [rng.normal(size=(dims[i + 1], dims[i])) / np.sqrt(dims[i]) for i in range(2)]
    params = [nn.Parameter(torch.tensor(w)) for w in init]
    hp = dict(radial_lr=0.8, angular_lr=2.0, lam=0.2, batch_fraction=0.5)
    opt = AdaRad(params, momentum=True, **hp)
    ref_W = [w.T.copy() for w in init]  # paper layout
    st = {
        "phibar": [np.zeros(d) for d in dims[1:]],
        "c": [np.zeros(d) for d in dims[1:]],
        "a": [np.zeros(d) for d in dims[1:]],
        "phit": [np.zeros((dims[i], dims[i + 1])) for i in range(2)],
        "phi_max": 0.0,
        "c_max": 0.0,
    }
    for _ in range(6):
        opt.zero_grad()
        loss_fn(*params).backward()
        opt.step()
        ref_params = [torch.tensor(W.T, requires_grad=True) for W in ref_W]
        loss_fn(*ref_params).backward()
        _reference_step_m(
            ref_W,
            [p.grad.numpy().T for p in ref_params],
            st,
            hp["radial_lr"],
            hp["angular_lr"],
            hp["lam"],
            hp["batch_fraction"],
        )
        # compared after every step, weights and every piece of state
        for p, W, phit, phibar, c, a in zip(
            params, ref_W, st["phit"], st["phibar"], st["c"], st["a"], strict=True
        ):
            state = opt.state[p]
            np.testing.assert_allclose(p.detach().numpy(), W.T, rtol=0, atol=1e-10)
            np.testing.assert_allclose(state["phi_avg"].numpy(), phit.T, rtol=0, atol=1e-10)
            np.testing.assert_allclose(state["phi_sq_avg"].numpy(), phibar, rtol=1e-10)
            np.testing.assert_allclose(state["capacity"].numpy(), c, rtol=1e-12)
            np.testing.assert_allclose(state["arith_capacity"].numpy(), a, rtol=1e-12)
    assert float(opt.param_groups[0]["phi_max"]) == pytest.approx(st["phi_max"], rel=1e-10)
    moved = max(np.abs(p.detach().numpy() - w).max() for p, w in zip(params, init, strict=True))
    assert moved > 0.05  # a real move, so agreement is not trivial


@pytest.mark.parametrize("momentum", [False, True])
def test_steps_after_surgery_and_state_dict_round_trip_match_direct_transcription(momentum):
    """The optimizer keeps each group's rows in flat buffers between steps; surgery (a row
    and the matching column removed) and load_state_dict replace its state, and the steps after
    them must still be Alg. 1/2 (oracle: the direct transcription above, float64)."""
    gen = torch.Generator().manual_seed(5)
    init = [torch.randn(s, generator=gen, dtype=torch.float64) for s in ((6, 5), (4, 6))]
    fast = [nn.Parameter(w.clone()) for w in init]
    slow = [nn.Parameter(w.clone()) for w in init]
    hp = dict(radial_lr=0.3, angular_lr=2.0, lam=0.2, batch_fraction=0.5)
    opt = AdaRad(fast, momentum=momentum, **hp)
    zeros = [torch.zeros(6, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)]
    st = {
        "phibar": [z.clone() for z in zeros],
        "c": [z.clone() for z in zeros],
        "phit": [torch.zeros_like(w) for w in init],
        "a": [z.clone() for z in zeros],
        "phi_max": 0.0,
        "c_max": 0.0,
    }

    def steps(n):
        for _ in range(n):
            for a, b in zip(fast, slow, strict=True):
                grad = torch.randn(a.shape, generator=gen, dtype=torch.float64)
                a.grad, b.grad = grad.clone(), grad.clone()
            opt.step()
            _direct_step(slow, st, hp, momentum)
            for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
                torch.testing.assert_close(a.detach(), b.detach(), atol=1e-10, rtol=1e-10)
                torch.testing.assert_close(opt.state[a]["phi_sq_avg"], st["phibar"][i])
                if momentum:
                    torch.testing.assert_close(opt.state[a]["phi_avg"], st["phit"][i])

    steps(4)
    keep = torch.tensor([0, 1, 3, 4, 5])  # unit 2 removed: row 2 of W0, column 2 of W1
    with torch.no_grad():
        for key, value in list(opt.state[fast[0]].items()):
            opt.state[fast[0]][key] = value.index_select(0, keep)
        if momentum:
            opt.state[fast[1]]["phi_avg"] = opt.state[fast[1]]["phi_avg"].index_select(1, keep)
        for params in (fast, slow):
            params[0].data = params[0].data.index_select(0, keep)
            params[1].data = params[1].data.index_select(1, keep)
        opt.after_surgery(fast[1])
        for name in ("phibar", "c", "a", "phit"):
            st[name][0] = st[name][0].index_select(0, keep)
        st["phit"][1] = _orth(st["phit"][1].index_select(1, keep), slow[1].detach())
    steps(4)
    saved = copy.deepcopy((opt.state_dict(), [p.detach().clone() for p in fast], st))
    steps(3)
    opt.load_state_dict(saved[0])  # a rewind: same optimizer, same shapes, other state
    with torch.no_grad():
        for a, b, w in zip(fast, slow, saved[1], strict=True):
            a.copy_(w)
            b.copy_(w)
    st = copy.deepcopy(saved[2])
    steps(3)
    fresh = AdaRad(fast, momentum=momentum, **hp)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    opt = fresh
    steps(3)
    assert fast[0].shape == (5, 5) and fast[1].shape == (4, 5)


def test_a_group_mixing_dtypes_is_refused_with_a_clear_message():
    a = nn.Parameter(torch.randn(3, 4))
    b = nn.Parameter(torch.randn(2, 3, dtype=torch.float64))
    opt = AdaRad([a, b], 0.1, 1.0)
    a.grad, b.grad = torch.randn_like(a), torch.randn_like(b)
    with pytest.raises(ValueError, match="share dtype and device.*separate param groups"):
        opt.step()
    split = AdaRad([{"params": [a]}, {"params": [b]}], 0.1, 1.0)  # one group each: fine
    split.step()
    assert split.state[b]["phi_sq_avg"].dtype == torch.float64
