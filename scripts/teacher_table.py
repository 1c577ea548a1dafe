"""Do the methods size a network whose right width is known? (issue 15)

`python scripts/teacher_table.py [--steps 3000] [--seeds 0,1,2] [--methods nonparametric,...]
[--dataset teacher] [--option ...]`

Runs every method with its defaults (the CLI's: `run --method M --dataset teacher --steps N
--seed S`) and a static net of the teacher's width w (first layer) for the same steps, one
seed after another on one CPU thread, and prints one JSON line per run, then a markdown table:
final sizes and test accuracy per seed, whether the first layer ends in [w, 2w], and whether
the accuracy is no worse than 1 pp below the static net of the same seed. Extra arguments
after `--` go to every non-static run (e.g. `-- --lam 1e-2`).
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from explorer.cli import build_parser, run_config  # noqa: E402
from explorer.trainer import Trainer  # noqa: E402


def run_one(method: str, dataset: str, steps: int, seed: int, extra: list[str]) -> dict:
    argv = ["run", "--method", method, "--dataset", dataset, "--steps", str(steps)]
    argv += ["--seed", str(seed), "--device", "cpu", *extra]
    config = run_config(build_parser().parse_args(argv))
    started = time.perf_counter()
    trainer = Trainer(config)
    trainer.run(progress=False)
    summary = trainer.summary()
    return {
        "method": method,
        "seed": seed,
        "start": list(config.hidden),
        "sizes": summary["sizes"],
        "test_acc": round(summary["test_acc"], 4),
        "seconds": round(time.perf_counter() - started, 1),
        "args": " ".join(extra),
    }


def split_extra(argv: list[str] | None) -> tuple[list[str], list[str]]:
    """The script's own arguments, and those after ``--`` (passed on to every run)."""
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


def main(argv: list[str] | None = None) -> int:
    argv, extra = split_extra(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="nonparametric,shrinknets")
    parser.add_argument("--dataset", default="teacher")
    parser.add_argument("--width", type=int, default=16, help="the teacher's width w")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    static = {}
    for seed in seeds:
        row = run_one("static", args.dataset, args.steps, seed, ["--hidden", str(args.width)])
        print(json.dumps(row), flush=True)
        static[seed] = row["test_acc"]
    rows = []
    for method in args.methods.split(","):
        for seed in seeds:
            row = run_one(method, args.dataset, args.steps, seed, extra)
            print(json.dumps(row), flush=True)
            rows.append(row)
    w = args.width
    print(f"\nstatic [{w}], {args.steps} steps: " + ", ".join(f"{static[s]:.3f}" for s in seeds))
    print(
        "\n| method (start) | " + " | ".join(f"seed {s}" for s in seeds) + " | in [w, 2w] | acc |"
    )
    print("|---|" + "---|" * (len(seeds) + 2))
    for method in args.methods.split(","):
        mine = [r for r in rows if r["method"] == method]
        cells = [f"{r['sizes']} {r['test_acc']:.3f}" for r in mine]
        sized = sum(w <= r["sizes"][0] <= 2 * w for r in mine)
        good = sum(r["test_acc"] >= static[r["seed"]] - 0.01 for r in mine)
        start = mine[0]["start"]
        print(
            f"| {method} {start} | " + " | ".join(cells) + f" | {sized}/{len(mine)} | "
            f"{good}/{len(mine)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
