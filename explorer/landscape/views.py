"""HoloViews views of the cell study (Shu, Wang & Cai 2020): per cell, the loss contour
s(alpha, beta) (sec. 4.2.1, fig. 6) and the gradient standard deviation sqrt(g(alpha, beta))
(sec. 4.2.2, fig. 7: the paper plots sqrt(g) too), with linked alpha/beta axes and one colour
range per measure across cells; convergence curves per cell (sec. 4.1, fig. 3); width and depth
against convergence speed and final test accuracy (sec. 5: convergence is not generalization).

Built from a :class:`explorer.landscape.study.StudyResult` (plain arrays), so a saved study
draws the same figures as a live one.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from explorer.landscape.study import StudyResult

hv.extension("bokeh", logo=False)

PALETTE = (
    "#1f77b4",
    "#2ca02c",
    "#17becf",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#ff7f0e",
    "#aec7e8",
    "#98df8a",
    "#c5b0d5",
    "#c49c94",
    "#d62728",
)


def cell_colors(result: StudyResult) -> dict[str, str]:
    names = [c["name"] for c in result.cells]
    out = {n: PALETTE[i % (len(PALETTE) - 1)] for i, n in enumerate(names)}
    if "chain" in out:
        out["chain"] = "#d62728"
    return out


def _clim(arrays, lo_q=0.0, hi_q=95.0) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return (0.0, 1.0)
    lo, hi = float(np.percentile(vals, lo_q)), float(np.percentile(vals, hi_q))
    return (lo, hi if hi > lo else lo + 1e-9)


def surfaces(result: StudyResult, seed: int = 0, cols: int = 4, size: int = 230):
    """One row pair per cell: loss contour (image + contour lines) and gradient std map."""
    present = [c for c in result.cells if f"{c['name']}/{seed}" in result.surfaces]
    if not present:
        return None
    runs = {(r["variant"], r["seed"]): r for r in result.runs if "top_eigenvalue" in r}
    loss_lim = _clim([result.surfaces[f"{c['name']}/{seed}"]["loss"] for c in present])
    var_arrays = [
        np.sqrt(np.maximum(result.surfaces[f"{c['name']}/{seed}"]["variance"], 0))
        for c in present
        if "variance" in result.surfaces[f"{c['name']}/{seed}"]
    ]
    var_lim = _clim(var_arrays) if var_arrays else None
    plots = []
    for c in present:
        s = result.surfaces[f"{c['name']}/{seed}"]
        run = runs.get((c["name"], seed), {})
        head = f"{c['name']}: w {c['width']:g}c, d {c['depth']}"
        img = hv.Image(
            (s["alphas"], s["betas"], s["loss"]),
            kdims=["alpha", "beta"],
            vdims=["loss"],
            group="Loss",
        )
        lines = hv.operation.contours(img, levels=list(np.linspace(*loss_lim, 10)), filled=False)
        plots.append(
            img.opts(
                cmap="viridis",
                clim=loss_lim,
                colorbar=True,
                tools=["hover"],
                title=f"{head}, eig {run.get('top_eigenvalue', np.nan):.3g}",
                width=size + 60,
                height=size,
            )
            * lines.opts(color="white", line_width=1, alpha=0.8)
        )
        if "variance" in s and var_lim is not None:
            std = np.sqrt(np.maximum(s["variance"], 0))
            plots.append(
                hv.Image(
                    (s["var_alphas"], s["var_betas"], std),
                    kdims=["alpha", "beta"],
                    vdims=["grad std"],
                    group="Variance",
                ).opts(
                    cmap="magma",
                    clim=var_lim,
                    colorbar=True,
                    tools=["hover"],
                    title=f"{c['name']}: sqrt g, at w* "
                    f"{np.sqrt(max(run.get('variance_at_optimum', np.nan), 0)):.3g}",
                    width=size + 60,
                    height=size,
                )
            )
    return hv.Layout(plots).cols(cols).opts(shared_axes=True)


def curves(result: StudyResult, lr: float | None = None, width: int = 460, height: int = 300):
    """Test loss and accuracy against step, mean over seeds, one line per cell (fig. 3)."""
    evals = [r for r in result.records if r["kind"] == "eval"]
    if not evals:
        return None
    lr = evals[0]["lr"] if lr is None else lr
    colors = cell_colors(result)
    loss_lines, acc_lines = {}, {}
    for c in result.cells:
        mine = [r for r in evals if r["variant"] == c["name"] and r["lr"] == lr]
        if not mine:
            continue
        steps = sorted({r["step"] for r in mine})
        loss = [np.nanmean([r["test_loss"] for r in mine if r["step"] == s]) for s in steps]
        acc = [np.nanmean([r["test_acc"] for r in mine if r["step"] == s]) for s in steps]
        label = f"{c['name']} (w {c['width']:g}, d {c['depth']})"
        loss_lines[label] = hv.Curve((steps, loss), "step", "test loss").opts(
            color=colors[c["name"]]
        )
        acc_lines[label] = hv.Curve((steps, acc), "step", "test accuracy").opts(
            color=colors[c["name"]]
        )
    if not loss_lines:
        return None
    opts = dict(width=width, height=height, tools=["hover"], legend_position="right")
    return (
        hv.NdOverlay(loss_lines, kdims="cell").opts(
            title=f"test loss, lr {lr:g}", logy=True, **opts
        )
        + hv.NdOverlay(acc_lines, kdims="cell").opts(title=f"test accuracy, lr {lr:g}", **opts)
    ).opts(shared_axes=True)


def scatter(result: StudyResult, lr: float | None = None, size: int = 250):
    """Width and depth against convergence speed (mean test loss over the run, lower =
    faster), final test accuracy, top Hessian eigenvalue and gradient variance at the trained
    weights (sec. 4.1, 4.2, 5); one point per cell, means over seeds."""
    rows = result.table()
    if not rows:
        return None
    lr = result.config["learning_rates"][0] if lr is None else lr
    columns = {
        "width": lambda r: r["width"],
        "depth": lambda r: r["depth"],
        "mean test loss": lambda r: r.get(f"auc@{lr:g}", np.nan),
        "final test accuracy": lambda r: r.get(f"acc@{lr:g}", np.nan),
        "top eigenvalue": lambda r: r.get("top_eigenvalue", np.nan),
        "gradient variance": lambda r: r.get("variance_at_optimum", np.nan),
        "cell": lambda r: r["variant"],
    }
    plots = []
    for x in ("width", "depth"):
        for y in ("mean test loss", "final test accuracy", "top eigenvalue", "gradient variance"):
            dims = [x, y] + [k for k in columns if k not in (x, y)]
            pts = [tuple(columns[k](r) for k in dims) for r in rows]
            plots.append(
                hv.Scatter(pts, kdims=dims[:1], vdims=dims[1:]).opts(
                    size=9,
                    color="#1f77b4",
                    tools=["hover"],
                    width=size,
                    height=size - 20,
                    title=f"{y} (lr {lr:g})"
                    if y in ("mean test loss", "final test accuracy")
                    else y,
                    padding=0.1,
                )
            )
    return hv.Layout(plots).cols(4).opts(shared_axes=False)


def table(result: StudyResult):
    rows = result.table()
    if not rows:
        return None
    keys = [k for k in rows[0] if not k.endswith("_sd")]
    return hv.Table(
        [tuple(r.get(k) for k in keys) for r in rows], kdims=keys[:1], vdims=keys[1:]
    ).opts(width=1100, height=40 + 28 * len(rows))


def network_now(res, size: int = 300):
    """Contour and gradient-std map of one network ("landscape of this network now")."""
    img = hv.Image((res.alphas, res.betas, res.loss), kdims=["alpha", "beta"], vdims=["loss"])
    lo, hi = _clim([res.loss])
    plots = [
        img.opts(
            cmap="viridis",
            clim=(lo, hi),
            colorbar=True,
            tools=["hover"],
            width=size + 60,
            height=size,
            title=f"loss, top Hessian eig {res.top_eigenvalue:.3g}",
        )
        * hv.operation.contours(img, levels=list(np.linspace(lo, hi, 10)), filled=False).opts(
            color="white", line_width=1
        )
    ]
    if res.variance is not None:
        plots.append(
            hv.Image(
                (res.var_alphas, res.var_betas, np.sqrt(np.maximum(res.variance, 0))),
                kdims=["alpha", "beta"],
                vdims=["grad std"],
            ).opts(
                cmap="magma",
                colorbar=True,
                tools=["hover"],
                width=size + 60,
                height=size,
                title=f"sqrt g, at weights {np.sqrt(max(res.variance_at_optimum, 0)):.3g}",
            )
        )
    return hv.Layout(plots).opts(shared_axes=True)
