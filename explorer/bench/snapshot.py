"""How long saving and loading a snapshot takes, and how big it is, for a digits run.

    python -m explorer.bench.snapshot [--steps 3000] [--method nonparametric] [--out DIR]

``capture`` is what a training thread pays (it must fit within about one step); ``write``
runs on another thread in the app.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from explorer.bench.table import Figure, figure
from explorer.config import RunConfig
from explorer.history import History
from explorer.snapshot import capture, load_snapshot, restore, write
from explorer.trainer import Trainer


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


def snapshot_figures(repeats: int, steps: int = 200) -> list[Figure]:
    history = History()
    trainer = Trainer(RunConfig(dataset="digits", device="cpu", steps=steps), sink=history.add)
    trainer.run()
    cap, wr = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            t0 = time.perf_counter()
            data = capture(trainer, history)
            cap.append((time.perf_counter() - t0) * 1e3)
            t0 = time.perf_counter()
            write(data, Path(tmp) / "snap")
            wr.append((time.perf_counter() - t0) * 1e3)
    return [
        figure(f"snapshot capture, nonparametric digits {steps} steps", cap, "ms"),
        figure(f"snapshot write, nonparametric digits {steps} steps", wr, "ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m explorer.bench.snapshot")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--method", default="nonparametric")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", help="folder for the snapshots (default: a temporary one)")
    args = p.parse_args(argv)

    history = History()
    trainer = Trainer(
        RunConfig(method=args.method, dataset=args.dataset, device=args.device, steps=args.steps),
        sink=history.add,
    )
    t0 = time.perf_counter()
    trainer.run()
    per_step = (time.perf_counter() - t0) / args.steps
    print(
        f"{args.method} on {args.dataset}: {args.steps} steps, sizes "
        f"{trainer.model.hidden_sizes}, {len(history)} history records, "
        f"{per_step * 1e3:.2f} ms/step"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        for target in (out / "snap", out / "snap.zip"):
            cap, wr, ld, rs = [], [], [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                data = capture(trainer, history)
                cap.append(time.perf_counter() - t)
                t = time.perf_counter()
                write(data, target)
                wr.append(time.perf_counter() - t)
                t = time.perf_counter()
                loaded = load_snapshot(target)
                ld.append(time.perf_counter() - t)
                t = time.perf_counter()
                restore(loaded)
                rs.append(time.perf_counter() - t)
            print(
                f"{target.name:9s} size {_size(target) / 1024:7.1f} KiB | median of "
                f"{args.repeats}: capture {sorted(cap)[len(cap) // 2] * 1e3:6.1f} ms, write "
                f"{sorted(wr)[len(wr) // 2] * 1e3:6.1f} ms, load "
                f"{sorted(ld)[len(ld) // 2] * 1e3:6.1f} ms, restore "
                f"{sorted(rs)[len(rs) // 2] * 1e3:6.1f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
