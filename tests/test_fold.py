"""Folding switches for inference (ShrinkNets sec. 3.6): same outputs, no Switch, no dead unit."""

import pytest
import torch
from torch import nn

from kernels.capnorm import CapNorm
from kernels.dynamic_cnn import DynamicCNN
from kernels.dynamic_mlp import DynamicMLP
from kernels.fold import fold, has_switch
from kernels.switch import Switch


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def with_dead_units(model, g):
    with torch.no_grad():
        for layer in range(model.n_hidden):
            s = model.post[layer][0].switch
            s[torch.randperm(len(s), generator=g)[:2]] = 0.0
    return model


def test_fold_mlp_matches_and_drops_dead_units():
    g = torch.Generator().manual_seed(0)
    model = with_dead_units(DynamicMLP(7, [6, 5], 3, post=lambda n: [Switch(n, g)], generator=g), g)
    with torch.no_grad():
        for lin in model.linears:
            lin.bias.normal_(generator=g)
    folded = fold(model)
    x = torch.randn(50, 7, generator=g)
    with torch.no_grad():
        assert rel_err(folded(x), model.eval()(x)) < 1e-5
    assert not has_switch(folded) and has_switch(model)
    assert [m.out_features for m in folded if isinstance(m, nn.Linear)] == [4, 3, 3]
    assert [m.in_features for m in folded if isinstance(m, nn.Linear)] == [7, 4, 3]


@pytest.mark.parametrize("fold_batchnorm", [True, False])
def test_fold_cnn_matches(fold_batchnorm):
    g = torch.Generator().manual_seed(1)
    model = DynamicCNN((1, 8, 8), [4, 5], [6], 3, post=lambda n: [Switch(n, g)], generator=g)
    with torch.no_grad():
        for bn in model.norms:
            bn.weight.uniform_(0.5, 1.5, generator=g)
            bn.bias.normal_(0, 0.3, generator=g)
    for _ in range(3):
        model(torch.randn(16, 64, generator=g))
    with_dead_units(model, g)
    folded = fold(model, fold_batchnorm=fold_batchnorm)
    x = torch.randn(40, 64, generator=g)
    with torch.no_grad():
        assert rel_err(folded(x), model.eval()(x)) < 1e-5
    assert not has_switch(folded)
    convs = [m for m in folded if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [2, 3]
    assert any(isinstance(m, nn.BatchNorm2d) for m in folded) != fold_batchnorm
    assert [m.in_features for m in folded if isinstance(m, nn.Linear)] == [3 * 4, 4]


@pytest.mark.parametrize("network", ["mlp", "cnn"])
def test_fold_trained_shrinknet_on_digits(network):
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(
            method="shrinknets",
            hidden=[16],
            steps=80,
            eval_every=80,
            knobs=dict(lam=0.03, lam2=1e-4, lr=1e-2, gamma=0.5),
            method_options=dict(network=network, channels=[6]),
        )
        trainer = Trainer(config)
        trainer.run()
        model = trainer.model.eval()
        folded = fold(model)
        x = trainer.X["test"]
        with torch.no_grad():
            assert rel_err(folded(x), model(x)) < 1e-5
        assert not has_switch(folded)
    finally:
        torch.set_num_threads(threads)


def test_fold_refuses_what_it_cannot_fold():
    with pytest.raises(ValueError, match="CapNorm"):
        fold(DynamicMLP(4, [3], 2, post=lambda n: [CapNorm(n)]))
    with pytest.raises(ValueError, match="accepted: DynamicMLP, DynamicCNN"):
        fold(nn.Linear(3, 2))


def test_cli_export_model_round_trip(tmp_path):
    import json

    from safetensors.torch import load_file

    from explorer.cli import main
    from explorer.data import load_dataset

    out = tmp_path / "model"
    rc = main(
        [
            "run",
            "--method",
            "shrinknets",
            "--hidden",
            "12",
            "--steps",
            "20",
            "--quiet",
            "--lam",
            "0.02",
            "--gamma",
            "1",
            "--export-model",
            str(out),
        ]
    )
    assert rc == 0
    program = torch.jit.load(str(out / "model.pt"))
    layers = json.loads((out / "model.json").read_text())["layers"]
    rebuilt = nn.Sequential(
        *[
            nn.Linear(e["in_features"], e["out_features"]) if e["type"] == "Linear" else nn.ReLU()
            for e in layers
        ]
    )
    rebuilt.load_state_dict(load_file(str(out / "model.safetensors")))
    x = torch.as_tensor(load_dataset("digits", seed=0).X_test[:7], dtype=torch.float32)
    with torch.no_grad():
        assert torch.allclose(program(x), rebuilt(x), atol=1e-6)
    assert not any(e["type"] == "Switch" for e in layers)


def test_fold_cnn_without_hidden_fc_after_pruning():
    from kernels import surgery

    g = torch.Generator().manual_seed(5)
    model = DynamicCNN((2, 6, 6), [3, 4], [], 5, post=lambda n: [Switch(n, g)], generator=g)
    for _ in range(2):
        model(torch.randn(8, 72, generator=g))
    with torch.no_grad():
        model.post[1][0].switch[2] = 0.0
    surgery.prune(model, 1, [2])
    with torch.no_grad():
        model.post[0][0].switch[0] = 0.0  # dead but not collected: fold drops it
    model.eval()
    folded = fold(model)
    x = torch.randn(9, 72, generator=g)
    with torch.no_grad():
        assert rel_err(folded(x), model(x)) < 1e-5
    assert [m.out_channels for m in folded if isinstance(m, nn.Conv2d)] == [2, 3]
    assert [m.in_features for m in folded if isinstance(m, nn.Linear)] == [3]  # 6 -> 3 -> 1
