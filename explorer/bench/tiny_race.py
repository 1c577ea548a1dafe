"""TINY's race (paper 003 sec. 4, appendix C fig. 10): TINY from [1, 1] against a static
[1000, 1000] network, each trained for the same compute, then tested.

The paper gives each model the same wall-clock time (20 s, 7 CPUs). On a shared machine wall
time measures the other jobs as much as the model, so this race (our rule, not the paper's)
gives each run the same *CPU time of its process* (``time.process_time``, one torch thread):
growth steps (capture, eigen-solve, line search, surgery) count against TINY's budget like
its training steps do. TINY runs with the settings of the ``tiny-race-<dataset>`` preset
(``explorer.presets``: the paper's threshold lambda_k^2 L > tau, every neuron past it added,
15 growth steps a short training interval apart, batch 100, Adam 1e-3); the static net with
batch 100 and Adam 1e-3. ``--option``/``--knob`` override the preset's values.

``python -m explorer.bench.tiny_race --dataset digits --seeds 0,1,2 --cpu-seconds 30``
prints one JSON line per run (steps, sizes, test accuracy, neurons added and rejected by the
line search, growth steps, amplitudes that hit the top of their grid).
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch


def race_config(
    method: str,
    dataset: str,
    seed: int,
    *,
    options: dict[str, Any] | None = None,
    knobs: dict[str, Any] | None = None,
):
    """The RunConfig of one racer: ``tiny`` from the ``tiny-race-<dataset>`` preset (or
    ``tiny-race-digits`` for a data set without its own), ``static`` [1000, 1000]."""
    from explorer.config import RunConfig
    from explorer.presets import PRESETS

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
        return RunConfig(
            method="static", hidden=[1000, 1000], knobs={"lr": 1e-3, **(knobs or {})}, **common
        )
    if method != "tiny":
        raise ValueError(f"the race runs 'tiny' or 'static', got '{method}'")
    preset = PRESETS.get(f"tiny-race-{dataset}", PRESETS["tiny-race-digits"])
    return preset.config(
        **common,
        hidden=[1, 1],
        method_options={**preset.method_options, **(options or {})},
        knobs={**preset.knobs, **(knobs or {})},
    )


def race_run(
    method: str,
    dataset: str,
    seed: int,
    cpu_seconds: float,
    *,
    options: dict[str, Any] | None = None,
    knobs: dict[str, Any] | None = None,
) -> dict:
    """Train ``method`` ("tiny" or "static") for ``cpu_seconds`` of process CPU time."""
    from explorer.trainer import Trainer

    config = race_config(method, dataset, seed, options=options, knobs=knobs)
    spectra: list[dict] = []  # every one: the History thins spectra, and the counts are sums
    trainer = Trainer(config, sink=lambda r: spectra.append(r) if r["kind"] == "spectrum" else None)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < cpu_seconds:
        trainer.step()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    summary = trainer.summary()
    return {
        "method": method,
        "dataset": dataset,
        "seed": seed,
        "tau": config.knobs.get("tau") if method == "tiny" else None,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "steps": summary["steps"],
        "sizes": summary["sizes"],
        "params": summary["params"],
        "test_acc": round(float(summary["test_acc"]), 4),
        "accepted": sum(r["accepted"] for r in spectra),
        "rejected": sum(r["rejected"] for r in spectra),
        "growth_steps": len({r["step"] for r in spectra}),
        "gamma_capped": sum(r["gamma_capped"] + r["gamma0_capped"] for r in spectra),
    }


def _pairs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny_race")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--methods", default="tiny,static")
    parser.add_argument("--option", action="append", default=[], help="TINY option KEY=VALUE")
    parser.add_argument("--knob", action="append", default=[], help="TINY knob KEY=VALUE")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    options, knobs = _pairs(args.option), _pairs(args.knob)
    for seed in (int(s) for s in args.seeds.split(",")):
        for method in args.methods.split(","):
            extra = dict(options=options, knobs=knobs) if method == "tiny" else {}
            row = race_run(method, args.dataset, seed, args.cpu_seconds, **extra)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
