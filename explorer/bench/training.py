"""Training-step figures: garbage collection against masking, the explorer's trainer against a
plain torch loop (issue 17's ``>= 2`` and ``<= 1.2`` targets)."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from explorer.bench.table import Figure, alternate, figure, ratios
from kernels.methods.shrinknets import ShrinkNets


# ---- garbage collection against masking ------------------------------------------------------
def shrinknets_trainer(collect: bool, hidden: list[int], dead_share: float):
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    config = RunConfig(
        method="shrinknets",
        dataset="digits",
        hidden=hidden,
        seed=0,
        device="cpu",
        method_options={"collect": collect},
        knobs={"gamma": 0.0},
    )  # no further killing while timing
    trainer = Trainer(config)
    model, method = trainer.model, trainer.method
    assert isinstance(method, ShrinkNets)
    rng = np.random.default_rng(0)
    for layer in range(model.n_hidden):
        n = model.hidden_sizes[layer]
        pos = rng.choice(n, int(round(dead_share * n)), replace=False)
        with torch.no_grad():
            switch = model.switch_values(layer)
            assert switch is not None  # ShrinkNets layers have switches
            switch[torch.from_numpy(pos)] = 0.0  # killed (sec. 3.5.1)
        if not collect:
            method._dead.update(int(u) for u in model.unit_ids[layer][pos])
    for _ in range(3):  # the first step collects (collect=True)
        trainer.step()
    return trainer


def gc_figure(repeats: int, inner: int = 5, hidden=(1024, 1024), dead_share=0.9) -> Figure:
    collected = shrinknets_trainer(True, list(hidden), dead_share)
    masked = shrinknets_trainer(False, list(hidden), dead_share)
    times = alternate({"collected": collected.step, "masked": masked.step}, repeats, inner)
    return figure(
        f"masked/collected step, shrinknets {hidden[0]}-{hidden[1]}, {dead_share:.0%} dead",
        ratios(times, "masked", "collected"),
        "x",
        ">= 2.0",
        lambda v: v >= 2.0,
        sizes=[collected.model.hidden_sizes, masked.model.hidden_sizes],
        ms={k: statistics.median(v) for k, v in times.items()},
    )


# ---- the explorer's trainer against a plain loop ---------------------------------------------
def trainer_figure(repeats: int, inner: int = 10, hidden=(256, 256)) -> Figure:
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    trainer = Trainer(
        RunConfig(method="static", dataset="digits", hidden=list(hidden), seed=0, device="cpu")
    )
    model = trainer.method.build(
        trainer.data.n_features,
        trainer.data.n_classes,
        list(hidden),
        generator=torch.Generator().manual_seed(0),
    )
    opt = torch.optim.Adam(model.parameters(), lr=trainer.knobs.lr)
    X, Y, bs = trainer.X["train"], trainer.Y["train"], trainer.batch_size
    gen = torch.Generator().manual_seed(0)
    state: dict[str, Any] = {"order": torch.randperm(len(Y), generator=gen), "cursor": 0}

    def plain_step() -> None:
        if state["cursor"] + bs > len(Y):
            state["order"], state["cursor"] = torch.randperm(len(Y), generator=gen), 0
        idx = state["order"][state["cursor"] : state["cursor"] + bs]
        state["cursor"] += bs
        loss = F.cross_entropy(model(X[idx]), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()

    for _ in range(10):
        trainer.step()
        plain_step()
    times = alternate({"trainer": trainer.step, "plain": plain_step}, repeats, inner)
    return figure(
        f"trainer/plain loop step, static {hidden[0]}-{hidden[1]}, records on",
        ratios(times, "trainer", "plain"),
        "x",
        "<= 1.2",
        lambda v: v <= 1.2,
        ms={k: statistics.median(v) for k, v in times.items()},
    )
