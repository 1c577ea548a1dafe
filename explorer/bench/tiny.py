"""TINY benchmarks (``python -m explorer bench --tiny``): Cholesky + SVD against LOBPCG for the
best-neurons eigen-solve (TINY paper prop. 3.2 vs 3.3), at S sizes width + 1.

Each route gets the same S = (1/n) B^T B (n = 1.25 x size samples of a random full-rank B with
a ones column) and N = (1/n) B^T V, with d_out = 10 (the last hidden layer, V at the logits)
and d_out = width (a middle layer); LOBPCG computes the top k = min(16, d_out). The faster
route per size sets ``kernels.tiny.best_neurons.LOBPCG_FROM`` (measured numbers there).

``--race SECONDS`` trains TINY from [1, 1] and a static network (default [1000, 1000]) for the
same wall-clock time each and prints sizes, accuracy and TINY's time shares.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from explorer.config import resolve_device
from kernels.tiny.best_neurons import _cholesky, _lobpcg

WIDTHS = (256, 1024, 4096)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def problem(width: int, d_out: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    size = width + 1
    n = int(1.25 * size)
    b = torch.randn(n, width, generator=g, dtype=torch.float64)
    b = torch.cat([b, torch.ones(n, 1, dtype=torch.float64)], dim=1).to(device)
    v = torch.randn(n, d_out, generator=g, dtype=torch.float64).to(device)
    return b.T @ b / n, b.T @ v / n


def time_routes(
    width: int, d_out: int, device: torch.device, repeats: int = 3, k: int = 16
) -> dict:
    s, n = problem(width, d_out, device)
    kk = min(k, d_out)
    out: dict[str, Any] = {"width": width, "size": width + 1, "d_out": d_out, "k": kk}
    for name, solve in (
        ("cholesky", lambda: _cholesky(s, n)),
        ("lobpcg", lambda: _lobpcg(s, n, kk, torch.Generator().manual_seed(0))),
    ):
        solve()  # warm-up (and LOBPCG's convergence check)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeats):
            result = solve()
        _sync(device)
        out[f"{name}_s"] = (time.perf_counter() - t0) / repeats
        out[f"{name}_top"] = None if result is None else float(result[0][0])
    return out


def timed_run(
    method: str,
    dataset: str,
    hidden: list[int],
    seconds: float,
    *,
    knobs: dict,
    method_options: dict | None = None,
    data_options: dict | None = None,
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 128,
) -> dict:
    """Train ``method`` for ``seconds`` of wall-clock time (whole steps; evaluation only at the
    end) and return its summary, with the time TINY spent capturing, solving and searching."""
    from explorer.config import RunConfig
    from explorer.trainer import Trainer

    config = RunConfig(
        method=method,
        dataset=dataset,
        hidden=hidden,
        seed=seed,
        device=device,
        batch_size=batch_size,
        eval_every=10**9,
        units_every=10**9,
        method_options=method_options or {},
        dataset_options=data_options or {},
        knobs=knobs,
    )
    records: list[dict] = []
    trainer = Trainer(config, sink=lambda r: records.append(r) if r["kind"] == "spectrum" else None)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
    train_seconds = time.perf_counter() - t0
    summary = trainer.summary()
    summary["train_seconds"] = train_seconds
    summary["growth_steps"] = len({r["step"] for r in records})
    summary["tiny_seconds"] = dict(getattr(trainer.method, "seconds", {}))
    summary["routes"] = sorted({r["route"] for r in records})
    return summary


def race(
    dataset: str,
    seconds: float,
    *,
    static_hidden: list[int],
    knobs: dict,
    tiny_options: dict | None = None,
    data_options: dict | None = None,
    seed: int = 0,
    device: str = "auto",
) -> None:
    """TINY from [1, 1] against a large static network for the same wall-clock time."""
    tiny = timed_run(
        "tiny",
        dataset,
        [1, 1],
        seconds,
        knobs=knobs,
        method_options=tiny_options,
        data_options=data_options,
        seed=seed,
        device=device,
    )
    static = timed_run(
        "static",
        dataset,
        static_hidden,
        seconds,
        knobs={"lr": knobs.get("lr", 1e-3)},
        data_options=data_options,
        seed=seed,
        device=device,
    )
    for name, s in (("tiny", tiny), ("static", static)):
        line = (
            f"{name:7s} sizes {s['sizes']} params {s['params']} steps {s['steps']} "
            f"epochs {s['epochs']:.1f} test acc {s['test_acc']:.4f} test loss "
            f"{s['test_loss']:.4f} train {s['train_seconds']:.1f}s"
        )
        if name == "tiny":
            ts = s["tiny_seconds"]
            line += (
                f"; growth steps {s['growth_steps']}, routes {s['routes']}, seconds: "
                + ", ".join(
                    f"{k} {v:.2f} ({100 * v / s['train_seconds']:.1f}%)" for k, v in ts.items()
                )
            )
        print(line, flush=True)


def main(device: str = "auto", repeats: int = 3, threads: int | None = None) -> int:
    """Print the table; ``threads`` pins torch's CPU threads (1 is steadier on a busy box)."""
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(int(threads))
    print(
        f"device: {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}),"
        f" torch {torch.__version__}, threads {torch.get_num_threads()}, float64"
    )
    print(
        f"{'width':>6s} {'d_out':>6s} {'k':>3s} {'cholesky+svd s':>15s} {'lobpcg s':>10s} "
        f"{'faster':>9s} {'top lambda chol/lobpcg':>24s}"
    )
    for width in WIDTHS:
        for d_out in (10, width):
            r = time_routes(width, d_out, dev, repeats=max(1, repeats if width < 4096 else 1))
            faster = "cholesky" if r["cholesky_s"] <= r["lobpcg_s"] else "lobpcg"
            top = f"{r['cholesky_top']:.6g}/" + (
                f"{r['lobpcg_top']:.6g}" if r["lobpcg_top"] is not None else "failed"
            )
            print(
                f"{width:6d} {d_out:6d} {r['k']:3d} {r['cholesky_s']:15.4f} "
                f"{r['lobpcg_s']:10.4f} {faster:>9s} {top:>24s}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m explorer.bench.tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--race",
        type=float,
        metavar="SECONDS",
        help="instead of the solver table: TINY from [1, 1] vs a static net "
        "trained for SECONDS of wall-clock time each",
    )
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="TINY option, e.g. growth_seconds=1",
    )
    parser.add_argument("--static-hidden", default="1000,1000")
    parser.add_argument("--growth-every", type=int, default=50)
    parser.add_argument("--growth-rate", type=float, default=16)
    parser.add_argument("--tau", type=float, default=1e-3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.race:
        from explorer.cli import _options

        if args.threads:
            torch.set_num_threads(args.threads)
        race(
            args.dataset,
            args.race,
            static_hidden=[int(h) for h in args.static_hidden.split(",")],
            knobs={
                "growth_every": args.growth_every,
                "growth_rate": args.growth_rate,
                "tau": args.tau,
                "lr": args.lr,
            },
            tiny_options=_options(args.option),
            data_options=_options(args.data_option),
            seed=args.seed,
            device=args.device,
        )
        raise SystemExit(0)
    raise SystemExit(main(args.device, args.repeats, args.threads))
