"""TINY's growth cost (issue 17): the share of a run's wall time spent in growth steps, with
TINY's defaults, on digits and on the MNIST subset (the t10k files: 8,000 train+val images).

The growth time is everything a due growth step does (``Tiny.seconds``): capture (one
forward/backward on the estimation batch per layer), solve (best update, S and N, eigen-solve,
bottleneck), line search (the amplitude grids of gamma_0 and gamma), surgery (the scratch copy,
the moves planned on it, ``apply`` on the network) and other (estimation data, records); the
share is that sum over the run's wall time (``Trainer.run``, records and evaluations
included): the issue's figure. Next to it, the same share in CPU time (``Tiny.cpu_seconds``
over the thread's CPU time of the run, :mod:`kernels.tiny.timing`): on a shared machine a
run of a few seconds is preempted at random, and a growth step caught by it moves the wall
share by points, not the CPU share. Both count one thread: run it with
``torch.set_num_threads(1)`` (the bench and this module's CLI do), or the work of torch's
other threads is in neither figure. ``python -m explorer.bench.tiny_growth [--steps N]
[--seeds K]`` prints the rows; ``python -m explorer bench`` includes them.
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
    the wall time), the same in CPU time (``cpu``, ``cpu_share``, ``cpu_parts``), growth
    steps, final sizes, and the growth steps that added no neuron (``empty_steps``) with
    their share of the growth time (``empty_share``, ``empty_cpu_share``: % of the wall and
    CPU growth time; ``PartTimes.empty``)."""
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    trainer = Trainer(
        RunConfig(method="tiny", dataset=dataset, seed=seed, device="cpu", steps=steps)
    )
    c0, t0 = time.thread_time(), time.perf_counter()
    trainer.run(steps)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    assert isinstance(trainer.method, Tiny)
    seconds, cpu_seconds = dict(trainer.method.seconds), dict(trainer.method.cpu_seconds)
    return {
        "wall": wall,
        "share": 100 * sum(seconds.values()) / wall,
        "parts": {k: 100 * v / wall for k, v in seconds.items()},
        "cpu": cpu,
        "cpu_share": 100 * sum(cpu_seconds.values()) / cpu,
        "cpu_parts": {k: 100 * v / cpu for k, v in cpu_seconds.items()},
        "growth_steps": trainer.method.growth_steps,
        "sizes": list(trainer.model.hidden_sizes),
        "empty_steps": trainer.method.timing.empty_steps,
        "empty_share": _percent(trainer.method.timing.empty["wall"], sum(seconds.values())),
        "empty_cpu_share": _percent(trainer.method.timing.empty["cpu"], sum(cpu_seconds.values())),
    }


def _percent(part: float, whole: float) -> float:
    return 100 * part / whole if whole > 0 else 0.0


def tiny_growth_figures(quick: bool = False, seeds: int | None = None) -> list[dict]:
    """Two bench rows per data set, the median share of wall time (the issue's target) and
    of CPU time (its companion, no target of its own) over ``seeds`` runs (1 quick, else 3)."""
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
                parts=_median_parts(runs, "parts"),
                sizes=runs[0]["sizes"],
                growth_steps=[r["growth_steps"] for r in runs],
                empty_steps=[r["empty_steps"] for r in runs],
                empty_share=statistics.median(r["empty_share"] for r in runs),
            )
        )
        rows.append(
            figure(
                name.replace("of wall time", "of CPU time"),
                [r["cpu_share"] for r in runs],
                "%",
                parts=_median_parts(runs, "cpu_parts"),
                empty_share=statistics.median(r["empty_cpu_share"] for r in runs),
            )
        )
    return rows


def _median_parts(runs: list[dict], key: str) -> dict[str, float]:
    return {k: statistics.median(r[key][k] for r in runs) for k in runs[0][key]}


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
            cpu_parts = ", ".join(f"{k} {v:.1f}%" for k, v in r["cpu_parts"].items())
            print(
                f"{dataset} seed {seed}: growth {r['share']:.1f}% of {r['wall']:.1f} s wall "
                f"({parts}), {r['cpu_share']:.1f}% of {r['cpu']:.1f} s CPU ({cpu_parts}); "
                f"{r['growth_steps']} growth steps, sizes {r['sizes']}; "
                f"{r['empty_steps']} added no neuron ({r['empty_share']:.0f}% of the growth "
                f"time, {r['empty_cpu_share']:.0f}% in CPU time)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
