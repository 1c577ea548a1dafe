"""The nonparametric method's pieces: growth counts, proximal removal, the protocol."""

from types import SimpleNamespace

import numpy as np
import torch

from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from kernels.methods.nonparametric import Nonparametric

#: explorer.data.registry: MNIST-1D's declared lifetime (the paper's mnist value)
MNIST1D_LIFETIME = 50.0


def test_fractional_growth_rate_draws_poisson():
    g = torch.Generator().manual_seed(0)
    draws = [Nonparametric._draw_count(0.5, g) for _ in range(4000)]
    assert abs(np.mean(draws) - 0.5) < 0.05
    assert abs(np.var(draws) - 0.5) < 0.06  # Poisson: variance = mean
    assert Nonparametric._draw_count(3.0, g) == 3
    assert Nonparametric._draw_count(0.0, g) == 0


def test_adam_with_proximal_step_zeroes_whole_fan_ins_and_removes_them():
    history = History()
    cfg = RunConfig(
        hidden=[12, 12],
        steps=60,
        device="cpu",
        eval_every=1000,
        method_options={"optimizer": "adam", "capnorm": False},
        knobs={"lam": 1.0, "lr": 0.02, "growth_rate": 0},
    )
    trainer = Trainer(cfg, sink=history.add)
    trainer.run()
    died = [e for e in history.rows.get("event", []) if e["event"] == "died"]
    assert died, "a strong lambda must shrink some fan-ins to exactly zero"
    assert sum(trainer.model.hidden_sizes) == 24 - len(died)
    # zero fan-ins are removed in the step they appear; only a layer's last unit may stay
    for layer in range(2):
        zeros = int((trainer.model.fan_in_norm(layer) == 0).sum())
        assert zeros == 0 or trainer.model.hidden_sizes[layer] == 1


def test_growth_adds_zero_fan_out_units_every_growth_step():
    history = History()
    cfg = RunConfig(
        hidden=[4, 4],
        steps=20,
        device="cpu",
        eval_every=1000,
        knobs={"lam": 0.0, "growth_rate": 2, "growth_every": 5},
    )
    trainer = Trainer(cfg, sink=history.add)
    trainer.run()
    born = [e for e in history.rows["event"] if e["event"] == "born"]
    # growth at steps 5, 10, 15 (the step counter before the increment), 2 units per layer
    assert sorted({e["step"] for e in born}) == [5, 10, 15]
    assert trainer.model.hidden_sizes == [10, 10]
    assert all(e["cause"] == "added at random (growth rate)" for e in born)


def _ctx(method, model, opt, knobs, vals, epoch, step=0, errors=None):
    return SimpleNamespace(
        val_history=list(vals),
        val_error_history=list(vals if errors is None else errors),
        step=step,
        epoch=epoch,
        optimizer=opt,
        knobs=knobs,
        model=model,
        steps_per_epoch=10,
    )


def test_protocol_follows_sec_7_4():
    """grow -> (plateau P, rewind) drain -> (no death and plateau for P, rewind) settle ->
    (plateau P, rewind, /3) anneal -> (plateau P/20, rewind, /3 again) -> done once a round
    leaves validation unchanged. P = one unit lifetime = 1/(alpha_r lambda) = 10 epochs here
    (option patience=10); the default P is two lifetimes (7.4.1: 100 for 50; 7.4.2: 10 for 5)
    and a patience shorter than one lifetime is raised to it."""
    knobs = SimpleNamespace(lam=0.1, radial_lr=1.0, angular_lr=3.0, lr=1e-3)
    assert Nonparametric().protocol, "the protocol is on by default"
    assert Nonparametric(protocol=True).patience_epochs(knobs, 10) == 20.0
    assert Nonparametric(protocol=True, patience=3.0).patience_epochs(knobs, 10) == 10.0
    method = Nonparametric(protocol=True, patience=10.0)
    assert method.patience_epochs(knobs, 10) == 10.0
    model = method.build(4, 3, [5, 5], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs)
    vals: list[float] = []

    def see(val, epoch):
        vals.append(val)
        method._advance_protocol(_ctx(method, model, opt, knobs, vals, epoch))
        return method.phase

    w0 = model.linears[0].weight.detach().clone()
    assert see(1.0, 0.0) == "grow"  # best so far: checkpoint
    with torch.no_grad():
        model.linears[0].weight.add_(1.0)
    assert see(1.0, 5.0) == "grow"
    assert see(1.0, 9.9) == "grow"  # 9.9 epochs < P
    assert see(1.0, 10.0) == "drain"
    assert torch.equal(model.linears[0].weight, w0), "the phase change rewinds to the best"
    # drain: a death restarts the window; the phase ends only after P epochs without deaths
    method._on_death(_ctx(method, model, opt, knobs, vals, 12.0))
    assert see(1.1, 13.0) == "drain"  # the first value after the death is the window's best
    assert see(1.1, 22.5) == "drain"  # 9.5 epochs since the best
    assert see(1.1, 23.0) == "settle"
    assert method.effective_lam(knobs) == 0.0
    assert see(1.1, 33.0) == "anneal"
    assert method._anneal == 1.0 / 3.0
    assert see(1.0, 33.2) == "anneal"  # improves within the round (patience P/20 = 0.5)
    assert see(1.0, 33.8) == "anneal"
    assert abs(method._anneal - 1.0 / 9.0) < 1e-15
    assert see(1.0, 34.4) == "done"  # a round without change: annealing stops
    assert abs(method._anneal - 1.0 / 9.0) < 1e-15
    recs = method.records(None)
    assert [r["phase"] for r in recs] == ["drain", "settle", "anneal", "anneal", "done"]
    state = method.state_dict()
    other = Nonparametric(protocol=True, patience=10.0)
    other.load_state_dict(state)
    assert other.phase == method.phase and other.state_dict() == state


def test_rewind_restores_structure_weights_and_adarad_state():
    from kernels import surgery
    from kernels.methods.nonparametric import restore_checkpoint, take_checkpoint

    method = Nonparametric(optimizer="adarad-m")
    knobs = SimpleNamespace(lam=0.01, radial_lr=1.0, angular_lr=3.0, lr=1e-3)
    model = method.build(4, 3, [5, 5], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    ck = take_checkpoint(model, opt, 0.5)
    weights = [p.detach().clone() for p in model.parameters()]
    phi = [opt.state[p]["phi_avg"].clone() for p in model.parameters()]
    ids = [a.copy() for a in model.unit_ids]
    surgery.prune(model, 0, [1, 3], opt)
    surgery.grow(model, 1, torch.randn(2, 3), None, opt)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    restore_checkpoint(model, opt, ck)
    assert model.hidden_sizes == [5, 5]
    assert all(np.array_equal(a, b) for a, b in zip(model.unit_ids, ids, strict=True))
    for p, w, f in zip(model.parameters(), weights, phi, strict=True):
        assert torch.equal(p, w) and torch.equal(opt.state[p]["phi_avg"], f)
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()  # the restored state fits the restored shapes


def test_adarad_refuses_what_the_algorithm_does_not_define():
    import pytest

    from kernels.methods.base import OptionError

    for bad in ({"p": 1}, {"regularizer": "fan_out"}, {"optimizer": "adarad-m", "p": 1}):
        with pytest.raises(OptionError, match="fan-in l2 regularizer only.*accepted with it"):
            Nonparametric(**bad)
    Nonparametric(optimizer="adam", p=1, regularizer="fan_out")  # the prox step handles it


def test_fan_out_growth_with_two_hidden_layers():
    """The fan-out of a new unit of layer 0 is built when it is applied, after layer 1 grew
    (it was sized at propose time and crashed: "fan_out must have shape (11, 1)")."""
    history = History()
    cfg = RunConfig(
        hidden=[10, 10],
        steps=7,
        device="cpu",
        eval_every=1000,
        method_options={"optimizer": "adam", "regularizer": "fan_out"},
        knobs={"lam": 1e-4, "growth_rate": 1, "growth_every": 3},
    )
    trainer = Trainer(cfg, sink=history.add)
    trainer.run()
    assert trainer.model.hidden_sizes == [12, 12]
    # new units: zero fan-in, random fan-out of expected length 1 over the layer above
    assert float(trainer.model.fan_in_norm(0)[-1]) == 0.0
    assert 0.2 < float(trainer.model.fan_out_norm(0)[-1]) < 3.0
    assert trainer.model.linears[1].weight.shape == (12, 12)


def test_radial_auto_follows_lambda_live():
    from kernels.methods.nonparametric import unit_lifetime_epochs

    method = Nonparametric()
    knobs = SimpleNamespace(lam=1e-3, radial_lr=7.0, radial_auto=True, angular_lr=3.0, lr=1e-3)
    model = method.build(4, 3, [5], generator=torch.Generator().manual_seed(0))
    opt = method.make_optimizer(model, knobs)
    ctx = SimpleNamespace(y=torch.zeros(10), n_train=100)
    method.configure(opt, knobs, ctx)
    assert opt.param_groups[0]["radial_lr"] == 1.0 / (5 * 1e-3)
    knobs.lam = 4e-3  # the slider moves: alpha_r follows, the lifetime stays 5 epochs
    method.configure(opt, knobs, ctx)
    assert abs(opt.param_groups[0]["radial_lr"] - 1.0 / (5 * 4e-3)) < 1e-12
    assert abs(method.lifetime_epochs(knobs, 10) - 5.0) < 1e-9
    knobs.radial_auto = False
    method.configure(opt, knobs, ctx)
    assert opt.param_groups[0]["radial_lr"] == 7.0
    assert abs(unit_lifetime_epochs(7.0, 4e-3) - 1 / 0.028) < 1e-12
    from explorer.knobs import Knobs

    k = Knobs(lam=2e-3)
    assert k.radial_auto and abs(k.unit_lifetime_epochs() - 5.0) < 1e-9


def test_fan_in_init_statistics_are_table_3():
    """W(i, j) ~ N(0, 1/sqrt(d)) (Table 3, std 1/sqrt(d)): fan-ins of expected squared length
    1 at any width d, for the initial net and for units added by growth."""
    from kernels.dynamic_mlp import init_fan_in

    g = torch.Generator().manual_seed(0)
    for d in (4, 64, 400):
        w = init_fan_in(4000, d, g).double()
        assert abs(float((w**2).sum(1).mean()) - 1.0) < 0.05
        assert abs(float(w.std()) * d**0.5 - 1.0) < 0.03
        assert abs(float(w.mean())) < 3.0 / (4000 * d) ** 0.5 * 3
    model = Nonparametric().build(400, 3, [300, 300], generator=g)
    for lin in model.linears:
        assert abs(float((lin.weight.detach().double() ** 2).sum(1).mean()) - 1.0) < 0.1
    add = Nonparametric()._new_units(model, 1, 500, g)
    assert abs(float((add.fan_in.double() ** 2).sum(1).mean()) - 1.0) < 0.05


def test_protocol_watches_the_validation_error_by_default():
    """Sec. 4 / 7.4.1: the protocol's plateaus are those of the validation classification
    error (VCE); ``criterion=loss`` watches the cross-entropy instead. Here the loss keeps
    rising (over-confident errors) while the error keeps falling: the error protocol stays in
    its growth phase, the loss protocol leaves it after P = 10 epochs."""
    knobs = SimpleNamespace(lam=0.1, radial_lr=1.0, angular_lr=3.0, lr=1e-3)
    losses = [1.0 + 0.1 * i for i in range(12)]
    errors = [0.5 - 0.01 * i for i in range(12)]
    phases = {}
    for criterion in ("error", "loss"):
        method = Nonparametric(patience=10.0, criterion=criterion)
        model = method.build(4, 3, [5], generator=torch.Generator().manual_seed(0))
        opt = method.make_optimizer(model, knobs)
        for i in range(12):
            ctx = _ctx(method, model, opt, knobs, losses[: i + 1], 1.0 * i, errors=errors[: i + 1])
            method._advance_protocol(ctx)
        phases[criterion] = method.phase
    assert Nonparametric().criterion == "error"
    assert phases == {"error": "grow", "loss": "drain"}


def test_a_data_set_declares_its_table_3_lifetime():
    """Table 3 sets alpha_r per data set (1/(50 lambda) for mnist, rectangles, convex; 1/(5
    lambda) for poker): a registry entry declares ``paper_lifetime_epochs``, a run that does
    not set the ``lifetime`` option takes it, and alpha_r = 1/(lifetime lambda); a set that
    declares none (teacher, digits, a file) keeps the method's 5 epochs."""
    from explorer.config import method_options_for
    from explorer.data.registry import DATASETS
    from kernels.methods.nonparametric_options import LIFETIME_EPOCHS

    declared = {name: spec.paper_lifetime_epochs for name, spec in DATASETS.items()}
    assert declared["mnist1d"] == MNIST1D_LIFETIME
    assert declared["mnist"] == declared["rectangles"] == declared["convex"] == 50.0
    assert declared["teacher"] is None and declared["digits"] is None
    opts = method_options_for(RunConfig(dataset="mnist1d"))
    assert opts == {"lifetime": MNIST1D_LIFETIME}
    assert method_options_for(RunConfig(dataset="teacher")) == {}
    assert method_options_for(RunConfig(dataset="x.npz")) == {}
    mine = RunConfig(dataset="mnist1d", method_options={"lifetime": 7.0})
    assert method_options_for(mine) == {"lifetime": 7.0}, "the config's option wins"
    assert method_options_for(RunConfig(method="static", dataset="mnist1d")) == {}
    knobs = SimpleNamespace(lam=2e-3, radial_lr=7.0, radial_auto=True, angular_lr=3.0, lr=1e-3)
    for options, life in (({**opts}, MNIST1D_LIFETIME), ({}, LIFETIME_EPOCHS)):
        method = Nonparametric(**options)
        model = method.build(4, 3, [5], generator=torch.Generator().manual_seed(0))
        opt = method.make_optimizer(model, knobs)
        assert abs(opt.param_groups[0]["radial_lr"] - 1.0 / (life * 2e-3)) < 1e-9
        method.configure(opt, knobs, SimpleNamespace(y=torch.zeros(10), n_train=100))
        assert abs(opt.param_groups[0]["radial_lr"] - 1.0 / (life * 2e-3)) < 1e-9
        assert abs(method.lifetime_epochs(knobs, 10) - life) < 1e-9
        assert method.patience_epochs(knobs, 10) == 2 * life
    trainer = Trainer(RunConfig(dataset="mnist1d", steps=1, device="cpu"))
    assert trainer.method.lifetime == MNIST1D_LIFETIME


def test_a_state_from_before_the_error_history_resumes():
    """The trainer keeps the validation error (1 - accuracy) beside the loss at every
    evaluation; a saved state without it (written before it existed) resumes with an empty
    one, and the protocol then waits for the next evaluation instead of failing."""
    from explorer.trainer_state import capture_state, load_state

    cfg = RunConfig(hidden=[4, 4], steps=6, eval_every=2, device="cpu")
    trainer = Trainer(cfg)
    trainer.run()
    _, acc = trainer.evaluate("val")
    assert len(trainer.val_error_history) == len(trainer.val_history) == 3
    assert abs(trainer.val_error_history[-1] - (1 - acc)) < 1e-12
    state = capture_state(trainer)
    del state["val_error_history"]
    other = Trainer(cfg)
    load_state(other, state)
    assert other.val_error_history == []
    for _ in range(4):
        other.step()
    assert len(other.val_error_history) == len(other.val_history) - 3 >= 1
    assert other.method.phase == "grow"
