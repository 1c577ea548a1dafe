"""TINY's growth cost (issue 17): the share of a run's wall time spent in growth steps, with
TINY's defaults, on digits and on the MNIST subset (the t10k files: 8,000 train+val images).

The growth time is everything a due growth step does (``Tiny.seconds``): capture (one
forward/backward on the estimation batch per layer), solve (best update, S and N, eigen-solve,
bottleneck), line search (the amplitude grids of gamma_0 and gamma), surgery (the scratch copy,
the moves planned on it, ``apply`` on the network) and other (estimation data, records); the
share is that sum over the run's wall time (``Trainer.run``, records and evaluations
included). ``python -m explorer.bench.tiny_growth [--steps N] [--seeds K]`` prints the rows;
``python -m explorer bench`` includes them.
"""

from __future__ import annotations

import statistics
import time

import torch

from explorer.bench.table import figure
from kernels.methods.tiny import Tiny

DATASETS = ("digits", "mnist")


def growth_share(dataset: str, steps: int, seed: int = 0) -> dict:
    """One run of TINY with its defaults: wall seconds, growth share and its parts (in % of
    the wall time), growth steps, final sizes."""
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    trainer = Trainer(
        RunConfig(method="tiny", dataset=dataset, seed=seed, device="cpu", steps=steps)
    )
    t0 = time.perf_counter()
    trainer.run(steps)
    wall = time.perf_counter() - t0
    assert isinstance(trainer.method, Tiny)
    seconds = dict(trainer.method.seconds)
    return {
        "wall": wall,
        "share": 100 * sum(seconds.values()) / wall,
        "parts": {k: 100 * v / wall for k, v in seconds.items()},
        "growth_steps": trainer.method.growth_steps,
        "sizes": list(trainer.model.hidden_sizes),
    }


def tiny_growth_figures(quick: bool = False, seeds: int | None = None) -> list[dict]:
    """One bench row per data set: the median share over ``seeds`` runs (1 quick, else 3)."""
    n_seeds = seeds or (1 if quick else 3)
    rows: list[dict] = []
    for dataset in DATASETS:
        steps = 300 if quick else 800
        name = f"tiny growth share of wall time, {dataset} defaults, {steps} steps"
        try:
            runs = [growth_share(dataset, steps, seed) for seed in range(n_seeds)]
        except Exception as exc:  # e.g. no MNIST files here: say so, keep the other rows
            rows.append({"figure": name, "skipped": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append(
            figure(
                name,
                [r["share"] for r in runs],
                "%",
                "<= 20",
                lambda v: v <= 20,
                parts={k: statistics.median(r["parts"][k] for r in runs) for k in runs[0]["parts"]},
                sizes=runs[0]["sizes"],
                growth_steps=[r["growth_steps"] for r in runs],
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny_growth")
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dataset", action="append", choices=DATASETS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for dataset in args.dataset or DATASETS:
        for seed in range(args.seeds):
            r = growth_share(dataset, args.steps, seed)
            parts = ", ".join(f"{k} {v:.1f}%" for k, v in r["parts"].items())
            print(
                f"{dataset} seed {seed}: growth {r['share']:.1f}% of {r['wall']:.1f} s "
                f"({parts}); {r['growth_steps']} growth steps, sizes {r['sizes']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
