"""Method options: one validated dataclass per method (unknown names refused with a
did-you-mean), the optimizer state kept or reset at structural changes, method-owned
starting sizes, and the command line's use of them."""

from types import SimpleNamespace

import pytest
import torch

from explorer.cli import build_parser, main, run_config
from explorer.config import RunConfig
from explorer.history import History
from explorer.trainer import Trainer
from kernels.methods import METHODS, get_method
from kernels.methods.base import OptionError


@pytest.mark.parametrize(
    ("method", "typo", "meant"),
    [
        ("tiny", "neuron", "neurons"),
        ("nonparametric", "optimiser", "optimizer"),
        ("shrinknets", "windw", "window"),
        ("static", "optimizer_stat", "optimizer_state"),
    ],
)
def test_misspelled_options_are_refused_with_a_suggestion(method, typo, meant):
    cls = get_method(method)
    with pytest.raises(
        OptionError,
        match=rf"unknown option '{typo}' \(did you mean "
        rf"'{meant}'\?\); accepted: .*{meant}",
    ):
        cls(**{typo: 1})
    with pytest.raises(OptionError, match="unknown option 'colour'; accepted: "):
        cls(colour="red")


def test_cli_refuses_an_unknown_option_with_exit_2(capsys):
    assert (
        main(["run", "--method", "tiny", "--option", "neuron=random", "--steps", "1", "--quiet"])
        == 2
    )
    assert "did you mean 'neurons'" in capsys.readouterr().err


def test_every_method_lists_its_options_and_starting_sizes():
    assert get_method("shrinknets").default_hidden == (100, 100)
    assert get_method("tiny").default_hidden == (1, 1)
    assert get_method("nonparametric").default_hidden == (10, 10)
    for cls in METHODS.values():
        assert "optimizer_state" in cls.Options.names()
        with pytest.raises(OptionError, match="optimizer_state must be one of keep, reset"):
            cls(optimizer_state="clear")


def test_cli_fills_in_the_method_starting_sizes():
    parse = build_parser().parse_args
    assert run_config(parse(["run", "--method", "shrinknets"])).hidden == [100, 100]
    assert run_config(parse(["run", "--method", "tiny"])).hidden == [1, 1]
    assert run_config(parse(["run", "--method", "tiny", "--hidden", "3,4"])).hidden == [3, 4]
    cfg = run_config(parse(["run", "--radial-lr", "7"]))
    assert cfg.knobs == {"radial_lr": 7.0, "radial_auto": False}
    assert run_config(parse(["run", "--radial-lr", "auto"])).knobs == {"radial_auto": True}


def _growth_run(state: str):
    cfg = RunConfig(
        hidden=[6, 6],
        steps=12,
        device="cpu",
        eval_every=1000,
        method_options={"optimizer_state": state},
        knobs={"lam": 1e-3, "growth_rate": 1, "growth_every": 5},
    )
    return Trainer(cfg, sink=History().add)


def test_optimizer_state_keep_or_reset_at_structural_changes():
    kept, reset = _growth_run("keep"), _growth_run("reset")
    for trainer in (kept, reset):
        trainer.run(5)  # steps 0..4: no growth yet; state built up
        assert all(p in trainer.optimizer.state for p in trainer.model.parameters())
    w = kept.model.linears[0].weight
    for trainer in (kept, reset):
        trainer.step()  # step 5: one unit per layer is born
        assert trainer.model.hidden_sizes == [7, 7]
    # keep: the old units keep their running averages, the new one starts at zero
    assert bool((kept.optimizer.state[w]["phi_sq_avg"][:6] > 0).all())
    assert float(kept.optimizer.state[w]["phi_sq_avg"][6]) == 0.0
    assert float(kept.optimizer.param_groups[0]["c_max"]) > 0
    # reset: as if the optimizer were built afresh on the grown network
    assert len(reset.optimizer.state) == 0
    assert float(reset.optimizer.param_groups[0]["c_max"]) == 0.0
    reset.step()  # and it trains on
    assert all(p in reset.optimizer.state for p in reset.model.parameters())


def test_reset_adam_state_for_other_methods():
    from kernels.methods.base import reset_optimizer_state

    p = torch.nn.Parameter(torch.randn(3, 2))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones_like(p)
    opt.step()
    method = get_method("static")(optimizer_state="reset")
    method.after_surgery(SimpleNamespace(optimizer=opt), [])
    assert p in opt.state  # no structural change: nothing happens
    method.after_surgery(SimpleNamespace(optimizer=opt), [{"event": "born"}])
    assert len(opt.state) == 0
    reset_optimizer_state(opt)
