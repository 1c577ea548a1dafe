"""How far one Adam step moves TINY's test logits, against a static net of TINY's final shape
(issue 15, the TINY race on the MNIST subset; README "TINY race").

Paper 003 trains the grown network with one Adam learning rate (sec. 4, appendix C). This
bench measures what that step does to the function: after chosen growth steps of the
``tiny-race-<dataset>`` run (the race's TINY, :func:`explorer.bench.tiny_race.race_config`)
it takes ``after`` training steps and reports, per step, the relative logit move
``RMS(z_t - z_{t-1}) / RMS(z_{t-1})`` on the first 1,000 test images, and for the first step
after the growth step the same move split into the *new* entries (the fan-in rows, biases and
fan-out columns of the units born at that growth step) and the *old* ones, with the median
``|dW| / lr`` over each part's weight entries (``n_new``, ``n_old``: their counts). It then
trains a static net of TINY's final sizes (the race's static racer at that shape) to the same
step counts and reports the same per-step moves.

``python -m explorer.bench.tiny_logit_step --dataset mnist --seed 0`` prints one JSON line
per probe (a growth step that falls inside an earlier probe's steps is not probed). Step
counts, not CPU time, set where each probe is: nothing here is a timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

import numpy as np
import torch

N_TEST = 1000


def relative_move(before: torch.Tensor, after: torch.Tensor) -> float:
    """RMS(after - before) / RMS(before): how far a step moved the logits, in their own scale."""
    return float((after - before).pow(2).mean().sqrt() / before.pow(2).mean().sqrt())


def new_entry_masks(model, step: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per Linear of ``model`` (a DynamicMLP): (weight mask, bias mask) of the entries that
    belong to hidden units born at ``step`` (``model.birth_step``): their fan-in rows and
    biases in Linear l, their fan-out columns in Linear l + 1."""
    born = [torch.from_numpy(np.asarray(b) == step) for b in model.birth_step]
    masks = []
    for j, lin in enumerate(model.linears):
        weight = torch.zeros(lin.weight.shape, dtype=torch.bool)
        bias = torch.zeros(lin.bias.shape, dtype=torch.bool)
        if j < len(born):
            weight[born[j]] = True
            bias[born[j]] = True
        if j >= 1:
            weight[:, born[j - 1]] = True
        masks.append((weight, bias))
    return masks


def _params(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(lin.weight.detach().clone(), lin.bias.detach().clone()) for lin in model.linears]


def _load(model, params) -> None:
    with torch.no_grad():
        for lin, (w, b) in zip(model.linears, params, strict=True):
            lin.weight.copy_(w)
            lin.bias.copy_(b)


def split_step(trainer, x: torch.Tensor, born: int) -> dict[str, Any]:
    """One training step of ``trainer``; its logit move on ``x`` in all, from the entries of
    the units born at step ``born`` alone and from the others alone (each applied to the
    weights before the step), and the median |dW| / lr over each part's weight entries. The
    trainer ends exactly where the plain step leaves it."""
    model = trainer.model
    with torch.no_grad():
        z0 = model(x)
    before = _params(model)
    trainer.step()
    after = _params(model)
    with torch.no_grad():
        z1 = model(x)
    out: dict[str, Any] = {"rel": relative_move(z0, z1)}
    masks = new_entry_masks(model, born)
    lr = float(trainer.knobs.lr)
    for name, new in (("new", True), ("old", False)):
        mixed, moves = [], []
        for (w0, b0), (w1, b1), (wm, bm) in zip(before, after, masks, strict=True):
            sel_w, sel_b = (wm, bm) if new else (~wm, ~bm)
            mixed.append((torch.where(sel_w, w1, w0), torch.where(sel_b, b1, b0)))
            moves.append(((w1 - w0).abs() / lr)[sel_w])
        _load(model, mixed)
        with torch.no_grad():
            out[f"rel_{name}"] = relative_move(z0, model(x))
        flat = torch.cat(moves)
        out[f"n_{name}"] = int(flat.numel())
        out[f"step_over_lr_{name}"] = float(flat.median()) if flat.numel() else None
    _load(model, after)
    return out


def probe(trainer, x: torch.Tensor, net: str, after: int, born: int | None) -> dict[str, Any]:
    """``after`` training steps; their relative logit moves on ``x`` (the first split into new
    and old entries when ``born`` is a growth step), then the test loss and accuracy."""
    row: dict[str, Any] = {"net": net, "from_step": trainer.step_count}
    if born is not None:
        first = split_step(trainer, x, born)
        rels = [first.pop("rel")]
        row.update({k: round(v, 4) if isinstance(v, float) else v for k, v in first.items()})
    else:
        rels = []
    with torch.no_grad():
        z = trainer.model(x)
    while len(rels) < after:
        trainer.step()
        with torch.no_grad():
            z_next = trainer.model(x)
        rels.append(relative_move(z, z_next))
        z = z_next
    loss, acc = trainer.evaluate("test")
    row.update(
        sizes=list(trainer.model.hidden_sizes),
        logit_rms=round(float(z.pow(2).mean().sqrt()), 2),
        rel_mean=round(sum(rels) / len(rels), 4),
        rels=[round(r, 4) for r in rels],
        test_loss=round(loss, 4),
        test_acc=round(acc, 4),
    )
    return row


def run(dataset: str, seed: int, at: list[int], after: int, later: int) -> list[dict]:
    """TINY probed after the growth steps numbered in ``at`` and ``later`` steps after its
    last growth step; then a static net of TINY's final sizes at the same step counts."""
    from explorer.bench.tiny_race import race_config
    from explorer.trainer import Trainer

    tiny = Trainer(race_config("tiny", dataset, seed))
    x = tiny.X["test"][:N_TEST]
    method: Any = tiny.method  # a Tiny: growth_steps, max_growth_steps
    rows: list[dict] = []
    marks: list[int] = []
    last = max(at)
    if method.max_growth_steps and last > method.max_growth_steps:
        raise ValueError(f"growth step {last} > the preset's {method.max_growth_steps}")
    while method.growth_steps < last:
        done = method.growth_steps
        tiny.step()
        if method.growth_steps != done and method.growth_steps in at:
            marks.append(tiny.step_count)
            rows.append(probe(tiny, x, f"tiny g{method.growth_steps}", after, tiny.step_count - 1))
    while tiny.step_count < (marks[-1] if marks else 0) + later:
        tiny.step()
    marks.append(tiny.step_count)
    rows.append(probe(tiny, x, f"tiny +{later}", after, None))
    sizes = list(tiny.model.hidden_sizes)
    static = Trainer(dataclasses.replace(race_config("static", dataset, seed), hidden=sizes))
    for mark in marks:
        while static.step_count < mark:
            static.step()
        rows.append(probe(static, x, f"static {sizes}", after, None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny_logit_step")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--at", default="5,10,13,15", help="growth steps to probe after")
    parser.add_argument("--after", type=int, default=10, help="training steps per probe")
    parser.add_argument("--later", type=int, default=200, help="steps after the last probe")
    args = parser.parse_args(argv)
    try:
        at = sorted({int(g) for g in args.at.split(",")})
    except ValueError:
        at = []
    if not at or at[0] < 1 or args.after < 1 or args.later < 0:
        print(
            f"error: --at '{args.at}' must be growth step numbers >= 1, --after >= 1, --later >= 0",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(1)
    try:
        rows = run(args.dataset, args.seed, at, args.after, args.later)
    except (ValueError, KeyError) as exc:
        print(f"error: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
    for row in rows:
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
