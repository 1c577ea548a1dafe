"""The logit-move bench (explorer/bench/tiny_logit_step.py): the relative move, which entries
count as new, the new/old split of one step, and a short probe run against the static net."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.bench import tiny_logit_step as bench
from explorer.config import RunConfig
from explorer.trainer import Trainer
from kernels import surgery
from kernels.dynamic_mlp import DynamicMLP


def test_relative_move_is_rms_of_the_change_over_rms_before():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    want = np.sqrt(np.mean((b - a) ** 2)) / np.sqrt(np.mean(a**2))
    assert bench.relative_move(torch.tensor(a), torch.tensor(b)) == pytest.approx(want, rel=1e-12)


def test_new_entry_masks_mark_fan_in_rows_biases_and_fan_out_columns():
    gen = torch.Generator().manual_seed(0)
    model = DynamicMLP(4, [3, 2], 2, generator=gen)
    surgery.grow(model, 0, torch.ones(1, 4), torch.ones(2, 1), step=5)  # layer 0 -> 4 units
    surgery.grow(model, 1, torch.ones(1, 4), torch.ones(2, 1), step=7)  # layer 1 -> 3 units
    surgery.grow(model, 0, torch.ones(2, 4), torch.ones(3, 2), step=7)  # layer 0 -> 6 units
    masks = bench.new_entry_masks(model, 7)
    want_w0 = np.zeros((6, 4), bool)
    want_w0[4:] = True  # the two rows born at 7 (not the one born at 5)
    want_w1 = np.zeros((3, 6), bool)
    want_w1[2, :] = True  # layer 1's new unit's fan-in row
    want_w1[:, 4:] = True  # layer 0's new units' fan-out columns
    want_w2 = np.zeros((2, 3), bool)
    want_w2[:, 2] = True
    for (weight, bias), w, b in zip(
        masks,
        (want_w0, want_w1, want_w2),
        ([0, 0, 0, 0, 1, 1], [0, 0, 1], [0, 0]),
        strict=True,
    ):
        assert np.array_equal(weight.numpy(), w) and np.array_equal(bias.numpy(), np.array(b, bool))


def _trainer() -> Trainer:
    config = RunConfig(
        method="static",
        dataset="digits",
        hidden=[8, 6],
        seed=0,
        device="cpu",
        batch_size=32,
        eval_every=10**9,
        units_every=10**9,
    )
    return Trainer(config)


def test_split_step_ends_where_a_plain_step_does_and_splits_by_birth():
    split, plain = _trainer(), _trainer()
    for trainer in (split, plain):
        for _ in range(3):
            trainer.step()
    x = split.X["test"][:50]
    nothing_new = bench.split_step(split, x, born=-1)
    # every hidden unit was born at step 0: every weight entry is new (the output bias is old)
    all_new = bench.split_step(split, x, born=0)
    plain.step()
    plain.step()
    for a, b in zip(split.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert nothing_new["n_new"] == 0 and nothing_new["rel_new"] == 0.0
    assert nothing_new["rel_old"] == pytest.approx(nothing_new["rel"], rel=1e-6)
    n_weights = 64 * 8 + 8 * 6 + 6 * 10
    assert (all_new["n_new"], all_new["n_old"]) == (n_weights, 0)
    assert all_new["rel"] > 0 and all_new["step_over_lr_new"] > 0


def test_a_short_probe_run_compares_tiny_with_the_static_net_at_the_same_steps():
    rows = bench.run("digits", 0, at=[1, 2], after=3, later=4)
    tiny = [r for r in rows if r["net"].startswith("tiny")]
    static = [r for r in rows if r["net"].startswith("static")]
    assert [r["net"] for r in tiny] == ["tiny g1", "tiny g2", "tiny +4"]
    assert [r["from_step"] for r in static] == [r["from_step"] for r in tiny]
    assert all(r["sizes"] == tiny[-1]["sizes"] for r in static)
    for row in tiny[:2]:  # right after a growth step the split is reported
        assert row["n_new"] > 0 and row["n_old"] > 0 and row["rel_new"] > 0
    assert all(len(r["rels"]) == 3 and r["rel_mean"] > 0 for r in rows)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--at", "0"], "must be growth step numbers >= 1"),
        (["--at", "a,b"], "must be growth step numbers >= 1"),
        (["--at", "16"], "growth step 16 > the preset's 15"),
    ],
)
def test_bad_flags_are_refused(argv, message, capsys):
    assert bench.main(["--dataset", "digits", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err and len(err.strip().splitlines()) == 1


def test_main_prints_one_json_row_per_probe(capsys):
    assert bench.main(["--dataset", "digits", "--at", "1", "--after", "2", "--later", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["net"] for r in rows][:2] == ["tiny g1", "tiny +0"] and len(rows) == 4
