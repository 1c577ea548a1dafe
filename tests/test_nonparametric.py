"""The nonparametric method's pieces: growth counts, proximal removal, the protocol."""

from types import SimpleNamespace

import numpy as np
import torch

from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from kernels.methods.nonparametric import Nonparametric


def test_fractional_growth_rate_draws_poisson():
    g = torch.Generator().manual_seed(0)
    draws = [Nonparametric._draw_count(0.5, g) for _ in range(4000)]
    assert abs(np.mean(draws) - 0.5) < 0.05
    assert abs(np.var(draws) - 0.5) < 0.06   # Poisson: variance = mean
    assert Nonparametric._draw_count(3.0, g) == 3
    assert Nonparametric._draw_count(0.0, g) == 0


def test_adam_with_proximal_step_zeroes_whole_fan_ins_and_removes_them():
    history = History()
    cfg = RunConfig(hidden=[12, 12], steps=60, device="cpu", eval_every=1000,
                    method_options={"optimizer": "adam", "capnorm": False},
                    knobs={"lam": 1.0, "lr": 0.02, "growth_rate": 0})
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
    cfg = RunConfig(hidden=[4, 4], steps=20, device="cpu", eval_every=1000,
                    knobs={"lam": 0.0, "growth_rate": 2, "growth_every": 5})
    trainer = Trainer(cfg, sink=history.add)
    trainer.run()
    born = [e for e in history.rows["event"] if e["event"] == "born"]
    # growth at steps 5, 10, 15 (the step counter before the increment), 2 units per layer
    assert sorted({e["step"] for e in born}) == [5, 10, 15]
    assert trainer.model.hidden_sizes == [10, 10]
    assert all(e["cause"] == "added at random (growth rate)" for e in born)


def test_protocol_moves_through_its_phases_on_plateaus():
    method = Nonparametric(protocol=True, patience=2)
    knobs = SimpleNamespace(lam=1e-3, angular_lr=3.0)
    vals = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    phases = []
    for i in range(1, len(vals) + 1):
        ctx = SimpleNamespace(val_history=vals[:i], step=i, optimizer=None, knobs=knobs)
        method._advance_protocol(ctx)
        phases.append(method.phase)
    assert phases[:4] == ["grow", "grow", "grow", "drain"]
    assert "settle" in phases and "anneal" in phases
    assert method.effective_lam(knobs) == 0.0
    recs = method.records(None)
    assert [r["phase"] for r in recs][:3] == ["drain", "settle", "anneal"]
    state = method.state_dict()
    other = Nonparametric(protocol=True)
    other.load_state_dict(state)
    assert other.phase == method.phase and other.state_dict() == state
