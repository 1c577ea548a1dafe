"""``list`` (methods, data sets, presets) and ``groupsparsity`` (switches vs group lasso,
ShrinkNets fig. 1); ``sweep`` and ``landscape`` keep their flags with their packages."""

from __future__ import annotations


def add_list_parser(sub) -> None:
    sub.add_parser("list", help="list the sizing methods and data sets")


def list_command(args) -> int:
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


def add_groupsparsity_parser(sub) -> None:
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


def groupsparsity_command(args) -> int:
    from explorer.group_sparsity import DATASETS
    from explorer.group_sparsity import main as gs_main

    return gs_main(args.dataset or DATASETS, args.points, args.lam2)


def sweep_command(args) -> int:
    from explorer.sweep.cli import sweep_command as sweep

    return sweep(args)


def landscape_command(args) -> int:
    from explorer.landscape.cli import main as landscape_main

    return landscape_main(args)
