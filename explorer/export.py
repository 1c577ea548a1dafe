"""Exports of a run: history tables (CSV/Parquet), the final network as a plain torch model,
a static self-contained HTML dashboard, and a PNG of it through headless Chromium.

Each export reads a History or a Trainer (a snapshot gives both through
:func:`explorer.snapshot.restore`); none needs a server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.history import History
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP
from kernels.fold import fold as shrinknets_fold
from kernels.records import EVAL, EVENT, STEP
from kernels.sizable import SizableNet
from kernels.switch import Switch


class ExportError(ValueError):
    """An export cannot be made; the message says why and what is accepted."""


# -- tables ---------------------------------------------------------------------------------
TABLE_FORMATS = ("csv", "parquet")


def export_tables(history: History, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """One file per record kind (``step.csv``, ``event.csv``, ``units.csv``, ...)."""
    if fmt not in TABLE_FORMATS:
        raise ExportError(f"unknown table format '{fmt}'; accepted: {', '.join(TABLE_FORMATS)}")
    out = Path(out_dir)
    for kind in history.kinds():  # a kind names a file: plain names only, checked first
        if not isinstance(kind, str) or not KIND_NAME.match(kind):
            raise ExportError(
                f"record kind {str(kind)[:40]!r} is not a plain name "
                "(^[a-z_][a-z0-9_]*$); nothing was written"
            )
    with _cleanup_on_failure(out) as written:
        out.mkdir(parents=True, exist_ok=True)
        for kind in history.kinds():
            path = inside(out, f"{kind}.{fmt}")
            frame = history.frame(kind)
            written.append(path)
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                try:
                    frame.to_parquet(path, index=False)
                except ImportError as exc:
                    raise ExportError(
                        f"Parquet export needs pyarrow ({exc}); use --csv or `pip install pyarrow`"
                    ) from None
        return list(written)


#: record kinds name the table files
KIND_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refused unless it resolves inside ``folder`` (links followed)."""
    path = folder / name
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise ExportError(f"{name[:60]!r} would be written outside {folder}; refused") from None
    return path


@contextmanager
def _cleanup_on_failure(folder: Path):
    """Yield a list to which the caller adds each path before writing it; if anything
    fails, those files are removed, and ``folder`` too when this export created it."""
    new_folders = []  # the folders this export will make, innermost first
    for p in [folder, *folder.parents]:
        if p.exists() or p.is_symlink():
            break
        new_folders.append(p)
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        for p in new_folders:
            try:
                p.rmdir()
            except OSError:
                break
        raise


# -- plain model ----------------------------------------------------------------------------
def _unit_scales(post: nn.ModuleList, n: int, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit affine map ``z -> a * z + c`` of a hidden layer's unit-wise modules in eval
    mode (what ``Trainer.evaluate`` computes), composed in order.

    Switch (ShrinkNets eq. 1): a = theta. CapNorm eval (Philipp & Carbonell sec. 3.2):
    (z - mu) / max(sigma, 1). BatchNorm1d eval: gamma (z - mu) / sqrt(var + eps) + beta.
    """
    a, c = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    for m in post:
        if isinstance(m, Switch):
            s = m.switch.detach().double().cpu()
            a, c = a * s, c * s
        elif isinstance(m, nn.BatchNorm1d):
            assert m.running_mean is not None and m.running_var is not None  # eval statistics
            inv = torch.rsqrt(m.running_var.double().cpu() + m.eps)
            g = m.weight.detach().double().cpu() if m.weight is not None else torch.ones(n)
            beta = m.bias.detach().double().cpu() if m.bias is not None else torch.zeros(n)
            a, c = a * g * inv, (c - m.running_mean.double().cpu()) * g * inv + beta
        elif isinstance(m, CapNorm):
            inv = 1.0 / torch.sqrt(torch.clamp(m.running_var.double().cpu(), min=1.0))
            a, c = a * inv, (c - m.running_mean.double().cpu()) * inv
        else:
            raise ExportError(
                f"{where}: cannot fold a {type(m).__name__} module into the "
                "Linear before it; accepted: switch layers, CapNorm, BatchNorm1d"
            )
    return a, c


def _fold_mlp(model: SizableNet) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) per Linear of a DynamicMLP with its unit-wise modules multiplied in, float64."""
    layers = []
    for i, lin in enumerate(model.linears):
        w = lin.weight.detach().double().cpu()
        b = (
            lin.bias.detach().double().cpu()
            if lin.bias is not None
            else torch.zeros(w.shape[0], dtype=torch.float64)
        )
        if i < model.n_hidden:
            a, c = _unit_scales(model.post[i], w.shape[0], f"hidden layer {i}")
            w, b = a[:, None] * w, a * b + c
        layers.append((w, b))
    return layers


def _linears_of(seq: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """(W, b) per Linear when ``seq`` is Linear, ReLU, ..., Linear; else None."""
    mods = list(seq)
    if (
        len(mods) % 2 == 0
        or not all(isinstance(m, nn.Linear) for m in mods[::2])
        or not all(isinstance(m, nn.ReLU) for m in mods[1::2])
    ):
        return None
    linears = [m for m in mods[::2] if isinstance(m, nn.Linear)]
    return [
        (
            m.weight.detach().double().cpu(),
            m.bias.detach().double().cpu()
            if m.bias is not None
            else torch.zeros(m.out_features, dtype=torch.float64),
        )
        for m in linears
    ]


def _drop_dead(layers, ids: list[np.ndarray]):
    """Remove hidden units that cannot change the output: a zero fan-out, or a zero fan-in
    whose ReLU output is the constant relu(b), which is moved into the next layer's bias."""
    layers = [(w.clone(), b.clone()) for w, b in layers]
    ids = [np.array(i) for i in ids]
    for li in range(len(layers) - 1):
        w, b = layers[li]
        nw, nb = layers[li + 1]
        const = (w == 0).all(dim=1)
        nb = nb + nw[:, const] @ torch.relu(b[const])
        keep = ~(const | (nw == 0).all(dim=0))
        if not keep.any():  # keep one unit so the layer stays a layer (it is inert)
            keep[0] = True
            w[0], b[0] = 0.0, 0.0
        layers[li] = (w[keep], b[keep])
        layers[li + 1] = (nw[:, keep], nb)
        ids[li] = ids[li][keep.numpy()]
    return layers, ids


def plain_model(model: SizableNet) -> tuple[nn.Sequential, dict]:
    """The trained network as Linear/ReLU layers: unit-wise modules folded in (switches via
    ``kernels.fold`` when present, ShrinkNets sec. 3.6), dead units removed. Returns the
    model (float32, eval mode) and a description (sizes, kept unit ids, what was folded)."""
    info: dict = {"folded_by": "explorer.export"}
    layers = None
    ids = [np.asarray(u) for u in model.unit_ids]
    is_mlp = isinstance(model, DynamicMLP)
    only_switches = all(isinstance(m, Switch) for p in model.post for m in p)
    if only_switches or not is_mlp:
        try:
            folded = shrinknets_fold(model)
        except ValueError:
            folded = None
        if folded is not None:
            info["folded_by"] = "kernels.fold"
            layers = _linears_of(folded)
            if layers is None:  # a CNN: keep kernels.fold's network as it is
                info["sizes"] = None
                return folded.float().cpu().eval(), info
            if ids:  # kernels.fold drops units whose switch product is 0
                ids = [
                    i[_switch_product(model.post[li], len(i)).numpy() != 0]
                    for li, i in enumerate(ids)
                ]
    if layers is None:
        if not is_mlp:
            raise ExportError(
                f"cannot export a {type(model).__name__} as a plain model; "
                "accepted: DynamicMLP (and DynamicCNN through kernels.fold)"
            )
        layers = _fold_mlp(model)
    if len(ids) != len(layers) - 1:
        ids = [np.arange(w.shape[0]) for w, _ in layers[:-1]]
    layers, ids = _drop_dead(layers, ids)
    mods: list[nn.Module] = []
    for i, (w, b) in enumerate(layers):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w.float())
            lin.bias.copy_(b.float())
        mods += [lin] if i == len(layers) - 1 else [lin, nn.ReLU()]
    info["sizes"] = [int(w.shape[0]) for w, _ in layers[:-1]]
    info["unit_ids"] = [i.tolist() for i in ids]
    return nn.Sequential(*mods).eval(), info


def _switch_product(post, n: int) -> torch.Tensor:
    s = torch.ones(n)
    for m in post:
        s = s * m.switch.detach().cpu()
    return s


def max_relative_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |a|: the largest error relative to the output's scale (elementwise
    ratios blow up where an output is near zero)."""
    scale = float(a.abs().max()) or 1.0
    return float((a - b).abs().max()) / scale


def describe(module: nn.Sequential) -> list[dict]:
    """A plain network's layers as dicts (type and sizes), so ``model.safetensors`` can be
    loaded into a rebuilt Sequential without running code from the file."""
    out = []
    for m in module:
        entry: dict = {"type": type(m).__name__}
        if isinstance(m, nn.Linear):
            entry.update(in_features=m.in_features, out_features=m.out_features)
        elif isinstance(m, nn.Conv2d):
            entry.update(
                in_channels=m.in_channels,
                out_channels=m.out_channels,
                kernel_size=list(m.kernel_size),
                padding=list(m.padding),
            )
        elif isinstance(m, nn.BatchNorm2d):
            entry.update(num_features=m.num_features, eps=m.eps)
        elif isinstance(m, nn.Unflatten):
            entry.update(unflattened_size=list(m.unflattened_size))
        out.append(entry)
    return out


@torch.no_grad()
def export_model(trainer, out_dir: str | Path, tolerance: float = 1e-5) -> dict:
    """Save the final network as ``model.safetensors`` (weights), ``model.pt`` (TorchScript,
    loads with ``torch.jit.load`` without this code) and ``model.json`` (architecture, kept
    unit ids, the equality check). Its outputs on the test split must equal the trained
    model's (eval mode) to ``tolerance`` in max relative difference, else ExportError and
    nothing is written."""
    import safetensors.torch

    model = trainer.model
    plain, info = plain_model(model)
    x = trainer.X["test"].detach().cpu().float()
    was_training = model.training
    model.eval()
    try:
        reference = torch.cat(
            [model(x[i : i + 4096].to(trainer.device)).cpu() for i in range(0, len(x), 4096)]
        )
    finally:
        model.train(was_training)
    got = plain(x)
    diff = max_relative_diff(reference, got)
    with warnings.catch_warnings():
        # TorchScript is deprecated in recent torch, but its file loads without this code
        # (torch.jit.load) and scripts a Sequential in milliseconds; torch.export takes seconds
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(plain)
    diff_scripted = max_relative_diff(reference, scripted(x))
    if max(diff, diff_scripted) >= tolerance:
        raise ExportError(
            f"the plain model differs from the trained one on the test split "
            f"(max relative diff {max(diff, diff_scripted):.3g} >= {tolerance}); "
            "nothing was written"
        )
    out = Path(out_dir)
    with _cleanup_on_failure(out) as written:
        out.mkdir(parents=True, exist_ok=True)
        written.append(out / "model.safetensors")
        written[-1].write_bytes(
            safetensors.torch.save({k: v.contiguous() for k, v in plain.state_dict().items()})
        )
        written.append(out / "model.pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(scripted, str(written[-1]))
        report = _model_report(
            trainer, plain, info, x, diff, diff_scripted, reference, got, tolerance
        )
        written.append(out / "model.json")
        written[-1].write_text(json.dumps(report, indent=1))
    return report


def _model_report(trainer, plain, info, x, diff, diff_scripted, reference, got, tolerance) -> dict:
    model = trainer.model
    report = {
        "format": "torch.nn.Sequential of Linear/ReLU; model.safetensors holds its state_dict",
        "in_features": int(x.shape[1]),
        "layers": describe(plain),
        "sizes_trained": list(model.hidden_sizes),
        **info,
        "check": {
            "split": "test",
            "n": int(len(x)),
            "max_relative_diff": diff,
            "max_relative_diff_torchscript": diff_scripted,
            "argmax_agreement": float((reference.argmax(1) == got.argmax(1)).float().mean()),
            "tolerance": tolerance,
        },
        "method": trainer.config.method,
        "dataset": trainer.config.dataset,
        "step": trainer.step_count,
    }
    return report


# -- HTML dashboard --------------------------------------------------------------------------
def _finite_list(a) -> list:
    """Plain floats with None for NaN (Bokeh draws a gap), so the data shows in the HTML."""
    return [None if (isinstance(v, float) and v != v) else v for v in np.asarray(a).tolist()]


def unit_lifetimes(history: History) -> dict[str, list]:
    """One row per unit ever seen: layer, birth step, death step (or the last step), cause.

    Units present from the start carry no birth event: they are born at the step of the
    first table that shows them minus their age there (as the live lifetimes plot)."""
    last_step = 0
    for kind in (STEP, EVAL):
        rec = history.last(kind)
        if rec:
            last_step = max(last_step, int(rec["step"]))
    units: dict[int, dict] = {}
    for table in history.tables:
        last_step = max(last_step, int(table["step"]))
        ages = table["age"].tolist() if "age" in table else [0] * len(table["unit_id"])
        for layer, uid, age in zip(
            table["layer"].tolist(), table["unit_id"].tolist(), ages, strict=True
        ):
            units.setdefault(
                uid,
                {
                    "layer": layer,
                    "born": max(int(table["step"]) - int(age), 0),
                    "died": None,
                    "cause": "",
                },
            )
    for e in history.rows.get(EVENT, []):
        u = units.setdefault(
            int(e["unit_id"]), {"layer": int(e["layer"]), "born": 0, "died": None, "cause": ""}
        )
        if e["event"] == "born":
            u["born"] = int(e["step"])
        else:
            u["died"], u["cause"] = int(e["step"]), str(e.get("cause", ""))
    ids = sorted(units)
    return {
        "unit_id": ids,
        "layer": [units[i]["layer"] for i in ids],
        "born": [units[i]["born"] for i in ids],
        "end": [units[i]["died"] if units[i]["died"] is not None else last_step for i in ids],
        "alive": [units[i]["died"] is None for i in ids],
        "cause": [units[i]["cause"] or "alive" for i in ids],
    }


def _dashboard_views(history: History) -> list:
    """The live page's views that draw a kind this history holds, fed the whole history."""
    from explorer.views import (
        CostView,
        LifetimeView,
        LossView,
        SizesView,
        SpectrumView,
        SwitchView,
        TradeoffView,
        UnitScatterView,
        UnitSelection,
        history_records,
        step_range,
    )

    records = history_records(history)
    selection, x_range = UnitSelection(), step_range()
    views = [
        LossView(x_range=x_range),
        SizesView(x_range=x_range),
        UnitScatterView(selection),
        LifetimeView(selection, x_range=x_range),
        TradeoffView(),
        CostView(x_range=x_range),
        SpectrumView(x_range=x_range),
        SwitchView(selection, x_range=x_range),
    ]
    shown = [v for v in views if set(v.kinds) & set(records)]
    for view in shown:
        view.update(records)
    return shown


def _view_figures(view) -> list:
    return [
        getattr(view, name)
        for name in ("loss_fig", "acc_fig", "fig", "summary_fig")
        if getattr(view, name, None) is not None
    ]


def _lifetime_rows_toggle(view):
    """The lifetimes' 'living only' / 'all units' switch, in the browser (no server)."""
    from bokeh.models import CustomJS, RadioButtonGroup

    from explorer.views.lifetimes import ROW_MODES

    modes = list(ROW_MODES)
    toggle = RadioButtonGroup(labels=modes, active=modes.index(view.rows.value))
    toggle.js_on_change(
        "active",
        CustomJS(
            args={
                "glyph": view.bars.glyph,
                "axis": view.fig.yaxis[0],
                "fields": [ROW_MODES[m][0] for m in modes],
                "labels": [ROW_MODES[m][1] for m in modes],
            },
            code="glyph.y = {field: fields[cb_obj.active]}; "
            "axis.axis_label = labels[cb_obj.active];",
        ),
    )
    return toggle


def dashboard(history: History, title: str = "Sizing Explorer run"):
    """Bokeh layout of a run drawn by the live page's own views (explorer.views), fed the
    whole history: the same colours, legends, lifetimes (units present from the start born
    at their step minus their age), thinning of long lines and cards per record kind
    (pan, zoom and hover; no server needed)."""
    from bokeh.layouts import column, gridplot
    from bokeh.models import Div

    from explorer.views import LifetimeView
    from explorer.views.base import anchor_ranges, quiet_ranges

    figures, extras = [], []
    for view in _dashboard_views(history):
        for fig in _view_figures(view):
            quiet_ranges(fig)
            anchor_ranges(fig)
            fig.sizing_mode = "fixed"
            fig.width = 600
            figures.append(fig)
        if isinstance(view, LifetimeView):
            extras.append(_lifetime_rows_toggle(view))
    events = history.rows.get(EVENT, [])
    born = sum(e["event"] == "born" for e in events)
    last = history.last(STEP) or {}
    header = Div(
        text=f"<h2>{_escape(title)}</h2><p>steps: {last.get('step', 0)}, sizes: "
        f"{last.get('sizes', [])}, units born: {born}, died: "
        f"{len(events) - born}</p>"
    )
    rows = [
        figures[i : i + 2] + [None] * (2 - len(figures[i : i + 2]))
        for i in range(0, len(figures), 2)
    ]
    parts = [header, *extras]
    if rows:
        parts.append(gridplot(rows))
    layout = column(*parts)
    for model in layout.references():
        # the views link selections and ranges with Python callbacks, which need a server;
        # a file page has none (Bokeh warns), so drop them from this one-off document
        if getattr(model, "_callbacks", None):
            model._callbacks = {}
    return layout


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))


def dashboard_html(history: History, title: str = "Sizing Explorer run") -> str:
    """The dashboard as one HTML page with Bokeh's JavaScript inlined (no CDN, no server)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    page = file_html(dashboard(history, title), INLINE, title=title)
    # Importing Panel patches Bokeh's Resources to add an ES-module shim <script src=...>; the
    # dashboard uses no Panel model and a file page cannot load that path, so drop such tags
    # and keep the page self-contained (Bokeh's own JS is inlined above).
    return re.sub(r'<script[^>]*\bsrc="[^"]*"[^>]*>\s*</script>\s*', "", page)


def export_html(history: History, path: str | Path, title: str = "Sizing Explorer run") -> Path:
    path = Path(path)
    page = dashboard_html(history, title)  # made before anything is written
    with _cleanup_on_failure(path.parent) as written:
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(path)
        path.write_text(page, encoding="utf-8")
    return path


# -- PNG through headless Chromium ------------------------------------------------------------
CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)


def find_chromium(chromium: str | None = None) -> str:
    for name in [chromium] if chromium else CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    looked = chromium or ", ".join(CHROMIUM_CANDIDATES)
    raise ExportError(
        f"PNG export needs Chromium and none was found (looked for: {looked}). "
        "Install chromium, pass its path, or open the HTML export in a browser "
        "and save the picture from there"
    )


def export_png(
    html_path: str | Path,
    png_path: str | Path,
    width: int = 1200,
    height: int = 1100,
    chromium: str | None = None,
    timeout: float = 120,
) -> Path:
    """Screenshot of an HTML page (e.g. ``export_html``'s) with headless Chromium."""
    exe = find_chromium(chromium)
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    if not html_path.is_file():
        raise ExportError(f"{html_path}: no such HTML file to render")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={int(width)},{int(height)}",
            "--virtual-time-budget=5000",
            f"--screenshot={png_path}",
            html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportError(f"Chromium did not finish the screenshot in {timeout}s") from None
    if not png_path.is_file() or png_path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise ExportError(
            f"Chromium wrote no PNG (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )
    return png_path


# -- the CLI's ``export`` command ---------------------------------------------------------------
def export_command(args) -> int:
    """``python -m explorer export SNAPSHOT --csv DIR --parquet DIR --html FILE --png FILE
    --model DIR`` (any combination, at least one)."""
    from explorer.snapshot import load_snapshot, restore

    wanted: dict[str, str] = {
        k: getattr(args, k, None) or "" for k in ("csv", "parquet", "html", "png", "model")
    }
    if not any(wanted.values()):
        raise ExportError(
            "nothing to export; give one or more of --csv DIR, --parquet DIR, "
            "--html FILE, --png FILE, --model DIR"
        )
    from explorer.targets import check_target

    for flag, kind in (
        ("csv", "outdir"),
        ("parquet", "outdir"),
        ("html", "file"),
        ("png", "file"),
        ("model", "outdir"),
    ):
        check_target(wanted[flag], f"--{flag}", kind)
    data = load_snapshot(args.snapshot)
    history = data.history()
    for fmt in TABLE_FORMATS:
        if wanted[fmt]:
            paths = export_tables(history, wanted[fmt], fmt)
            names = ", ".join(p.stem for p in paths)
            print(f"{fmt}: {len(paths)} tables in {wanted[fmt]} ({names})")
    if wanted["html"] or wanted["png"]:
        title = f"{data.method} on {data.config.get('dataset')}, step {data.step}"
        with tempfile.TemporaryDirectory() as tmp:
            html_path = Path(wanted["html"] or Path(tmp) / "dashboard.html")
            export_html(history, html_path, title)
            if wanted["html"]:
                print(f"html: {html_path}")
            if wanted["png"]:
                print(f"png: {export_png(html_path, wanted['png'])}")
    if wanted["model"]:
        trainer, _ = restore(data, device="cpu")
        report = export_model(trainer, wanted["model"])
        check = report["check"]
        print(
            f"model: {wanted['model']} (hidden sizes {report['sizes_trained']} -> "
            f"{report['sizes']}, max relative diff on {check['n']} test samples "
            f"{check['max_relative_diff']:.2e}, argmax agreement "
            f"{check['argmax_agreement']:.4f})"
        )
    return 0
