"""``bench``: every speed figure in one table, or one detailed bench (:mod:`explorer.bench`)."""

from __future__ import annotations


def add_bench_parser(sub) -> None:
    bench = sub.add_parser(
        "bench",
        help="every speed figure in one table (median, spread); "
        "--tiny/--app/--optimizers for one detailed bench",
    )
    bench.add_argument(
        "--quick", action="store_true", help="a subset with few repetitions (about a minute)"
    )
    bench.add_argument(
        "--json",
        metavar="PATH",
        help="also write the figures with machine, device, versions, commit",
    )
    bench.add_argument(
        "--optimizers", action="store_true", help="AdaRad/Adam/RMSprop step table in ns per weight"
    )
    bench.add_argument("--device", default="auto")
    bench.add_argument("--repeats", type=int, default=50)
    bench.add_argument(
        "--tiny",
        action="store_true",
        help="TINY eigen-solve: Cholesky + SVD vs LOBPCG at widths 256-4096",
    )
    bench.add_argument(
        "--app",
        action="store_true",
        help="the live page's cost: throughput with the page open in headless "
        "Chromium, refreshing vs held (interleaved windows of one run), "
        "and slider-to-step latency",
    )
    bench.add_argument(
        "--windows", type=int, default=31, help="--app: refresh held / refreshing windows (odd)"
    )
    bench.add_argument(
        "--window-seconds", type=float, default=3.0, help="--app: seconds per window"
    )


def bench_command(args) -> int:
    if args.tiny:
        from explorer.bench.tiny import main as bench_tiny_main

        return bench_tiny_main(device=args.device, repeats=min(args.repeats, 3))
    if args.app:
        from explorer.bench.app import main as bench_app_main

        return bench_app_main(windows=args.windows, window_s=args.window_seconds)
    if args.optimizers:
        from explorer.bench.optimizers import main as bench_main

        return bench_main(device=args.device, repeats=args.repeats)
    from explorer.bench.suite import main as bench_suite_main

    return bench_suite_main(quick=args.quick, json_path=args.json)
