"""`python -m explorer landscape ...`: the cell width/depth study headless, and the cost of the
grid evaluations with vmap against plain loops (`--bench`)."""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "landscape",
        help="cell width/depth study: convergence, loss contours, "
        "gradient variance, Hessian (Shu et al. 2020)",
    )
    p.add_argument("--dataset", default="digits")
    p.add_argument("--nodes", type=int, default=7, help="N, nodes per cell (default 7)")
    p.add_argument("--inputs", type=int, default=2, help="M, input nodes (default 2)")
    p.add_argument("--variants", type=int, default=6, help="random variants (default 6)")
    p.add_argument("--variant-seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, help="training seeds per cell (default 1)")
    p.add_argument("--steps", type=int, default=600, help="SGD steps per run (default 600)")
    p.add_argument(
        "--lr",
        type=float,
        action="append",
        help="learning rate, repeatable; landscape after the first (default 0.025)",
    )
    p.add_argument("--width", type=int, default=16, help="c, node width (default 16)")
    p.add_argument("--cells", type=int, default=2, help="L, cells stacked (default 2)")
    p.add_argument("--grid", type=int, default=31, help="contour grid side (default 31)")
    p.add_argument(
        "--variance-grid",
        type=int,
        default=15,
        help="gradient-variance grid side (default 15, 0 skips)",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the tasks on a Dask scheduler ('local' starts a LocalCluster)",
    )
    p.add_argument("--out", help="folder for landscape.json + landscape_surfaces.npz")
    p.add_argument(
        "--bench",
        action="store_true",
        help="time a contour and a gradient-variance map: vmap vs plain loops",
    )
    p.add_argument("--device", default="cpu", help="--bench: cpu, cuda or auto")
    p.add_argument("--repeats", type=int, default=3, help="--bench: timed runs of each (3)")
    return p


def main(args) -> int:
    if args.bench:
        from explorer.landscape.bench import main as bench_main

        return bench_main(
            grid=args.grid,
            variance_grid=args.variance_grid or 31,
            device=args.device,
            dataset=args.dataset,
            repeats=max(1, args.repeats),
        )
    from explorer.landscape.study import StudyConfig, format_table, run_study

    config = StudyConfig(
        dataset=args.dataset,
        n_nodes=args.nodes,
        n_inputs=args.inputs,
        n_variants=args.variants,
        variant_seed=args.variant_seed,
        seeds=args.seeds,
        steps=args.steps,
        learning_rates=[float(x) for x in (args.lr or [0.025])],
        width=args.width,
        n_cells=args.cells,
        grid=args.grid,
        variance_grid=args.variance_grid,
    )
    client = None
    if args.dask:
        from explorer.sweep.run import make_client  # the sweeps' client (LocalCluster or address)

        client = make_client(None if args.dask == "local" else args.dask)
    start = time.time()

    def progress(frac, msg):
        print(
            f"[{time.time() - start:7.1f}s {100 * frac:5.1f}%] {msg}", file=sys.stderr, flush=True
        )

    try:
        result = run_study(
            config,
            progress=progress,
            client=client,
            on_task=(lambda out: result_partial(out, args)) if args.out else None,
        )
    finally:
        if client is not None:
            client.close()
    for cell in result.cells:
        print(
            f"{cell['name']:>7}: width {cell['width']:g}c depth {cell['depth']} "
            f"sources {cell['sources']}"
        )
    print(format_table(result.table()))
    if args.out:
        print(f"wrote {result.save(args.out)}")
    return 0


def result_partial(out, args) -> None:  # progress line per finished task
    runs = out["runs"]
    first = runs[0]
    print(
        f"  {out['cell']} seed {out['seed']}: acc {first['final_test_acc']:.3f} "
        f"auc {first['test_loss_auc']:.3f} top eig {first.get('top_eigenvalue', float('nan')):.3g}"
        f" var {first.get('variance_at_optimum', float('nan')):.3g}",
        file=sys.stderr,
        flush=True,
    )
