"""TINY's ``update_without_neurons`` option (paper 003 sec. 3.3: gamma_0 is chosen "when adding
neurons"): a layer where no neuron passes the threshold gets no gamma_0 dW* move and no search
(its L(f_theta) from the captured logits), against the old path (the move on every layer) on
the same captures; a layer whose neurons pass is planned bit for bit as before; one capture
serves a growth step while no planned move changed the network."""

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import kernels.methods.tiny as tiny_method
import kernels.tiny.growth as growth
from explorer.config import RunConfig
from explorer.history import History
from explorer.presets import TINY_RACE_OPTIONS
from explorer.trainer import Trainer
from kernels.methods.tiny_options import TinyOptions
from kernels.tiny import capture, plan_layer
from kernels.tiny.growth import captured_loss
from tests.test_tiny import small_net


def trained_net():
    """A small trained double-precision net (test_tiny's, seed 2, widths [3, 3], 30 steps)."""
    return small_net(seed=2, hidden=(3, 3), train_steps=30)


@pytest.fixture
def grid_points(monkeypatch):
    """The amplitudes every GridLoss of plan_layer is asked for, in one list."""
    asked: list[float] = []

    class Counted(growth.GridLoss):
        def __call__(self, gammas):
            asked.extend(float(g) for g in gammas)
            return super().__call__(gammas)

    monkeypatch.setattr(growth, "GridLoss", Counted)
    return asked


def test_option_defaults_and_the_race_presets_pin_the_measured_path():
    assert TinyOptions().update_without_neurons is False
    assert TINY_RACE_OPTIONS["update_without_neurons"] is True


@pytest.mark.parametrize("holdout", [False, True])
def test_a_layer_that_adds_no_neuron_gets_no_move_and_no_search(grid_points, holdout):
    model, x, y = trained_net()
    acts, scoring, xs, ys = capture(model, x, y), None, x, y
    if holdout:  # L and the searches on a second batch (the method's holdout_scoring)
        acts, scoring = (
            capture(model, x[:128], y[:128]),
            (capture(model, x[128:], y[128:]), y[128:]),
        )
        xs, ys, y = x[128:], y[128:], y[:128]
    # tau far above every lambda_k^2 L: no neuron passes on either path
    kw = dict(tau=1e6, cap=2, scoring=scoring)
    old = plan_layer(model, acts, 0, y, update_without_neurons=True, **kw)
    searched = len(grid_points)
    new = plan_layer(model, acts, 0, y, update_without_neurons=False, **kw)
    assert old.count == new.count == 0
    # the old path searched gamma_0 and moved W_1 by gamma_0 dW*
    assert old.update is not None and old.gamma0 > 0 and searched > 10
    # the same captures and solves
    assert torch.equal(old.solution.eigenvalues, new.solution.eigenvalues)
    assert old.bottleneck_before == new.bottleneck_before
    # no move, no search: L(f_theta) alone, from the captured logits (no grid point)
    assert new.update is None and new.gamma0 == 0.0 and new.fan_in.shape[0] == 0
    assert grid_points[searched:] == []
    with torch.no_grad():
        loss = float(F.cross_entropy(model(xs), ys))
    assert new.loss_before == new.loss_after == pytest.approx(loss, rel=1e-12)
    assert new.loss_before == pytest.approx(old.loss_before, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_captured_loss_is_the_networks_loss(dtype):
    model, x, y = trained_net()
    model, x = model.to(dtype), x.to(dtype)
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y))
    rel = 1e-6 if dtype == torch.float32 else 1e-12
    assert captured_loss(capture(model, x, y), y) == pytest.approx(loss, rel=rel)
    # another loss function is called on the row-major logits
    mse = captured_loss(capture(model, x, y), y, loss_fn=lambda z, t: z.square().mean())
    with torch.no_grad():
        assert mse == pytest.approx(float(model(x).square().mean()), rel=rel)


def test_a_layer_whose_neurons_pass_is_planned_as_before():
    model, x, y = trained_net()
    acts = capture(model, x, y)
    old = plan_layer(model, acts, 0, y, tau=0.0, cap=2, update_without_neurons=True)
    new = plan_layer(model, acts, 0, y, tau=0.0, cap=2, update_without_neurons=False)
    assert new.count == old.count == 2 and new.gamma0 > 0
    assert new.update is not None and old.update is not None
    assert torch.equal(new.update, old.update)
    for name in ("fan_in", "bias", "fan_out"):
        assert torch.equal(getattr(new, name), getattr(old, name)), name
    for name in ("gamma0", "gamma", "loss_before", "loss_after", "bottleneck_after"):
        assert getattr(new, name) == getattr(old, name), name


def run_digits(monkeypatch, options, growth_rate):
    """31 steps on digits from [6, 5], one growth step at step 30: the rows of its captures."""
    rows: list[int] = []
    real = tiny_method.capture

    def counted(model, x, y, *args, **kw):
        rows.append(len(y))
        return real(model, x, y, *args, **kw)

    monkeypatch.setattr(tiny_method, "capture", counted)
    config = RunConfig(
        method="tiny",
        dataset="digits",
        hidden=[6, 5],
        steps=31,
        batch_size=64,
        eval_every=1000,
        method_options=options,
        knobs={"growth_every": 30, "growth_rate": growth_rate, "tau": 1e-6, "lr": 3e-3},
    )
    history = History()
    trainer = Trainer(config, sink=history.add)
    trainer.run()
    return rows, history.rows["spectrum"]


def test_one_capture_serves_the_step_while_no_move_changed_the_network(monkeypatch):
    # growth rate 0, no neuron may pass: one capture of the largest batch (layer 0's, 2 x 800
    # rows with the holdout) serves both layers, and neither gets a gamma_0 move
    rows, spectra = run_digits(monkeypatch, {}, growth_rate=0)
    assert rows == [1600] and len(spectra) == 2
    assert all(r["accepted"] == 0 and r["gamma0"] == 0.0 for r in spectra)
    assert [r["scored_batch"] for r in spectra] == [316, 800]  # 100 sqrt(max(6, 10)), 100 sqrt(64)
    # the old path: a capture per layer, and the top layer's gamma_0 move changes the network
    rows, spectra = run_digits(monkeypatch, {"update_without_neurons": True}, growth_rate=0)
    assert rows == [632, 1600] and spectra[0]["gamma0"] > 0
    # neurons pass on the top layer: the network changes, layer 0 gets its own capture
    rows, spectra = run_digits(monkeypatch, {}, growth_rate=4)
    assert rows == [1600, 1600] and spectra[0]["accepted"] > 0
