"""Do the nonparametric defaults reach a static 100-100 MLP on MNIST-1D? (issue 15)

`python scripts/mnist1d_table.py [--steps 6000] [--seeds 0,1,2] [-- extra run flags]`

Runs the static 100-100 MLP with the MNIST-1D paper's settings (preset `static-mnist1d-mlp`:
Adam 1e-2, batch 100) and the nonparametric method with its defaults (`run --method
nonparametric --dataset mnist1d`: the data set's declared Table 3 lifetime, the protocol), the
same steps, one seed after another on one CPU thread; prints one JSON line per run, then a
markdown table: final sizes and test accuracy per seed and whether nonparametric reaches the
static net of the same seed and on the mean. Extra arguments after `--` go to the
nonparametric runs (e.g. `-- --option lifetime=5` for the method's own default).
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import torch  # noqa: E402
from teacher_table import run_one, split_extra  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    argv, extra = split_extra(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: dict[str, dict[int, dict]] = {"static": {}, "nonparametric": {}}
    for seed in seeds:
        static = ["--preset", "static-mnist1d-mlp"]
        rows["static"][seed] = run_one("static", "mnist1d", args.steps, seed, static)
        print(json.dumps(rows["static"][seed]), flush=True)
        rows["nonparametric"][seed] = run_one("nonparametric", "mnist1d", args.steps, seed, extra)
        print(json.dumps(rows["nonparametric"][seed]), flush=True)
    print(f"\nmnist1d, {args.steps} steps\n")
    print("| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |")
    print("|---|" + "---|" * (len(seeds) + 1))
    means = {}
    for method, mine in rows.items():
        means[method] = sum(mine[s]["test_acc"] for s in seeds) / len(seeds)
        cells = [f"{mine[s]['sizes']} {mine[s]['test_acc']:.3f}" for s in seeds]
        print(f"| {method} | " + " | ".join(cells) + f" | {means[method]:.3f} |")
    won = sum(rows["nonparametric"][s]["test_acc"] >= rows["static"][s]["test_acc"] for s in seeds)
    print(
        f"\nnonparametric >= static: {won}/{len(seeds)} seeds; mean "
        f"{means['nonparametric']:.3f} vs {means['static']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
