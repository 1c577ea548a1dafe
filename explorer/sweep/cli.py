"""``python -m explorer sweep``: a sweep from flags or from a TOML file (see
:mod:`explorer.sweep.spec` for the file's layout).

    python -m explorer sweep --out runs/digits --method nonparametric --lam 1e-3,3e-4 \\
        --search 30 --steps 300
    python -m explorer sweep --config sweep.toml --out runs/digits --workers 2
    python -m explorer sweep --config sweep.toml --out /shared/runs --scheduler tcp://host:8786

Flags' knob lists apply to every ``--method``. With ``--config`` the file describes the
points and only ``--out``, ``--workers``, ``--scheduler``, ``--retries``, ``--torch-threads``,
``--no-resume`` and ``--quiet`` apply.
"""

from __future__ import annotations

import argparse

KNOB_FLAGS = ("lam", "gamma", "growth_rate", "tau", "lr")


def _floats(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, e.g. 1e-3,3e-4; got '{text}'"
        ) from None


def _ints(text: str) -> list[int]:
    try:
        return [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, e.g. 10,10; got '{text}'"
        ) from None


def add_sweep_parser(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="many headless runs on Dask: methods x knobs x seeds, "
        "plus a static random search over widths; results table + snapshots",
    )
    p.add_argument(
        "--out",
        required=True,
        help="sweep folder: results.csv and snapshots/ (a shared path on a cluster)",
    )
    p.add_argument("--config", metavar="FILE.toml", help="sweep described in a TOML file")
    p.add_argument(
        "--method",
        action="append",
        help="sizing method (repeatable); default nonparametric unless --search only",
    )
    p.add_argument("--dataset", default="digits")
    p.add_argument("--steps", type=int, default=300, help="steps per point (search too)")
    p.add_argument("--seeds", type=_ints, default=[0], help="e.g. 0,1,2")
    p.add_argument(
        "--hidden", type=_ints, action="append", help="starting widths, e.g. 10,10 (repeatable)"
    )
    for knob in KNOB_FLAGS:
        p.add_argument(
            f"--{knob.replace('_', '-')}",
            dest=knob,
            type=_floats,
            help=f"{knob} values, comma separated",
        )
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="method option for every method, e.g. optimizer=adam",
    )
    p.add_argument(
        "--data-option",
        action="append",
        metavar="KEY=VALUE",
        help="data set option, e.g. limit=2000",
    )
    p.add_argument("--mode", choices=["grid", "random"], default="grid")
    p.add_argument("--samples", type=int, default=0, help="random mode: points per method")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument(
        "--search",
        type=int,
        default=0,
        metavar="N",
        help="static random search of N points over hidden widths",
    )
    p.add_argument(
        "--search-reference",
        default=None,
        help="method whose largest final net sets the search range (default the "
        "first --method), or widths such as 20,20",
    )
    p.add_argument(
        "--search-range",
        type=_floats,
        default=None,
        metavar="LOW,HIGH",
        help="multiples of the reference width (default 1,5 as in the "
        "nonparametric paper sec. 7.4.1; 0.1,2 for shrinknets)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="LocalCluster worker processes (default: cores, at most 4)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler (tcp://host:8786) instead of a LocalCluster",
    )
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch threads per point (default cores / workers)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help="Dask retries of a point whose task raised (default 2)",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="run every point, even those finished in the table before",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def spec_from_args(args):
    from explorer.cli import _options
    from explorer.sweep.spec import MethodGrid, SearchSpec, SweepSpec, load_spec

    if args.config:
        return load_spec(args.config)
    names = args.method or (
        []
        if args.search and args.search_reference and args.search_reference[0].isdigit()
        else ["nonparametric"]
    )
    knobs = {k: getattr(args, k) for k in KNOB_FLAGS if getattr(args, k)}
    options = _options(args.option)
    methods = [
        MethodGrid(
            name=n, hidden=args.hidden or [[10, 10]], knobs=dict(knobs), options=dict(options)
        )
        for n in names
    ]
    search = None
    if args.search:
        ref = args.search_reference or names[0]
        if ref[0].isdigit():
            ref = _ints(ref)
        from explorer.sweep.spec import SEARCH_RANGES

        low, high = args.search_range or SEARCH_RANGES.get(
            ref if isinstance(ref, str) else "", (1.0, 5.0)
        )
        search = SearchSpec(samples=args.search, reference=ref, low=low, high=high)
    return SweepSpec(
        dataset=args.dataset,
        steps=args.steps,
        seeds=args.seeds,
        mode=args.mode,
        samples=args.samples,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
        dataset_options=_options(args.data_option),
        methods=methods,
        search=search,
    )


def sweep_command(args) -> int:
    from explorer.sweep.run import run_sweep

    spec = spec_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    rows = run_sweep(
        spec,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        torch_threads=args.torch_threads,
        retries=args.retries,
        resume=not args.no_resume,
        progress_bar=not args.quiet,
    )
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    print(f"{len(ok)} points finished, {len(failed)} failed; table: {args.out}/results.csv")
    for r in failed:
        print(f"  failed {r['key']} ({r['method']} {r['hidden']}): {r['error']}")
    return 1 if failed and not ok else 0
