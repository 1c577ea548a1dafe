"""Issue 15: with its defaults, each sizing method ends with a first layer between w and 2w on
the ``teacher`` set (w = 16, the teacher's width), at test accuracy no worse than 1 pp below
a static net of width w trained for the same steps; and the nonparametric defaults reach a
static 100-100 MLP on ``mnist1d``. One seed here; the 3-seed tables come from
``scripts/teacher_table.py`` and ``scripts/mnist1d_table.py`` (numbers in the README)."""

from __future__ import annotations

import pytest
import torch

from explorer.cli import build_parser, run_config
from explorer.trainer import Trainer

W = 16  # explorer.data.registry: the teacher's width
STEPS = 3000  # the CLI's default budget


def _run(*argv: str, dataset: str = "teacher", steps: int = STEPS) -> dict:
    """A CLI run (seed 0, CPU, one torch thread) to its end; its summary."""
    args = ["run", "--dataset", dataset, "--steps", str(steps), "--seed", "0", "--device"]
    config = run_config(build_parser().parse_args([*args, "cpu", *argv]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(config)
        trainer.run(progress=False)
    finally:
        torch.set_num_threads(threads)
    return trainer.summary()


@pytest.fixture(scope="module")
def static_acc() -> float:
    summary = _run("--method", "static", "--hidden", str(W))
    assert summary["sizes"] == [W]
    return summary["test_acc"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["nonparametric", "shrinknets"])
def test_defaults_size_the_teacher_net(method, static_acc):
    summary = _run("--method", method)
    first = summary["sizes"][0]
    assert W <= first <= 2 * W, f"{method} ended with {summary['sizes']}, not in [{W}, {2 * W}]"
    assert summary["test_acc"] >= static_acc - 0.01, (method, summary["test_acc"], static_acc)


#: test accuracy of the static 100-100 MLP with the MNIST-1D paper's settings (preset
#: ``static-mnist1d-mlp``: Adam 1e-2, batch 100, 6000 steps), seed 0, measured here (its own
#: slow preset test checks it); seeds 1, 2: 0.631, 0.653 (scripts/mnist1d_table.py)
STATIC_MNIST1D = 0.652


@pytest.mark.slow
def test_nonparametric_defaults_reach_the_static_net_on_mnist1d():
    """Issue 15: the nonparametric defaults on ``mnist1d`` (its declared Table 3 lifetime, 50
    epochs) reach the static 100-100 MLP in the same 6000 steps (seed 0; 0.685 measured)."""
    summary = _run("--method", "nonparametric", dataset="mnist1d", steps=6000)
    assert summary["test_acc"] >= STATIC_MNIST1D, (summary["sizes"], summary["test_acc"])
