"""TINY's race (paper 003 sec. 4, appendix C fig. 10): TINY from [1, 1] against a static
[1000, 1000] network, each trained for the same compute, then tested.

The paper gives each model the same wall-clock time (20 s, 7 CPUs). On a shared machine wall
time measures the other jobs as much as the model, so this race gives each run the same *CPU
time of its process* (``time.process_time``, one torch thread): growth steps (capture,
eigen-solve, line search, surgery) count against TINY's budget like its training steps do.
TINY runs with the settings of the ``tiny-race-digits`` preset (the paper's threshold
lambda_k^2 L > tau, at most 8 neurons per layer and growth step, growth once per epoch, batch
100, Adam 1e-3) and its method defaults; the static net with batch 100 and Adam 1e-3.

``python -m explorer.bench.tiny_race --dataset digits --seeds 0,1,2 --cpu-seconds 30``
prints one JSON line per run (steps, sizes, test accuracy, neurons added and rejected by the
line search).
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch


def race_run(
    method: str, dataset: str, seed: int, cpu_seconds: float, *, tau: float = 1e-3
) -> dict:
    """Train ``method`` ("tiny" or "static") for ``cpu_seconds`` of process CPU time."""
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.trainer import Trainer

    common: dict[str, Any] = dict(
        dataset=dataset,
        steps=10**7,
        seed=seed,
        device="cpu",
        batch_size=100,
        eval_every=10**9,
        units_every=10**9,
    )
    if method == "static":
        config = RunConfig(method="static", hidden=[1000, 1000], knobs={"lr": 1e-3}, **common)
    else:
        config = RunConfig(
            method="tiny",
            hidden=[1, 1],
            method_options={"tau_mode": "paper"},
            knobs={"tau": tau, "growth_rate": 8.0, "growth_every": 0, "lr": 1e-3},
            **common,
        )
    history = History()
    trainer = Trainer(config, sink=history.add)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < cpu_seconds:
        trainer.step()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    summary = trainer.summary()
    spectra = history.rows.get("spectrum", [])
    return {
        "method": method,
        "dataset": dataset,
        "seed": seed,
        "tau": tau if method == "tiny" else None,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "steps": summary["steps"],
        "sizes": summary["sizes"],
        "params": summary["params"],
        "test_acc": round(float(summary["test_acc"]), 4),
        "accepted": sum(r["accepted"] for r in spectra),
        "rejected": sum(r["rejected"] for r in spectra),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny_race")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--tau", type=float, default=1e-3)
    parser.add_argument("--methods", default="tiny,static")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for seed in (int(s) for s in args.seeds.split(",")):
        for method in args.methods.split(","):
            row = race_run(method, args.dataset, seed, args.cpu_seconds, tau=args.tau)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
