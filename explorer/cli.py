"""Command line: ``python -m explorer {run,bench,list}``."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.knobs import Knobs, knob_names


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, e.g. 10,10; got '{text}'") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1, got '{text}'")
    return sizes


def _options(pairs: list[str]) -> dict:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true/false)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise argparse.ArgumentTypeError(f"option '{pair}' must look like key=value")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m explorer",
                                description="Sizing Explorer: watch networks choose their size.")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train one method on one data set, headless")
    run.add_argument("--method", default="nonparametric",
                     help="sizing method (see `list`); default nonparametric")
    run.add_argument("--dataset", default="digits",
                     help="data set name (see `list`) or a path to .npz/.csv/IDX folder")
    run.add_argument("--hidden", type=_hidden, default=[10, 10],
                     help="starting hidden sizes, e.g. 10,10 (default)")
    run.add_argument("--steps", type=int, default=3000)
    run.add_argument("--batch-size", type=int, default=128)
    run.add_argument("--eval-every", type=int, default=50)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    run.add_argument("--out", help="folder for session.json and history.npz")
    run.add_argument("--option", action="append", metavar="KEY=VALUE",
                     help="method option, e.g. optimizer=adam, capnorm=false (repeatable)")
    run.add_argument("--data-option", action="append", metavar="KEY=VALUE",
                     help="data set option, e.g. limit=2000 (repeatable)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    defaults = Knobs()
    for name in knob_names():
        run.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float,
                         default=getattr(defaults, name),
                         help=Knobs.param[name].doc.split(".")[0])

    bench = sub.add_parser("bench", help="benchmarks (AdaRad vs Adam step, ...)")
    bench.add_argument("--device", default="auto")
    bench.add_argument("--repeats", type=int, default=50)
    bench.add_argument("--app", action="store_true",
                       help="the live page's cost: throughput with the page open in headless "
                            "Chromium vs headless, and slider-to-step latency")
    bench.add_argument("--steps", type=int, default=1500, help="steps per run of --app")

    serve = sub.add_parser("serve", help="serve the live explorer page (Panel)")
    serve.add_argument("--port", type=int, default=5006)
    serve.add_argument("--address", default="127.0.0.1",
                       help="interface to listen on (default 127.0.0.1, this machine only)")
    serve.add_argument("--show", action="store_true", help="open a browser tab")

    sub.add_parser("list", help="list the sizing methods and data sets")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "bench" and args.app:
            from explorer.bench_app import main as bench_app_main

            return bench_app_main(steps=args.steps)
        if args.command == "bench":
            from explorer.bench import main as bench_main

            return bench_main(device=args.device, repeats=args.repeats)
        if args.command == "list":
            return _list()
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _serve(args) -> int:
    import panel as pn

    from explorer.app import ExplorerApp

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    print(f"Sizing Explorer at http://{args.address}:{args.port}/ (Ctrl-C stops)")
    pn.serve(lambda: ExplorerApp().template(), port=args.port, address=args.address,
             show=args.show, title="Sizing Explorer",
             websocket_origin=[f"{args.address}:{args.port}", f"localhost:{args.port}"])
    return 0


def _list() -> int:
    from explorer.data import DATASETS
    from kernels.methods import METHODS

    print("methods:")
    for name, cls in sorted(METHODS.items()):
        print(f"  {name:14s} {cls.description}")
    print("data sets:")
    for name, entry in sorted(DATASETS.items()):
        print(f"  {name:14s} {entry.description}")
    return 0


def _run(args) -> int:
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.run_output import write_run
    from explorer.trainer import Trainer

    knobs = {name: getattr(args, name) for name in knob_names()}
    knobs["growth_every"] = int(knobs["growth_every"])
    config = RunConfig(method=args.method, dataset=args.dataset, hidden=args.hidden,
                       seed=args.seed, device=args.device, steps=args.steps,
                       batch_size=args.batch_size, eval_every=args.eval_every,
                       method_options=_options(args.option),
                       dataset_options=_options(args.data_option), knobs=knobs)
    history = History()
    trainer = Trainer(config, sink=history.add)
    trainer.run(progress=not args.quiet)
    summary = trainer.summary()
    if args.out:
        write_run(args.out, config, summary, history, trainer.knobs.values())
    events = history.rows.get("event", [])
    born = sum(e["event"] == "born" for e in events)
    print(f"{config.method} on {config.dataset}: sizes {config.hidden} -> {summary['sizes']}, "
          f"test acc {summary['test_acc']:.4f}, val loss {summary['val_loss']:.4f}, "
          f"{born} born / {len(events) - born} died, {summary['seconds']:.1f}s on "
          f"{summary['device']}" + (f", written to {args.out}" if args.out else ""))
    return 0
