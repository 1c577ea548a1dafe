"""TINY's cheaper growth step (issue 17): the batched amplitude grid against the per-point
forward passes it replaces, the zoom refinement, the backoff schedule, the growth-time parts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from kernels.tiny.capture import capture, forward_from
from kernels.tiny.grid_loss import GridLoss, cross_entropy_columns, lead_matmul
from kernels.tiny.line_search import line_search
from tests.test_tiny import small_net


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_grid_loss_equals_one_forward_pass_per_gamma(layer):
    """Oracle: for each gamma, F.cross_entropy of the logits computed by ``forward_from`` (a
    separate pass per gamma, row-major) equals the batched feature-major value, for the
    best-update move (linear in gamma) and a neuron-like move (nonlinear in gamma)."""
    model, x, y = small_net(seed=4, hidden=(5, 4, 3))
    acts = capture(model, x, y)
    a = acts[layer + 1].pre
    g = torch.Generator().manual_seed(1)
    move = torch.randn(a.shape, generator=g, dtype=a.dtype)
    pre_new = torch.randn(a.shape[0], 2, generator=g, dtype=a.dtype)
    omega = torch.randn(a.shape[1], 2, generator=g, dtype=a.dtype)
    gammas = [0.0, 2.0**-16, 0.03, 0.7, 1.0, 5.0]
    # feature-major d x 1 x n: the grid goes on axis 1
    a_t, move_t, pre_t = (t.T.contiguous()[:, None] for t in (a, move, pre_new))
    act = model.activation
    linear = GridLoss(model, layer, y, lambda gm: a_t + gm * move_t)
    neuron = GridLoss(
        model, layer, y, lambda gm: a_t + gm.sqrt() * lead_matmul(omega, act(gm.sqrt() * pre_t))
    )
    with torch.no_grad():
        want_linear = [
            float(F.cross_entropy(forward_from(model, layer + 1, a + gm * move), y))
            for gm in gammas
        ]
        want_neuron = [
            float(
                F.cross_entropy(
                    forward_from(
                        model, layer + 1, a + math.sqrt(gm) * act(math.sqrt(gm) * pre_new) @ omega.T
                    ),
                    y,
                )
            )
            for gm in gammas
        ]
        assert linear(gammas) == pytest.approx(want_linear, rel=1e-12, abs=1e-12)
        assert neuron(gammas) == pytest.approx(want_neuron, rel=1e-12, abs=1e-12)
        # another loss function goes through the row-major logits, one call per gamma
        mse = GridLoss(model, layer, y, lambda gm: a_t + gm * move_t, loss_fn=F.multi_margin_loss)
        want = [
            float(F.multi_margin_loss(forward_from(model, layer + 1, a + gm * move), y))
            for gm in gammas
        ]
        assert mse(gammas) == pytest.approx(want, rel=1e-12)
        # chunked evaluation (a block smaller than the grid) gives the same values
        import kernels.tiny.grid_loss as grid_loss

        old = grid_loss.MAX_BLOCK
        try:
            grid_loss.MAX_BLOCK = 1
            assert GridLoss(model, layer, y, lambda gm: a_t + gm * move_t)(gammas) == pytest.approx(
                want_linear, rel=1e-12
            )
        finally:
            grid_loss.MAX_BLOCK = old


def test_cross_entropy_columns_is_cross_entropy_and_stable():
    g = torch.Generator().manual_seed(0)
    logits = (
        torch.randn(7, 3, 50, generator=g, dtype=torch.float64) * 30 + 500
    )  # C x G x n, large: needs the max shift
    y = torch.randint(0, 7, (50,), generator=g)
    got = cross_entropy_columns(logits, y)
    want = torch.stack([F.cross_entropy(logits[:, i].T, y) for i in range(3)])
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12) and torch.isfinite(got).all()


def test_batched_line_search_finds_the_minimum_and_stays_on_the_grid():
    calls = []

    def batch(gs):
        calls.append(len(gs))
        return [(g - 0.3) ** 2 + 1.0 for g in gs]

    res = line_search(batch_loss=batch)
    assert res.gamma == pytest.approx(0.3, rel=0.02) and res.loss_at_zero == pytest.approx(1.09)
    assert len(calls) == 3  # the grid (with gamma = 0), then two zoom rounds of 8
    assert calls == [1 + 23, 8, 8] and res.evaluations == 1 + 23 + 16
    # a minimum beyond the grid: the answer is the grid's top, never past it
    top = line_search(batch_loss=lambda gs: [-g for g in gs], high_exp=3, loss_at_zero=0.0)
    assert top.gamma == 8.0
    with pytest.raises(ValueError, match="exactly one of loss and batch_loss"):
        line_search()


def _growth(rate: float, backoff: int | None, steps: int) -> dict[int, int]:
    """Growth steps of a digits run (growth every 10 steps) -> neurons added at each."""
    options = {} if backoff is None else {"backoff": backoff}
    config = RunConfig(
        method="tiny",
        dataset="digits",
        hidden=[1, 1],
        steps=steps,
        batch_size=64,
        eval_every=10**6,
        method_options=options,
        knobs={"growth_every": 10, "growth_rate": rate, "tau": 1e-3, "lr": 3e-3},
    )
    history = History()
    Trainer(config, sink=history.add).run(steps)
    added: dict[int, int] = {}
    for r in history.rows.get("spectrum", []):
        added[r["step"]] = added.get(r["step"], 0) + r["accepted"]
    return added


def test_backoff_doubles_the_wait_after_a_growth_step_that_adds_nothing():
    """growth_rate 0 (no neuron allowed): waits of 10, 20, 40, 80, 80 steps with the default
    backoff 8; with backoff 1, every 10 steps (the schedule)."""
    assert sorted(_growth(0, None, 240)) == [10, 30, 70, 150, 230]
    assert sorted(_growth(0, 1, 60)) == [10, 20, 30, 40, 50]


def test_a_growth_step_that_adds_neurons_returns_to_the_schedule():
    """Oracle on a run that both adds and stops adding: the wait after a growth step is 10
    steps when it added a neuron, else twice the previous wait (at most 80)."""
    added = _growth(2, None, 400)
    steps = sorted(added)
    assert any(added.values()) and not all(added.values())
    wait, want = 1, [10]
    for s in steps[:-1]:
        wait = 1 if added[s] else min(2 * wait, 8)
        want.append(want[-1] + 10 * wait)
    assert steps == want


def test_growth_time_parts_cover_the_growth_step(tiny_growth_config):
    trainer = Trainer(tiny_growth_config)
    trainer.run(25)
    seconds = trainer.method.seconds
    assert set(seconds) == {"capture", "solve", "line_search", "surgery", "other"}
    assert all(v > 0 for v in seconds.values())


@pytest.mark.parametrize("d", [300, 785])
def test_second_moment_of_wide_inputs_is_the_plain_product(d):
    """Oracle: from SPLIT_FROM columns on, S skips the all-zero columns and computes the
    upper block triangle only; it must equal (1/n) B^T B (float64) with dead columns (blank
    pixels) at the start, inside and at the end, and keep a NaN column visible."""
    from kernels.tiny.bottleneck import SPLIT_FROM, live_moments, on_all_inputs, second_moment

    assert d >= SPLIT_FROM
    g = torch.Generator().manual_seed(d)
    b = torch.randn(97, d, generator=g, dtype=torch.float64)
    b[:, [0, 1, 7, d // 2, d - 2]] = 0.0
    b[:5, 3] = 0.0  # zero on part of the batch only: a live column
    want = b.T @ b / b.shape[0]
    got = second_moment(b)
    assert got.shape == (d, d) and torch.equal(got, got.T)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert (got[:, [0, 1, 7, d // 2, d - 2]] == 0).all()
    v = torch.randn(97, 4, generator=g, dtype=torch.float64)
    s_live, n_live, live = live_moments(b, v)
    assert live is not None and len(live) == d - 5
    assert torch.allclose(on_all_inputs(s_live, live, d, square=True), want, rtol=1e-12, atol=1e-12)
    assert torch.allclose(on_all_inputs(n_live, live, d), b.T @ v / 97, rtol=1e-12, atol=1e-12)
    b[4, 11] = math.nan
    assert torch.isnan(second_moment(b)[11]).any()


def test_growth_plan_on_the_live_inputs_equals_the_plan_on_all_inputs(monkeypatch):
    """A wide input (300 features, a third of them blank on the batch, as MNIST's border
    pixels): the plan from S and N on the live inputs equals the one from the plain
    products on all inputs (``SPLIT_FROM`` out of reach); the blank inputs get zero fan-ins."""
    import kernels.tiny.bottleneck as bottleneck
    from kernels.tiny.growth import plan_layer

    model, x, y = small_net(seed=7, hidden=(4, 3), d=300, n=400)
    x[:, ::3] = 0.0
    acts = capture(model, x, y)
    split = plan_layer(model, acts, 0, y, tau=0.0, cap=2)
    monkeypatch.setattr(bottleneck, "SPLIT_FROM", 10**9)
    plain = plan_layer(model, acts, 0, y, tau=0.0, cap=2)
    assert split.count == plain.count > 0 and split.gamma == plain.gamma
    assert torch.allclose(split.solution.eigenvalues, plain.solution.eigenvalues, rtol=1e-10)
    assert torch.allclose(split.fan_in, plain.fan_in, rtol=1e-8, atol=1e-12)
    assert torch.allclose(split.fan_out, plain.fan_out, rtol=1e-8, atol=1e-12)
    assert (split.fan_in[:, ::3] == 0).all()


def test_estimation_data_are_the_newest_rows_with_the_ones_column_and_capture_takes_them():
    """Oracle: the newest batches first, cut at n (torch.cat of the kept batches), the ones
    column appended, through the reused buffer (a larger, then a smaller, then a larger n);
    ``capture`` with that b0 gives the activities it computes from x alone."""
    from types import SimpleNamespace

    from kernels.methods.tiny import Tiny
    from kernels.tiny.network import GrowingMLP

    method = Tiny(max_estimation_batch=1000)
    g = torch.Generator().manual_seed(3)
    batches = [
        (torch.randn(k, 6, generator=g), torch.randint(0, 3, (k,), generator=g))
        for k in (7, 5, 9, 4)
    ]
    for x, y in batches:
        method.after_step(SimpleNamespace(x=x, y=y))  # type: ignore[arg-type]  # uses x, y
    newest_first_x = torch.cat([x for x, _ in reversed(batches)])
    newest_first_y = torch.cat([y for _, y in reversed(batches)])
    for n in (20, 6, 25, 13):
        x, y, b0 = method.estimation_data(n)
        assert torch.equal(x, newest_first_x[:n]) and torch.equal(y, newest_first_y[:n])
        assert torch.equal(b0, torch.cat([x, torch.ones(n, 1)], 1))
        assert x.data_ptr() == b0.data_ptr()  # x is b0's view: no second copy
    x, y, none = method.estimation_data(8, ones=False)
    assert none is None and torch.equal(x, newest_first_x[:8])
    model = GrowingMLP(6, [4, 3], 3, generator=g)
    x, y, b0 = method.estimation_data(25)
    plain, fused = capture(model, x, y), capture(model, x, y, b0=b0)
    for a, b in zip(plain, fused, strict=True):
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.pre, b.pre)
        assert torch.equal(a.v_goal, b.v_goal)
    with pytest.raises(ValueError, match="b0 must be x with the ones column"):
        capture(model, x, y, b0=x)


def test_factor_4_grid_keeps_its_top_and_finds_interior_minima():
    """line_search_factor 4 (grid_step 2): 12 grid points from 2^6 down (2^-16 included), the
    safety bound's top always on the grid, a minimum within 3.5% after the zoom rounds; in a
    growth step the same interior minima and cap hits as the factor-2 grid (the cases of
    tests/test_tiny.py::test_amplitude_grid_reaches_an_interior_minimum_and_records_cap_hits)."""
    from kernels.tiny.growth import plan_layer
    from tests.test_tiny import small_net

    calls: list[list[float]] = []

    def batch(gs):
        calls.append(list(gs))
        return [(g - 0.3) ** 2 + 1.0 for g in gs]

    res = line_search(batch_loss=batch, grid_step=2)
    assert [len(c) for c in calls] == [1 + 12, 8, 8]
    assert calls[0][1:] == [2.0**e for e in range(-16, 7, 2)]
    assert res.gamma == pytest.approx(0.3, rel=0.035)
    calls.clear()
    top = line_search(batch_loss=lambda gs: [-g for g in gs], high_exp=5, grid_step=2)
    assert top.gamma == 32.0  # odd span: the grid runs 2^5, 2^3, ..., 2^-15
    with pytest.raises(ValueError, match="grid_step must be >= 1"):
        line_search(batch_loss=batch, grid_step=0)
    kw = {"line_search_kw": {"grid_step": 2}}
    model, x, y = small_net(seed=2, hidden=(3, 3), train_steps=30)
    plan = plan_layer(model, capture(model, x, y), 0, y, tau=0.0, cap=2, **kw)
    assert 1.0 < plan.gamma < plan.gamma_max and not plan.gamma_capped
    assert plan.gamma0 > 1.0 and not plan.gamma0_capped
    model, x, y = small_net(seed=3, hidden=(3, 3), train_steps=30)
    acts = capture(model, x, y)
    capped = plan_layer(model, acts, 0, y, tau=0.0, cap=2, **kw)
    assert capped.gamma_capped and capped.gamma == capped.gamma_max == 16.0
    free = plan_layer(model, acts, 0, y, tau=0.0, cap=2, safety=1e6, **kw)
    assert not free.gamma_capped and free.gamma > 16.0 and free.loss_after < capped.loss_after


def test_scratch_copy_is_a_deep_copy_that_planning_and_surgery_leave_apart():
    """Oracle: copy.deepcopy. Same weights, ids, sizes; a plan on either copy is the same;
    surgery and weight moves on the copy leave the original alone; a net with anything else
    (an extra attribute, a hook) goes through deepcopy."""
    import copy

    from kernels import surgery
    from kernels.tiny.growth import plan_layer
    from kernels.tiny.network import scratch_copy

    model, x, y = small_net(seed=6, hidden=(4, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids, next_id = [u.copy() for u in model.unit_ids], model.ids.next_id
    fast, slow = scratch_copy(model), copy.deepcopy(model)
    assert type(fast) is type(slow) and fast.activation_name == slow.activation_name
    for (k, a), (_, b) in zip(fast.state_dict().items(), slow.state_dict().items(), strict=True):
        assert torch.equal(a, b) and a.dtype == b.dtype, k
    plans = [plan_layer(m, capture(m, x, y), 0, y, tau=0.0, cap=2) for m in (fast, slow)]
    assert plans[0].count == plans[1].count > 0
    assert torch.equal(plans[0].fan_in, plans[1].fan_in)
    assert torch.equal(plans[0].fan_out, plans[1].fan_out)
    with torch.no_grad():
        fast.linears[1].weight.add_(1.0)
    new_ids = surgery.grow(fast, 0, plans[0].fan_in, plans[0].fan_out, bias=plans[0].bias)
    assert fast.hidden_sizes == [6, 3] and model.hidden_sizes == [4, 3]
    assert list(new_ids) == [next_id, next_id + 1] and model.ids.next_id == next_id
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all((a == b).all() for a, b in zip(model.unit_ids, ids, strict=True))
    assert len(model.birth_step[0]) == 4
    model.note = "kept"  # an attribute scratch_copy does not know: deepcopy keeps it
    assert scratch_copy(model).note == "kept"
    del model.note
    handle = model.linears[0].register_forward_hook(lambda *a: None)
    assert len(scratch_copy(model).linears[0]._forward_hooks) == 1  # deepcopy path
    handle.remove()
