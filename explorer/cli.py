"""Command line: ``python -m explorer {run,resume,export,bench,list,sweep}``."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from explorer.config import RunConfig

from explorer.knobs import Knobs, knob_names

#: run arguments a preset may fill in (an explicit command-line value wins)
PRESET_FIELDS = ("method", "dataset", "hidden", "steps", "batch_size", "eval_every")


def first_sentence(text: str) -> str:
    """The first sentence of a knob's doc, for ``--help``: it ends at a full stop followed by
    a capital letter or the end, so "ShrinkNets sec. 3.5" or "eq. 8" stay whole; ``%`` is
    doubled (argparse formats help strings with it)."""
    head = re.split(r"\.(?=\s+[A-Z(]|\s*$)", text.strip(), maxsplit=1)[0]
    return head.replace("%", "%%")


def _radial(text: str):
    """``--radial-lr``: "auto" (alpha_r = 1/(50 lambda), Table 3) or a number."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--radial-lr must be 'auto' or a number, got '{text}'"
        ) from None


def _hidden(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"hidden sizes must be integers separated by commas, e.g. 10,10; got '{text}'"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be >= 1, got '{text}'")
    return sizes


def _options(pairs: list[str], flag: str = "--option") -> dict:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true/false)."""
    out = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{flag} '{pair[:60]}' must look like key=value, e.g. optimizer=adam")
        try:
            out[key.strip()] = json.loads(value, parse_constant=_no_constant)
        except ValueError:  # not JSON (or NaN/Infinity): keep the text
            out[key.strip()] = value
    return out


def _no_constant(name: str):
    raise ValueError(name)


def _check_knob(name: str, value: float) -> float:
    """A knob flag's value: finite, within the knob's bounds; growth_every whole."""
    flag = f"--{name.replace('_', '-')}"
    if not math.isfinite(value):
        raise ValueError(f"{flag} must be a finite number, got {value}")
    lo, hi = Knobs.param[name].bounds
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{flag} must be between {lo:g} and {hi:g}, got {value:g}")
    if name == "growth_every" and value != int(value):
        raise ValueError(f"{flag} must be a whole number of steps, got {value:g}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m explorer", description="Sizing Explorer: watch networks choose their size."
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train one method on one data set, headless")
    run.add_argument(
        "--preset",
        help="a named recipe (see `list`) that fills in method, data "
        "set, sizes, steps, options and knobs; explicit arguments win",
    )
    run.add_argument(
        "--method", default=None, help="sizing method (see `list`); default nonparametric"
    )
    run.add_argument(
        "--dataset",
        default=None,
        help="data set name (see `list`) or a path to .npz/.csv/IDX folder; default digits",
    )
    run.add_argument(
        "--hidden",
        type=_hidden,
        default=None,
        help="starting hidden sizes, e.g. 10,10 (default: the method's own: "
        "nonparametric 10,10, shrinknets 100,100, tiny 1,1)",
    )
    run.add_argument("--steps", type=int, default=None, help="default 3000")
    run.add_argument("--batch-size", type=int, default=None, help="default 128")
    run.add_argument("--eval-every", type=int, default=None, help="default 50")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    run.add_argument(
        "--out",
        help="write a snapshot of the finished run here: a folder "
        "(session.json, history.npz, weights, ...) or a .zip",
    )
    run.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="method option, e.g. optimizer=adam, capnorm=false (repeatable)",
    )
    run.add_argument(
        "--data-option",
        action="append",
        metavar="KEY=VALUE",
        help="data set option, e.g. limit=2000 (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--export-model",
        metavar="DIR",
        help="write the trained network, switches folded away (ShrinkNets sec. "
        "3.6), as safetensors + TorchScript, checked equal to the trained one",
    )
    defaults = Knobs()
    for name in knob_names():
        if name == "radial_lr":
            run.add_argument(
                "--radial-lr",
                dest=name,
                type=_radial,
                default=None,
                help="alpha_r: 'auto' (default: 1/(50 lambda), Table 3, a unit "
                "lives 50 epochs) or a number",
            )
            continue
        run.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            type=float,
            default=None,
            help=first_sentence(Knobs.param[name].doc or "")
            + f" (default {getattr(defaults, name):g})",
        )

    resume = sub.add_parser("resume", help="continue training from a snapshot")
    resume.add_argument("snapshot", help="snapshot folder or .zip")
    resume.add_argument("--steps", type=int, required=True, help="further steps to train")
    resume.add_argument("--out", help="write the new snapshot here (folder or .zip)")
    resume.add_argument("--device", help="override the saved device (auto, cpu, cuda)")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")

    export = sub.add_parser("export", help="export a snapshot: tables, plain model, HTML, PNG")
    export.add_argument("snapshot", help="snapshot folder or .zip")
    export.add_argument("--csv", metavar="DIR", help="history as one CSV per record kind")
    export.add_argument("--parquet", metavar="DIR", help="history as one Parquet per kind")
    export.add_argument("--html", metavar="FILE", help="static dashboard page (no server)")
    export.add_argument("--png", metavar="FILE", help="picture of the dashboard (Chromium)")
    export.add_argument(
        "--model",
        metavar="DIR",
        help="final network as a plain torch model (safetensors + TorchScript)",
    )

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

    show = sub.add_parser("show", help="serve the explorer on a saved snapshot (replay)")
    show.add_argument("snapshot", help="a snapshot folder or .zip (run --out writes one)")
    show.add_argument(
        "--resume",
        action="store_true",
        help="restore the trainer too, so the page can train on from it",
    )
    show.add_argument("--port", type=int, default=5006)
    show.add_argument("--address", default="127.0.0.1")
    show.add_argument("--show", action="store_true", help="open a browser tab")

    serve = sub.add_parser("serve", help="serve the live explorer page (Panel)")
    serve.add_argument("--port", type=int, default=5006)
    serve.add_argument(
        "--address",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1, this machine only)",
    )
    serve.add_argument("--show", action="store_true", help="open a browser tab")

    sub.add_parser("list", help="list the sizing methods and data sets")

    from explorer.sweep.cli import add_sweep_parser  # the sweep's flags live with the sweep

    add_sweep_parser(sub)

    gs = sub.add_parser(
        "groupsparsity", help="switches vs group lasso: loss/sparsity table (ShrinkNets fig. 1)"
    )
    gs.add_argument(
        "--dataset",
        action="append",
        choices=["synthetic", "linnerud", "digits"],
        help="repeatable; default all three",
    )
    gs.add_argument("--points", type=int, default=10, help="lambdas per method (default 10)")
    gs.add_argument(
        "--lam2",
        type=float,
        default=1e-3,
        help="weight penalty of the switch relaxation (eq. 8), default 1e-3",
    )
    from explorer.landscape.cli import add_parser as add_landscape

    add_landscape(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "resume":
            return _resume(args)
        if args.command == "export":
            from explorer.export import export_command

            return export_command(args)
        if args.command == "bench" and args.tiny:
            from explorer.bench.tiny import main as bench_tiny_main

            return bench_tiny_main(device=args.device, repeats=min(args.repeats, 3))
        if args.command in ("serve", "show"):
            return _serve(args)
        if args.command == "bench" and args.app:
            from explorer.bench.app import main as bench_app_main

            return bench_app_main(windows=args.windows, window_s=args.window_seconds)
        if args.command == "bench" and args.optimizers:
            from explorer.bench.optimizers import main as bench_main

            return bench_main(device=args.device, repeats=args.repeats)
        if args.command == "bench":
            from explorer.bench.suite import main as bench_suite_main

            return bench_suite_main(quick=args.quick, json_path=args.json)
        if args.command == "list":
            return _list()
        if args.command == "sweep":
            from explorer.sweep.cli import sweep_command

            return sweep_command(args)
        if args.command == "landscape":
            from explorer.landscape.cli import main as landscape_main

            return landscape_main(args)
        if args.command == "groupsparsity":
            from explorer.group_sparsity import DATASETS
            from explorer.group_sparsity import main as gs_main

            return gs_main(args.dataset or DATASETS, args.points, args.lam2)
    except (ValueError, KeyError, RuntimeError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file that cannot be written or read: say which and why
        from explorer.data.bounded import os_problem

        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{os_problem(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; try a smaller data set, network or batch", file=sys.stderr)
        return 2
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:497] + "..."


#: largest websocket message the served page accepts (an upload travels as one message)
WEBSOCKET_MAX_BYTES = 100 << 20


def _serve(args) -> int:
    import panel as pn

    from explorer.app import ExplorerApp
    from explorer.page.runs_tab import served_tabs

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")

    def make():  # served pages train in a child process (explorer/runner_process.py)
        return ExplorerApp(trainer_in="process", tabs=served_tabs())

    if args.command == "show":
        from explorer.snapshot import load_snapshot

        load_snapshot(args.snapshot)  # a bad file fails here, before the server starts

        def make():
            return ExplorerApp.open_snapshot(
                args.snapshot, resume=args.resume, trainer_in="process"
            )

    print(f"Sizing Explorer at http://{args.address}:{args.port}/ (Ctrl-C stops)")
    _stop_on_sigterm()
    try:
        # a closed tab's session (and its trainer) ends within ~2 s, not Bokeh's 15-32 s
        pn.serve(
            lambda: make().template(),
            port=args.port,
            address=args.address,
            show=args.show,
            title="Sizing Explorer",
            websocket_origin=[f"{args.address}:{args.port}", f"localhost:{args.port}"],
            check_unused_sessions=1000,
            unused_session_lifetime=1000,
            # above the upload limits (64 MB), so a too-large upload gets a message
            # from the page instead of a closed websocket and a dead page
            websocket_max_message_size=WEBSOCKET_MAX_BYTES,
        )
    except KeyboardInterrupt:
        pass
    finally:
        from explorer.session import close_all

        print(f"stopped; closed {close_all()} page session(s)", file=sys.stderr)
    return 0


def _stop_on_sigterm() -> None:
    """SIGTERM stops the server like Ctrl-C does, so the trainers are closed (explorer/
    session.py close_all), not orphaned."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _list() -> int:
    from explorer.data import DATASETS
    from kernels.methods import METHODS

    print("methods:")
    for name, cls in sorted(METHODS.items()):
        print(f"  {name:14s} {cls.description}")
    print("data sets:")
    for name, entry in sorted(DATASETS.items()):
        print(f"  {name:14s} {entry.description}")
    from explorer.presets import PRESETS

    print("presets (run --preset NAME):")
    for name, preset in sorted(PRESETS.items()):
        print(f"  {name:22s} {preset.description}")
    return 0


def _run(args) -> int:
    from explorer.config import check_options
    from explorer.history import History
    from explorer.snapshot import save_snapshot
    from explorer.targets import check_target
    from explorer.trainer import Trainer

    config = run_config(args)
    check_options(config)
    # bad output targets fail now, not after the training they would throw away
    check_target(args.out, "--out", "snapshot")
    check_target(args.export_model, "--export-model", "outdir")
    history = History()
    trainer = Trainer(config, sink=history.add)
    trainer.run(progress=not args.quiet)
    summary = trainer.summary()
    if args.out:
        save_snapshot(trainer, history, args.out, summary=summary)
    if args.export_model:
        from explorer.export import export_model

        report = export_model(trainer, args.export_model)
        print(
            f"plain model written to {args.export_model} (max relative diff "
            f"{report['check']['max_relative_diff']:.2g} on the test split)"
        )
    _report(config, summary, history, args.out)
    return 0


def run_config(args) -> RunConfig:
    """The run's configuration from the parsed arguments: preset first, then the explicit
    arguments; hidden sizes default to the method's own (``default_hidden``)."""
    from explorer.config import RunConfig
    from kernels.methods import get_method

    fields: dict = {
        "method": "nonparametric",
        "dataset": "digits",
        "steps": 3000,
        "batch_size": 128,
        "eval_every": 50,
    }
    method_options, dataset_options, knobs = {}, {}, {}
    if args.preset:
        from explorer.presets import get_preset

        preset = get_preset(args.preset)
        fields.update(preset.fields())
        method_options, dataset_options = dict(preset.method_options), dict(preset.dataset_options)
        knobs = dict(preset.knobs)
    for name in PRESET_FIELDS:
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.method is not None and args.preset and args.method != fields.get("method"):
        method_options = {}
    method_options.update(_options(args.option))
    dataset_options.update(_options(args.data_option, "--data-option"))
    for name in knob_names():
        value = getattr(args, name)
        if value is None:
            continue
        if name == "radial_lr":
            knobs["radial_auto"] = value == "auto"
            if value == "auto":
                continue
        knobs[name] = _check_knob(name, value)
    if "growth_every" in knobs:
        knobs["growth_every"] = int(knobs["growth_every"])
    if "hidden" not in fields:
        fields["hidden"] = list(get_method(fields["method"]).default_hidden)
    return RunConfig(
        **fields,
        seed=args.seed,
        device=args.device,
        method_options=method_options,
        dataset_options=dataset_options,
        knobs=knobs,
    )


def _resume(args) -> int:
    from explorer.config import MAX_STEPS
    from explorer.snapshot import load_snapshot, restore, save_snapshot

    if not 1 <= args.steps <= MAX_STEPS:
        raise ValueError(f"--steps must be between 1 and {MAX_STEPS:,}, got {args.steps}")
    from explorer.targets import check_target

    check_target(args.out, "--out", "snapshot")
    trainer, history = restore(load_snapshot(args.snapshot), device=args.device)
    start_step, start_sizes = trainer.step_count, list(trainer.model.hidden_sizes)
    trainer.run(args.steps, progress=not args.quiet)
    summary = trainer.summary()
    if args.out:
        save_snapshot(trainer, history, args.out, summary=summary)
    _report(trainer.config, summary, history, args.out, start=(start_step, start_sizes))
    return 0


def _report(
    config, summary: dict, history, out, start: tuple[int, list[int]] | None = None
) -> None:
    """One line on a finished run; ``start`` = (step, sizes) where a resumed run began, so
    its sizes and unit counts are those of this leg, not of the original run's start."""
    events = history.rows.get("event", [])
    sizes_from = f"sizes {config.hidden}"
    if start is not None:
        events = [e for e in events if e["step"] >= start[0]]
        sizes_from = f"from step {start[0]}: sizes {start[1]}"
    born = sum(e["event"] == "born" for e in events)
    print(
        f"{config.method} on {config.dataset}: {sizes_from} -> {summary['sizes']}, "
        f"test acc {summary['test_acc']:.4f}, val loss {summary['val_loss']:.4f}, "
        f"{born} born / {len(events) - born} died, {summary['seconds']:.1f}s on "
        f"{summary['device']}" + (f", snapshot written to {out}" if out else "")
    )
