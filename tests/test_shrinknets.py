"""ShrinkNets: switch layer, penalty (eq. 2/9), neuron killing (sec. 3.5.1), neural garbage
collection (sec. 3.5.2) and a short trainer run."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn import functional as F  # noqa: N812

from kernels.dynamic_mlp import DynamicMLP
from kernels.methods import StepContext, get_method
from kernels.methods.shrinknets import (
    ShrinkNets,
    kill_decisions,
    sign_change_bar,
    sign_variance_bar,
)
from kernels.switch import Switch


def knobs(**kw):
    base = dict(lam=1e-2, lam2=0.0, gamma=0.5, lr=1e-2)
    base.update(kw)
    return SimpleNamespace(**base)


def ctx_for(model, opt, step, kn, x=None, y=None):
    x = torch.randn(8, model.in_features) if x is None else x
    y = torch.zeros(8, dtype=torch.long) if y is None else y
    return StepContext(model, opt, kn, step, 0.0, x, y, 100, 10, torch.Generator())


# ---- switch layer -----------------------------------------------------------------------
def test_switch_multiplies_feature_dim():
    sw = Switch(3, torch.Generator().manual_seed(0))
    assert [n for n, _ in sw.named_parameters()] == ["switch"]
    x2, x4 = torch.randn(5, 3), torch.randn(5, 3, 4, 4)
    assert torch.allclose(sw(x2), x2 * sw.switch[None, :])
    assert torch.allclose(sw(x4), x4 * sw.switch[None, :, None, None])
    with pytest.raises(ValueError, match="accepted"):
        sw(torch.randn(5, 4))


def test_switch_init_is_standard_normal():
    s = Switch(20000, torch.Generator().manual_seed(1)).switch.detach()
    assert abs(float(s.mean())) < 0.03 and abs(float(s.std()) - 1.0) < 0.03


# ---- penalty ------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1, 2])
def test_regularize_matches_hand_computation(p):
    method = ShrinkNets(p=p)
    model = method.build(6, 3, [5, 4], generator=torch.Generator().manual_seed(0))
    lam, lam2 = 0.03, 0.002
    sw = np.concatenate([model.post[i][0].switch.detach().numpy() for i in range(2)])
    ws = [lin.weight.detach().numpy() for lin in model.linears]
    expected = lam * np.abs(sw).sum() + lam2 * sum((np.abs(w) ** p).sum() for w in ws)
    value = method.regularize(model, knobs(lam=lam, lam2=lam2))
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    s0 = model.post[0][0].switch
    assert torch.allclose(s0.grad, lam * torch.sign(s0.detach()))
    w = model.linears[1].weight
    grad_w = lam2 * (2 * w.detach() if p == 2 else torch.sign(w.detach()))
    assert torch.allclose(w.grad, grad_w)
    assert model.linears[0].bias.grad is None  # biases are not penalised


# ---- kill strategies ---------------------------------------------------------------------
def signs_of(*rows):
    return torch.tensor(rows, dtype=torch.int8)


def test_threshold_kills_small_switches():
    s = torch.tensor([0.001, 0.5, -0.02, -0.06])
    empty = torch.zeros(4, 4, dtype=torch.int8)
    kill = kill_decisions("threshold", 0.5, s, empty, torch.zeros(4), threshold=0.1)
    assert kill.tolist() == [True, False, True, False]  # |s| <= 0.05
    assert not kill_decisions("threshold", 0.0, s, empty, torch.zeros(4), 0.1).any()


def test_sign_change_counts_flips():
    w = 10
    alternating = [1, -1] * 5  # 9 changes
    once = [1] * 5 + [-1] * 5  # 1 change
    never = [1] * 10
    signs, counts = signs_of(alternating, once, never), torch.full((3,), w)
    s = torch.ones(3)

    def kills(gamma):
        return kill_decisions("sign_change", gamma, s, signs, counts, 0.1).tolist()

    assert kills(1.0) == [True, True, False]
    assert sign_change_bar(0.5, w) == 5
    assert kills(0.5) == [True, False, False]
    assert kills(0.05) == [True, False, False]
    assert not kill_decisions("sign_change", 0.0, s, signs, counts, 0.1).any()


def test_sign_variance_needs_full_window_and_bar():
    balanced = [1, -1, 1, -1, 1, -1, 1, -1]  # variance 1
    one_minority = [1] * 7 + [-1]  # variance 4*7/64 = v_min
    constant = [-1] * 8  # variance 0
    partial = [0, 0, 0, 0, 1, -1, 1, -1]  # balanced but only 4 records
    signs = signs_of(balanced, one_minority, constant, partial)
    counts = torch.tensor([8, 8, 8, 4])
    s = torch.ones(4)
    assert sign_variance_bar(1.0, 8) == pytest.approx(4 * 7 / 64)
    assert kill_decisions("sign_variance", 1.0, s, signs, counts, 0.1).tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert kill_decisions("sign_variance", 0.3, s, signs, counts, 0.1).tolist() == [
        True,
        False,
        False,
        False,
    ]
    assert not kill_decisions("sign_variance", 0.0, s, signs, counts, 0.1).any()


def first_kill_steps(kill, gamma, trajectories, window=6):
    """Drive a masked ShrinkNets with given switch histories; step at which each unit died."""
    n, steps = trajectories.shape
    method = ShrinkNets(kill=kill, collect=False, window=window, threshold=0.3)
    model = method.build(3, 2, [n], generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    switch = model.post[0][0].switch
    died = {}
    for t in range(steps):
        with torch.no_grad():
            live = switch != 0
            switch[live] = trajectories[live, t]
        ctx = ctx_for(model, opt, t, knobs(gamma=gamma))
        method.after_step(ctx)
        for e in method.apply(ctx, method.propose(ctx)):
            died[e["unit_id"]] = t
    return np.array([died.get(int(u), steps) for u in model.unit_ids[0]])


@pytest.mark.parametrize("kill", ["threshold", "sign_change", "sign_variance"])
def test_higher_gamma_kills_no_later(kill):
    g = torch.Generator().manual_seed(3)
    walks = 0.2 * torch.randn(12, 60, generator=g).cumsum(1) + 0.4 * torch.randn(12, 1, generator=g)
    walks[-1] = 5.0  # one unit that never looks dead, so min_units never spares anyone
    previous = None
    for gamma in [0.0, 0.2, 0.5, 0.8, 1.0]:
        steps = first_kill_steps(kill, gamma, walks)
        assert steps[-1] == 60
        if gamma == 0.0:
            assert (steps == 60).all()
        if previous is not None:
            assert (steps <= previous).all(), (gamma, steps, previous)
        previous = steps
    assert (previous < 60).sum() >= 3  # gamma = 1 kills something


def test_min_units_spares_largest_switch():
    method = ShrinkNets(kill="threshold", threshold=1.0, warmup=0, min_units=2)
    model = method.build(3, 2, [4], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.post[0][0].switch.copy_(torch.tensor([0.1, -0.3, 0.2, 0.05]))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    ctx = ctx_for(model, opt, 0, knobs(gamma=1.0))
    method.after_step(ctx)
    method.apply(ctx, method.propose(ctx))
    assert model.post[0][0].switch.detach().tolist() == pytest.approx([-0.3, 0.2])


# ---- garbage collection ------------------------------------------------------------------
def test_killed_units_are_collected_with_optimizer_state():
    method = ShrinkNets(kill="threshold", threshold=0.2, warmup=0)
    model = method.build(6, 3, [5, 4], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs())
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    F.cross_entropy(model(x), y).backward()
    opt.step()
    with torch.no_grad():
        model.post[0][0].switch[[1, 3]] = torch.tensor([0.05, -0.1])
        model.post[1][0].switch[2] = 0.0
        model.post[1][0].switch[[0, 1, 3]] = 1.0
        model.post[0][0].switch[[0, 2, 4]] = 1.0
    ids0, ids1 = model.unit_ids[0].copy(), model.unit_ids[1].copy()
    ctx = ctx_for(model, opt, 5, knobs(gamma=1.0), x, y)
    method.after_step(ctx)  # kills layer-0 units 1 and 3 (|s| <= 0.2)
    model.eval()
    with torch.no_grad():  # a live autograd graph would pin the old shapes
        before = model(x)
    proposal = method.propose(ctx)
    causes = {(r.layer, r.cause): r.positions.tolist() for r in proposal.removals}
    assert causes == {
        (0, "killed: switch below threshold"): [1, 3],
        (1, "switch reached zero"): [2],
    }
    events = method.apply(ctx, proposal)
    assert model.hidden_sizes == [3, 3]
    assert sorted(e["unit_id"] for e in events) == sorted([ids0[1], ids0[3], ids1[2]])
    with torch.no_grad():
        assert torch.allclose(model(x), before, atol=1e-6)
    for p in model.parameters():
        for v in opt.state[p].values():
            if v.ndim:
                assert v.shape == p.shape
    # the sign windows follow the surviving unit ids
    rec = method.switch_record(model, 6)
    assert rec["unit_id"].tolist() == np.concatenate(model.unit_ids).tolist()
    assert method._windows[0].ids.tolist() == model.unit_ids[0].tolist()
    model.train()
    F.cross_entropy(model(x), y).backward()
    opt.step()  # training goes on after the surgery


def test_collect_false_keeps_dead_units_masked():
    method = ShrinkNets(kill="threshold", threshold=0.2, warmup=0, collect=False)
    model = method.build(6, 3, [5], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs())
    switch = model.post[0][0].switch
    with torch.no_grad():
        switch.copy_(torch.tensor([1.0, 0.1, -1.0, 1.5, 2.0]))
    g = torch.Generator().manual_seed(1)
    died = []
    for step in range(5):
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        ctx = ctx_for(model, opt, step, knobs(gamma=1.0, lr=0.1), x, y)
        loss = F.cross_entropy(model(x), y) + method.regularize(model, ctx.knobs)
        opt.zero_grad()
        loss.backward()
        method.configure(opt, ctx.knobs, ctx)
        if step > 0:
            assert switch.grad[1] == 0.0
        opt.step()
        method.after_step(ctx)
        died += method.apply(ctx, method.propose(ctx))
    assert model.hidden_sizes == [5]
    assert switch[1].item() == 0.0 and (switch[[0, 2, 3, 4]] != 0).all()
    assert [e["cause"] for e in died] == ["killed: switch below threshold (masked)"]
    rec = method.records(ctx_for(model, opt, 9, knobs()))[0]
    assert rec["live"].tolist() == [True, False, True, True, True]


def test_state_dict_round_trip():
    method = ShrinkNets(window=4)
    model = method.build(6, 3, [5], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs())
    for step in range(3):
        method.after_step(ctx_for(model, opt, step, knobs()))
    other = ShrinkNets(window=4)
    other.load_state_dict(method.state_dict())
    assert torch.equal(other._windows[0].signs, method._windows[0].signs)
    assert other._windows[0].counts.tolist() == [3] * 5


def test_bad_options_name_what_is_accepted():
    with pytest.raises(ValueError, match="threshold, sign_change, sign_variance"):
        ShrinkNets(kill="median")
    with pytest.raises(ValueError, match="mlp, cnn, auto"):
        ShrinkNets(network="rnn")
    with pytest.raises(ValueError, match="image shape"):
        ShrinkNets(network="cnn").build(64, 10, [8])
    assert get_method("shrinknets") is ShrinkNets
    assert isinstance(ShrinkNets().build(4, 2, [3]), DynamicMLP)


# ---- the trainer ---------------------------------------------------------------------------
@pytest.mark.parametrize("network", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])
def test_trainer_run_on_digits_shrinks_with_large_lambda(network):
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.trainer import Trainer

    history = History()
    config = RunConfig(
        method="shrinknets",
        dataset="digits",
        hidden=[16, 16],
        steps=120,
        eval_every=60,
        knobs=dict(lam=0.05, lam2=1e-4, lr=1e-2, gamma=0.5),
        method_options=dict(network=network, channels=[6]),
    )
    trainer = Trainer(config, sink=history.add)
    trainer.run()
    sizes = trainer.model.hidden_sizes
    assert sum(sizes) < sum([6, 16, 16] if network == "cnn" else [16, 16])
    assert trainer.summary()["test_acc"] > 0.3
    deaths = [e for e in history.rows["event"] if e["event"] == "died"]
    assert deaths and all(e["cause"].startswith(("killed", "switch")) for e in deaths)
    rec = history.rows["switch"][-1]
    assert len(rec["unit_id"]) == sum(sizes) and rec["value"].dtype == np.float32
    if network == "mlp":  # sec. 4.4: cost = input neurons (64 pixels + hidden) summed over steps
        steps = history.rows["step"]
        assert steps[-1]["cost"] == sum(64 + sum(s["sizes"]) for s in steps)


def test_history_keeps_switch_records_per_unit():
    from explorer.history import History

    history = History(max_tables=4)
    for step in range(6):
        history.add(
            {
                "kind": "switch",
                "step": step,
                "layer": np.array([0, 0, 1]),
                "unit_id": np.array([0, 1, 2]),
                "value": np.array([0.5, -1.0, 0.0], dtype=np.float32),
                "input_neurons": 70,
            }
        )
    cols = history.columns("switch")
    assert len(history.rows["switch"]) <= 4
    n = len(history.rows["switch"])
    assert cols["unit_id"].tolist() == [0, 1, 2] * n
    assert (
        cols["step"].tolist() == np.repeat([r["step"] for r in history.rows["switch"]], 3).tolist()
    )
    assert cols["value"].dtype == np.float32 and cols["input_neurons"].tolist() == [70] * 3 * n
