"""The 'tiny' sizing method in the trainer and the CLI: growth schedule, spectrum records,
unit events and ids, options."""

import math

import numpy as np
import pytest

from explorer.cli import main
from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from kernels.methods import get_method

SPECTRUM_FIELDS = {
    "kind",
    "step",
    "layer",
    "eigenvalues",
    "accepted",
    "tau",
    "tau_mode",
    "bottleneck_before",
    "bottleneck_after",
    "unit_ids",
    "solve_seconds",
    "route",
    "line_search_seconds",
    "capture_seconds",
    "gamma0",
    "gamma",
    "loss_before",
    "loss_after",
    "batch",
    "scored_batch",
    "neurons",
}


def run(steps=41, hidden=(1, 1), options=None, **knobs):
    knobs = {"growth_every": 20, "growth_rate": 4, "tau": 1e-6, "lr": 3e-3, **knobs}
    config = RunConfig(
        method="tiny",
        dataset="digits",
        hidden=list(hidden),
        steps=steps,
        batch_size=64,
        eval_every=1000,
        method_options=options or {},
        knobs=knobs,
    )
    history = History()
    trainer = Trainer(config, sink=history.add)
    trainer.run()
    return trainer, history.rows


def test_grows_from_one_unit_per_layer_with_spectrum_records_and_events():
    trainer, rows = run(options={"ridge": 0.0})  # the exact problem: (10) holds to rounding
    spectra, events = rows["spectrum"], rows["event"]
    assert len(spectra) == 4  # 2 growth steps x 2 hidden layers
    assert trainer.model.hidden_sizes[0] > 1 and trainer.model.hidden_sizes[1] > 1
    born = {}
    for e in events:
        assert e["event"] == "born" and e["cause"] == "added by eigen-solve"
        born.setdefault((e["step"], e["layer"]), []).append(e)
    for rec in spectra:
        assert set(rec) >= SPECTRUM_FIELDS
        lam = rec["eigenvalues"]
        assert isinstance(lam, np.ndarray) and np.all(np.diff(lam) <= 1e-12)
        assert 0 <= rec["accepted"] <= 4 and rec["route"] in ("cholesky", "psd", "lobpcg")
        assert rec["bottleneck_after"] <= rec["bottleneck_before"] + 1e-9
        assert rec["bottleneck_after"] == pytest.approx(
            rec["bottleneck_before"] - float((lam[: rec["accepted"]] ** 2).sum()),
            rel=1e-4,
            abs=1e-6,
        )
        assert rec["loss_after"] <= rec["loss_before"]
        mine = born.get((rec["step"], rec["layer"]), [])
        assert rec["unit_ids"] == [e["unit_id"] for e in mine]
        assert [e["lambda_k"] for e in mine] == pytest.approx(
            lam[: rec["accepted"]].tolist(), rel=1e-5
        )
    # every live unit id is unique and the born ones are in the network
    live = np.concatenate(trainer.model.unit_ids)
    assert len(set(live.tolist())) == len(live)
    assert {e["unit_id"] for e in events} <= set(live.tolist())
    steps = rows["step"]
    assert steps[-1]["sizes"] == trainer.model.hidden_sizes


def test_threshold_and_growth_rate_limit_the_additions():
    _, rows = run(steps=21, tau=1.0, options={"tau_mode": "relative"})
    assert all(r["accepted"] == 0 for r in rows["spectrum"]) and "event" not in rows
    trainer, rows = run(steps=21, growth_rate=1.4, tau=0.0)
    # round(1.4) = 1 neuron per layer passes tau = 0; it is added unless no amplitude of it
    # lowers the loss (then it is rejected, with the reason recorded)
    spectra = sorted(rows["spectrum"], key=lambda r: r["layer"])
    assert all(r["accepted"] + r["rejected"] == 1 for r in spectra)
    assert trainer.model.hidden_sizes == [1 + r["accepted"] for r in spectra]
    assert all(r["bottleneck_after"] < r["bottleneck_before"] for r in spectra if r["accepted"])
    assert all(r["reject_reason"].startswith("best amplitude") for r in spectra if r["rejected"])
    _, rows = run(steps=21, tau=0.5, growth_rate=64, options={"tau_mode": "relative"})
    for r in rows["spectrum"]:
        assert r["accepted"] + r["rejected"] == int(
            (r["eigenvalues"] ** 2 > 0.5 * r["eigenvalues"][0] ** 2).sum()
        )


def test_rank_cap_adds_every_neuron_past_tau_and_growth_stops_after_max_steps():
    # neuron_cap=rank (the paper's K* = R): growth_rate 1 no longer caps the additions
    trainer, rows = run(
        steps=61,
        growth_every=10,
        growth_rate=1,
        tau=1e-8,
        options={"neuron_cap": "rank", "max_growth_steps": 3, "update_ridge": 1e-3},
    )
    spectra = rows["spectrum"]
    assert sorted({r["step"] for r in spectra}) == [10, 20, 30]  # then no more growth steps
    assert trainer.method.growth_steps == 3
    for r in spectra:
        passed = int((r["eigenvalues"] ** 2 * r["loss_before"] > 1e-8).sum())
        assert r["accepted"] + r["rejected"] == passed
    assert max(r["accepted"] for r in spectra) > 1
    assert trainer.model.hidden_sizes == [
        1 + sum(r["accepted"] for r in spectra if r["layer"] == layer) for layer in (0, 1)
    ]


@pytest.mark.parametrize("on_reject", ["halve", "drop"])
def test_a_rejected_bundle_is_halved_or_dropped(monkeypatch, on_reject):
    # the first two searches of the neurons' amplitude (the ones given loss_at_zero) are
    # made to find nothing; "halve" then searches the first quarter of the bundle for real
    import dataclasses

    import kernels.tiny.growth as growth

    real, calls = growth.line_search, []

    def fake(**kw):
        res = real(**kw)
        if "loss_at_zero" in kw:
            calls.append(1)
            if len(calls) <= 2:
                return dataclasses.replace(res, loss=res.loss_at_zero)
        return res

    monkeypatch.setattr(growth, "line_search", fake)
    _, rows = run(
        steps=11,
        hidden=(8, 8),
        growth_every=10,
        tau=1e-8,
        options={"neuron_cap": "rank", "on_reject": on_reject},
    )
    top = next(r for r in rows["spectrum"] if r["layer"] == 1)  # planned first
    proposed = top["accepted"] + top["rejected"]
    assert proposed == int((top["eigenvalues"] ** 2 * top["loss_before"] > 1e-8).sum()) >= 4
    if on_reject == "halve":
        assert top["accepted"] == proposed // 4 and len(calls) >= 3
        assert f"({proposed} proposed, halved to {proposed // 4})" in top["reject_reason"]
    else:
        assert top["accepted"] == 0 and top["reject_reason"].startswith("best amplitude")


def test_random_neurons_and_the_seconds_schedule():
    trainer, rows = run(
        steps=4, growth_every=1000, options={"neurons": "random", "growth_seconds": 1e-9}
    )
    assert len(rows["spectrum"]) == 2 * 3  # steps 1, 2, 3 (the clock starts at step 0)
    assert all(
        e["cause"] == "added at random (TINY amplitude search)" and "gain" in e
        for e in rows["event"]
    )
    assert sum(trainer.model.hidden_sizes) > 2


def test_compound_batch_rule_and_method_state_round_trip():
    trainer, rows = run(steps=41, options={"batch_rule": "compound", "estimation_batch": 50})
    b = [r["batch"] for r in rows["spectrum"] if r["layer"] == 0]
    assert b[1] > b[0]
    state = trainer.method.state_dict()
    other = get_method("tiny")()
    other.load_state_dict(state)
    assert other.state_dict() == state


def test_bad_options_are_named():
    cls = get_method("tiny")
    with pytest.raises(ValueError, match="neurons must be one of optimal, random"):
        cls(neurons="best")
    with pytest.raises(ValueError, match="tau_mode must be one of paper, absolute, relative"):
        cls(tau_mode="log")
    with pytest.raises(ValueError, match="unknown option 'neuron' \\(did you mean 'neurons'\\?\\)"):
        cls(neuron="random")
    assert (
        main(["run", "--method", "tiny", "--option", "neuron=random", "--steps", "1", "--quiet"])
        == 2
    )
    with pytest.raises(ValueError, match="max_gamma must be in"):
        cls(max_gamma=0.0)
    with pytest.raises(ValueError, match="line_search_refine must be in"):
        cls(line_search_refine=-1)
    with pytest.raises(ValueError, match="line_search_factor must be 2, 4 or 8, got 3"):
        cls(line_search_factor=3)
    with pytest.raises(ValueError, match="neuron_cap must be one of growth_rate, rank"):
        cls(neuron_cap="all")
    with pytest.raises(ValueError, match="max_growth_steps must be in"):
        cls(max_growth_steps=-1)
    with pytest.raises(ValueError, match="on_reject must be one of drop, halve"):
        cls(on_reject="retry")
    with pytest.raises(ValueError, match="update_ridge must be >= 0"):
        cls(update_ridge=-1.0)


def test_line_search_without_refinement_keeps_grid_amplitudes():
    """refine 0: every amplitude is a grid point 2^k (no golden-section step between)."""
    _, rows = run(steps=41, options={"line_search_refine": 0})
    gammas = [g for r in rows["spectrum"] for g in (r["gamma0"], r["gamma"]) if g > 0]
    assert gammas
    for g in gammas:
        assert math.log2(g) == round(math.log2(g))


def test_max_gamma_bounds_the_amplitudes():
    _, rows = run(steps=41, options={"max_gamma": 0.25})
    assert all(r["gamma0"] <= 0.25 and r["gamma"] <= 0.25 for r in rows["spectrum"])


def test_cli_runs_tiny(capsys):
    assert (
        main(
            [
                "run",
                "--method",
                "tiny",
                "--dataset",
                "digits",
                "--hidden",
                "1,1",
                "--steps",
                "21",
                "--growth-every",
                "10",
                "--growth-rate",
                "3",
                "--tau",
                "1e-6",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "tiny on digits: sizes [1, 1] ->" in out


@pytest.mark.parametrize(
    ("holdout", "amplitude"), [(True, "split"), (False, "split"), (False, "fan_in")]
)
def test_inserted_neurons_and_best_update_give_exactly_the_scored_loss(holdout, amplitude):
    """After a growth step the network's loss on the scoring batch is the loss the last
    line search scored (layer 0, planned last): the inserted neurons are the scored ones
    ((sqrt(gamma) alpha, sqrt(gamma) omega), or (gamma alpha, omega) with
    ``amplitude="fan_in"``, sec. 3.3 eq. (7)) and gamma_0 dW* was applied on every layer. The
    scoring batch is rows n..2n of the data with ``holdout_scoring`` (the default), else
    the estimation batch itself, rows 0..n (paper 003 sec. 3.3, eq. (6)-(7))."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    config = RunConfig(
        method="tiny",
        dataset="digits",
        hidden=[2, 2],
        steps=100,
        batch_size=64,
        eval_every=1000,
        knobs={"growth_every": 20, "growth_rate": 3, "tau": 1e-6, "lr": 3e-3},
        method_options={"holdout_scoring": holdout, "amplitude": amplitude},
    )
    history = History()
    trainer = Trainer(config, sink=history.add)
    trainer.run(21)  # the growth step is step 20
    spectra = {r["layer"]: r for r in history.rows["spectrum"]}
    assert spectra[0]["accepted"] > 0 and spectra[0]["gamma"] > 0
    assert spectra[1]["gamma0"] > 0 and spectra[0]["gamma0"] > 0
    n, scored = spectra[0]["batch"], spectra[0]["scored_batch"]
    assert scored == n
    lo = n if holdout else 0
    x, y, _ = trainer.method.estimation_data(lo + n)
    with torch.no_grad():
        loss = float(F.cross_entropy(trainer.model(x[lo:]), y[lo:]))
    assert loss == pytest.approx(spectra[0]["loss_after"], rel=1e-5, abs=1e-6)
    assert loss < spectra[0]["loss_before"]
    # the new fan-outs (the last columns of Linear 1) have length sqrt(lambda_k) (scaled
    # unit v_k) times sqrt(gamma) with "split", times 1 with "fan_in"
    count, gamma = spectra[0]["accepted"], spectra[0]["gamma"]
    lengths = trainer.model.linears[1].weight[:, -count:].detach().norm(dim=0).double()
    expected = torch.as_tensor(spectra[0]["eigenvalues"][:count]).sqrt()
    expected *= 1.0 if amplitude == "fan_in" else gamma**0.5
    assert abs(gamma - 1.0) > 0.1  # the two scalings differ here
    torch.testing.assert_close(lengths, expected, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_defaults_size_the_teacher_network():
    """Issue 15: TINY with its defaults (the CLI's: 3000 steps from [1, 1], paper threshold,
    holdout scoring, backoff) on the teacher data set (right width 16) ends with a first
    layer in [16, 32] at a test accuracy no worse than 1 pp below a static [16] trained the
    same steps. Seed 0: [27, 15] at 0.894 vs static 0.868 (3 seeds: README, teacher table)."""
    from explorer.cli import build_parser, run_config

    def run(*extra: str):
        argv = ["run", "--dataset", "teacher", "--seed", "0", "--device", "cpu", *extra]
        trainer = Trainer(run_config(build_parser().parse_args(argv)))
        trainer.run()
        return trainer.summary()

    tiny, static = run("--method", "tiny"), run("--method", "static", "--hidden", "16")
    assert 16 <= tiny["sizes"][0] <= 32
    assert tiny["test_acc"] >= static["test_acc"] - 0.01


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_defaults_size_the_teacher_network_on_the_other_seeds(seed):
    """Issue 15's table has three seeds: the first layer ends in [16, 32] on seeds 1 and 2 too
    ([20, 11] and [21, 12]; [24, 11] and [23, 9] with ``update_without_neurons=true``). With
    ``line_search_vertex=true`` as the default seed 1 ended at
    [33, 15]: a cheaper line search is not free to change where growth stops."""
    from explorer.cli import build_parser, run_config

    argv = ["run", "--dataset", "teacher", "--seed", str(seed), "--device", "cpu"]
    trainer = Trainer(run_config(build_parser().parse_args([*argv, "--method", "tiny"])))
    trainer.run()
    assert 16 <= trainer.summary()["sizes"][0] <= 32
