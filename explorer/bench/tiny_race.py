"""TINY's race (paper 003 sec. 4, appendix C fig. 10): TINY from [1, 1] against a static
[1000, 1000] network, each trained for the same compute, then tested.

The paper gives each model the same wall-clock time (20 s, 7 CPUs). On a shared machine wall
time measures the other jobs as much as the model, so this race (our rule, not the paper's)
gives each run the same *CPU time of its process* (``time.process_time``, one torch thread):
growth steps (capture, eigen-solve, line search, surgery) count against TINY's budget like
its training steps do. TINY runs with the settings of the ``tiny-race-<dataset>`` preset
(``explorer.presets``: the paper's threshold lambda_k^2 L > tau, every neuron past it added,
15 growth steps a short training interval apart, batch 100, Adam 1e-3); the static net with
batch 100 and Adam 1e-3. ``--option``/``--knob`` override the preset's values;
``--data-option`` (e.g. ``limit=5000``: MNIST's total examples, test part included) goes to
both racers' data set; ``--static-hidden 604,125`` races a static net of another shape (e.g.
TINY's final one) instead of [1000, 1000].

``python -m explorer.bench.tiny_race --dataset digits --seeds 0,1,2 --cpu-seconds 30``
prints one JSON line per run (steps, sizes, test accuracy, neurons added and rejected by the
line search, growth steps, amplitudes that hit the top of their grid, the final loss on the
whole training split and on the test split, the training split's size). Bad flags: one line
on stderr, exit status 2, before any run starts.
"""

from __future__ import annotations

import json
import sys
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
    data_options: dict[str, Any] | None = None,
    static_hidden: tuple[int, ...] = (1000, 1000),
):
    """The RunConfig of one racer: ``tiny`` from the ``tiny-race-<dataset>`` preset (or
    ``tiny-race-digits`` for a data set without its own), ``static`` ``static_hidden``
    ([1000, 1000], the paper's; e.g. TINY's final sizes for a static net of its shape);
    ``data_options`` go to the data set of either."""
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
        dataset_options=dict(data_options or {}),
    )
    if method == "static":
        return RunConfig(
            method="static",
            hidden=list(static_hidden),
            knobs={"lr": 1e-3, **(knobs or {})},
            **common,
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
    data_options: dict[str, Any] | None = None,
    static_hidden: tuple[int, ...] = (1000, 1000),
) -> dict:
    """Train ``method`` ("tiny" or "static") for ``cpu_seconds`` of process CPU time."""
    from explorer.trainer import Trainer

    config = race_config(
        method,
        dataset,
        seed,
        options=options,
        knobs=knobs,
        data_options=data_options,
        static_hidden=static_hidden,
    )
    spectra: list[dict] = []  # every one: the History thins spectra, and the counts are sums
    trainer = Trainer(config, sink=lambda r: spectra.append(r) if r["kind"] == "spectrum" else None)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < cpu_seconds:
        trainer.step()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    summary = trainer.summary()
    train_loss, train_acc = trainer.evaluate("train")
    return {
        "method": method,
        "dataset": dataset,
        "data_options": config.dataset_options,
        "n_train": len(trainer.Y["train"]),
        "seed": seed,
        "tau": config.knobs.get("tau") if method == "tiny" else None,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "steps": summary["steps"],
        "sizes": summary["sizes"],
        "params": summary["params"],
        "test_acc": round(float(summary["test_acc"]), 4),
        "test_loss": float(f"{summary['test_loss']:.4g}"),
        "train_loss": float(f"{train_loss:.4g}"),
        "train_acc": round(float(train_acc), 4),
        "accepted": sum(r["accepted"] for r in spectra),
        "rejected": sum(r["rejected"] for r in spectra),
        "growth_steps": len({r["step"] for r in spectra}),
        "gamma_capped": sum(r["gamma_capped"] + r["gamma0_capped"] for r in spectra),
    }


def check_flags(
    dataset: str,
    methods: list[str],
    options: dict[str, Any],
    knobs: dict[str, Any],
    data_options: dict[str, Any],
    static_hidden: tuple[int, ...] = (1000, 1000),
) -> None:
    """Refuse bad flags before any run: each racer's configuration and method options
    (``check_fields``, ``check_options``), knob names and values (``_check_knob``: finite,
    within the knob's bounds), and the data set's options (the data set is loaded once: its
    loader names an unknown option or a bad value)."""
    from explorer.cli.arguments import _check_knob
    from explorer.config import check_fields, check_options
    from explorer.data.registry import load_dataset
    from explorer.knobs import knob_names

    for method in methods:
        config = race_config(
            method,
            dataset,
            0,
            options=options,
            knobs=knobs,
            data_options=data_options,
            static_hidden=static_hidden,
        )
        problems = check_fields(config)
        if problems:
            raise ValueError("; ".join(problems))
        check_options(config)
    for name, value in knobs.items():
        if name not in knob_names():
            raise ValueError(f"--knob {name}: unknown knob; accepted: {', '.join(knob_names())}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"--knob {name} must be a number, got {str(value)[:40]!r}")
        _check_knob(name, value)
    load_dataset(dataset, seed=0, **data_options)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ValueError(
            f"--static-hidden '{text[:40]}' must be sizes separated by commas, e.g. 604,125"
        ) from None


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny_race")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cpu-seconds", type=float, default=30.0)
    parser.add_argument("--methods", default="tiny,static")
    parser.add_argument("--option", action="append", default=[], help="TINY option KEY=VALUE")
    parser.add_argument("--knob", action="append", default=[], help="TINY knob KEY=VALUE")
    parser.add_argument(
        "--data-option",
        action="append",
        default=[],
        help="data set option KEY=VALUE for both racers, e.g. limit=5000",
    )
    parser.add_argument(
        "--static-hidden",
        default="1000,1000",
        help="the static net's hidden sizes, e.g. 604,125 (TINY's final shape)",
    )
    args = parser.parse_args(argv)
    from explorer.cli.arguments import _options

    try:
        options, knobs = _options(args.option), _options(args.knob, "--knob")
        data_options = _options(args.data_option, "--data-option")
        methods = args.methods.split(",")
        seeds = [int(s) for s in args.seeds.split(",")]
        static_hidden = _sizes(args.static_hidden)
        check_flags(args.dataset, methods, options, knobs, data_options, static_hidden)
    except ValueError as exc:
        print(f"error: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    for seed in seeds:
        for method in methods:
            extra: dict[str, Any] = dict(data_options=data_options, static_hidden=static_hidden)
            if method == "tiny":
                extra.update(options=options, knobs=knobs)
            row = race_run(method, args.dataset, seed, args.cpu_seconds, **extra)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
