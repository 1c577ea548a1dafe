"""``run`` (train one method on one data set, headless) and ``resume`` (train on from a
snapshot): their flags, the run's configuration from them, and the closing report line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from explorer.cli.arguments import _check_knob, _hidden, _options, _radial, first_sentence
from explorer.knobs import Knobs, knob_names

if TYPE_CHECKING:
    from explorer.config import RunConfig


def add_run_parser(sub) -> None:
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
                help="alpha_r: 'auto' (default: 1/(T lambda), a unit lives T epochs: the "
                "data set's Table 3 value, 50 on mnist, rectangles, convex and mnist1d, else 5; "
                "--option lifetime=T sets it) or a number",
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


def add_resume_parser(sub) -> None:
    resume = sub.add_parser("resume", help="continue training from a snapshot")
    resume.add_argument("snapshot", help="snapshot folder or .zip")
    resume.add_argument("--steps", type=int, required=True, help="further steps to train")
    resume.add_argument("--out", help="write the new snapshot here (folder or .zip)")
    resume.add_argument("--device", help="override the saved device (auto, cpu, cuda)")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args) -> int:
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
    from explorer.presets import PRESET_FIELDS, config_defaults
    from kernels.methods import get_method

    fields: dict = config_defaults()
    del fields["hidden"]  # the method's own unless a preset or --hidden says
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


def resume_command(args) -> int:
    from explorer.config import MAX_STEPS
    from explorer.snapshot import capture, load_snapshot, restore, write

    if not 1 <= args.steps <= MAX_STEPS:
        raise ValueError(f"--steps must be between 1 and {MAX_STEPS:,}, got {args.steps}")
    from explorer.targets import check_target

    check_target(args.out, "--out", "snapshot")
    data = load_snapshot(args.snapshot)
    for problem in data.problems:  # a part left out (the run itself loaded): say so
        print(f"warning: {problem}", file=sys.stderr)
    trainer, history = restore(data, device=args.device)
    start_step, start_sizes = trainer.step_count, list(trainer.model.hidden_sizes)
    trainer.run(args.steps, progress=not args.quiet)
    summary = trainer.summary()
    if args.out:
        resumed = capture(trainer, history, summary)
        resumed.landscape = data.landscape  # the session's landscape results go on with it
        write(resumed, args.out)
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
