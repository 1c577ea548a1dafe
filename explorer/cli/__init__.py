"""Command line: ``python -m explorer {run,resume,export,bench,show,serve,list,sweep,
groupsparsity,landscape}``; one module per subcommand group declares its flags and runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from explorer.cli.arguments import _options, first_sentence
from explorer.cli.bench import add_bench_parser, bench_command
from explorer.cli.export import add_export_parser, export_command
from explorer.cli.run import (
    add_resume_parser,
    add_run_parser,
    resume_command,
    run_command,
    run_config,
)
from explorer.cli.serve import add_serve_parser, add_show_parser, serve_command
from explorer.cli.studies import (
    add_groupsparsity_parser,
    add_list_parser,
    groupsparsity_command,
    landscape_command,
    list_command,
    sweep_command,
)

__all__ = ["_options", "build_parser", "first_sentence", "main", "run_config"]

#: subcommand -> what runs it (each returns the exit status)
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": run_command,
    "resume": resume_command,
    "export": export_command,
    "bench": bench_command,
    "show": serve_command,
    "serve": serve_command,
    "list": list_command,
    "sweep": sweep_command,
    "groupsparsity": groupsparsity_command,
    "landscape": landscape_command,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m explorer", description="Sizing Explorer: watch networks choose their size."
    )
    sub = p.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    add_resume_parser(sub)
    add_export_parser(sub)
    add_bench_parser(sub)
    add_show_parser(sub)
    add_serve_parser(sub)
    add_list_parser(sub)
    from explorer.sweep.cli import add_sweep_parser  # the sweep's flags live with the sweep

    add_sweep_parser(sub)
    add_groupsparsity_parser(sub)
    from explorer.landscape.cli import add_parser as add_landscape

    add_landscape(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
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


def _one_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = " ".join(text.split())
    return text if len(text) <= 500 else text[:497] + "..."
