"""Landscape results for the snapshot tests, made without training a cell (milliseconds): a
study of the widest cell and the chain with hand-written runs and records and grids that hold
the awkward values (NaN and inf in the loss, float32 and float64), and a real "this network
now" result of a tiny MLP."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import torch

from explorer.landscape.study import StudyConfig, StudyResult


def study() -> StudyResult:
    cfg = StudyConfig(n_nodes=4, n_variants=0, steps=20, eval_every=10, grid=5, variance_grid=3)
    cfg.learning_rates = [0.05, 0.5]
    cells = [c.to_dict() for c in cfg.cells()]
    rng = np.random.default_rng(0)
    out = StudyResult(cfg.to_dict(), cells)
    for c in cells:
        for lr in cfg.learning_rates:
            out.runs.append(
                {
                    "variant": c["name"],
                    "lr": lr,
                    "seed": 0,
                    "width": c["width"],
                    "depth": c["depth"],
                    "final_test_acc": float(rng.uniform()),
                    "final_test_loss": float(rng.uniform(1, 2)),
                    "test_loss_auc": float(rng.uniform(1, 2)),
                    "steps_to_target": None,
                    "diverged": False,
                    **(
                        {
                            "top_eigenvalue": float(rng.uniform(1, 9)),
                            "loss_at_optimum": 1.0,
                            "variance_at_optimum": float("nan"),
                            "hessian_iters": 12,
                        }
                        if lr == cfg.learning_rates[0]
                        else {}
                    ),
                }
            )
            for step in (10, 20):
                out.records.append(
                    {"kind": "step", "step": step, "loss": 2.0, "lr": lr, "variant": c["name"]}
                )
                out.records.append(
                    {
                        "kind": "eval",
                        "step": step,
                        "test_loss": float(rng.uniform(1, 2)),
                        "test_acc": float(rng.uniform()),
                        "variant": c["name"],
                        "lr": lr,
                        "seed": 0,
                    }
                )
        loss = rng.uniform(1, 3, (5, 5))
        loss[0, 0], loss[4, 4] = np.nan, np.inf  # a diverged corner: kept as it is
        out.surfaces[f"{c['name']}/0"] = {
            "alphas": np.linspace(-1, 1, 5),
            "betas": np.linspace(-1, 1, 5),
            "loss": loss,
            "variance": rng.uniform(0, 1, (3, 3)).astype(np.float32),
            "var_alphas": np.linspace(-1, 1, 3).astype(np.float32),
            "var_betas": np.linspace(-1, 1, 3).astype(np.float32),
        }
    return out


def network():
    from kernels.landscape import analyse_network

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    X, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    return analyse_network(model, X, y, grid=5, variance_grid=3, hessian_iters=10)


def landscape() -> dict:
    return {"study": study(), "network": network()}


def small_run():
    """(trainer, history) of a 3-step run on digits."""
    from explorer.config import RunConfig
    from explorer.history import History
    from explorer.trainer import Trainer

    history = History()
    trainer = Trainer(
        RunConfig(steps=3, eval_every=1, units_every=1, hidden=[4, 3]), sink=history.add
    )
    trainer.run()
    return trainer, history


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_landscape(a: dict, b: dict) -> None:
    """Bit for bit: every grid, run, record and summary figure."""
    assert set(a) == set(b)
    if "study" in a:
        sa, sb = a["study"], b["study"]
        assert sa.config == sb.config and sa.cells == sb.cells
        assert _nan_safe(sa.runs) == _nan_safe(sb.runs) and sa.records == sb.records
        assert sorted(sa.surfaces) == sorted(sb.surfaces)
        for key, grids in sa.surfaces.items():
            assert sorted(grids) == sorted(sb.surfaces[key])
            for name, arr in grids.items():
                assert same_bits(np.asarray(arr), sb.surfaces[key][name]), (key, name)
    if "network" in a:
        na, nb = a["network"], b["network"]
        for name, arr in na.to_arrays().items():
            assert same_bits(arr, nb.to_arrays()[name]), name
        assert repr(na.summary()) == repr(nb.summary())


def _nan_safe(rows):
    return [{k: repr(v) for k, v in r.items()} for r in rows]


def figure_data(obj) -> list:
    """What a HoloViews figure draws: per element its type, title and every dimension's
    values (NaN-safe), in order; two equal lists draw the same figure."""
    out = []
    for el in obj.traverse(lambda e: e, [hv.Element]):
        dims = el.dimensions()
        values = [np.asarray(el.dimension_values(d, flat=False)) for d in dims]
        title = el.opts.get("plot").kwargs.get("title")
        out.append(
            (
                type(el).__name__,
                title,
                [d.name for d in dims],
                [v.astype(str).tolist() for v in values],
            )
        )
    return out
