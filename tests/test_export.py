"""Exports: tables round trip, the plain model computes what the trained one does (with dead
units removed and unit-wise modules folded), the HTML page is self-contained, PNG via
Chromium, and the CLI run/resume/export commands."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from conftest import require_chromium
from torch import nn

from explorer import cli
from explorer.config import RunConfig
from explorer.export import (
    ExportError,
    dashboard,
    dashboard_html,
    export_html,
    export_model,
    export_png,
    export_tables,
    max_relative_diff,
    plain_model,
    unit_lifetimes,
)
from explorer.history import History
from explorer.snapshot import load_snapshot
from explorer.trainer import Trainer
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP
from kernels.switch import Switch


@pytest.fixture(scope="module")
def run():
    history = History()
    trainer = Trainer(
        RunConfig(
            dataset="digits",
            hidden=[10, 10],
            seed=1,
            device="cpu",
            eval_every=20,
            units_every=10,
            knobs=dict(lam=0.01, growth_every=10),
        ),
        sink=history.add,
    )
    trainer.run(60)
    trainer.knobs.lam = 0.02
    trainer.run(5)
    return trainer, history


# -- tables -----------------------------------------------------------------------------------
def test_parquet_round_trip_is_exact(run, tmp_path):
    _, history = run
    paths = export_tables(history, tmp_path, "parquet")
    assert sorted(p.stem for p in paths) == history.kinds()
    for kind in history.kinds():
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"{kind}.parquet"), history.frame(kind)
        )


def test_csv_round_trip(run, tmp_path):
    _, history = run
    export_tables(history, tmp_path, "csv")
    for kind in history.kinds():
        expected = history.frame(kind)
        got = pd.read_csv(tmp_path / f"{kind}.csv")
        assert list(got.columns) == list(expected.columns)
        for col in expected:
            if expected[col].dtype.kind in "iuf":  # exact, in the column's own dtype
                np.testing.assert_array_equal(
                    got[col].to_numpy().astype(expected[col].dtype), expected[col].to_numpy()
                )
            else:  # empty strings come back as NaN from read_csv
                assert got[col].fillna("").astype(str).tolist() == expected[col].tolist()
    assert len(pd.read_csv(tmp_path / "event.csv")) == len(history.rows["event"])


def test_unknown_table_format(run, tmp_path):
    with pytest.raises(ExportError, match="accepted: csv, parquet"):
        export_tables(run[1], tmp_path, "xlsx")


# -- plain model ------------------------------------------------------------------------------
def gate(n):
    """A ShrinkNets switch layer with switches spread over [-1.5, 2], for folding."""
    switch = Switch(n)
    with torch.no_grad():
        switch.switch.copy_(torch.linspace(-1.5, 2.0, n))
    return switch


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_export_model_equals_trained_model(run, tmp_path):
    trainer, _ = run
    report = export_model(trainer, tmp_path)
    assert report["check"]["max_relative_diff"] < 1e-5
    assert report["check"]["argmax_agreement"] == 1.0
    assert report["sizes"] == trainer.model.hidden_sizes
    assert report["unit_ids"] == [u.tolist() for u in trainer.model.unit_ids]
    # the saved files alone rebuild the network: weights into a fresh Sequential, TorchScript
    info = json.loads((tmp_path / "model.json").read_text())
    dims = [info["in_features"], *info["sizes"], trainer.data.n_classes]
    mods = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        mods += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(dims) - 2 else [])
    fresh = nn.Sequential(*mods)
    fresh.load_state_dict(safetensors.torch.load_file(str(tmp_path / "model.safetensors")))
    scripted = torch.jit.load(str(tmp_path / "model.pt"))
    x = trainer.X["test"]
    trainer.model.eval()
    with torch.no_grad():
        reference = trainer.model(x)
        assert max_relative_diff(reference, fresh(x)) < 1e-5
        assert max_relative_diff(reference, scripted(x)) < 1e-5
    trainer.model.train()


def test_dead_units_removed_and_modules_folded():
    g = torch.Generator().manual_seed(0)
    model = DynamicMLP(6, [5, 4], 3, post=lambda n: [CapNorm(n), gate(n)], generator=g)
    with torch.no_grad():
        for layer, post in enumerate(model.post):
            post[0].running_mean.copy_(torch.randn(model.hidden_sizes[layer], generator=g))
            post[0].running_var.copy_(torch.rand(model.hidden_sizes[layer], generator=g) * 4)
            model.linears[layer].bias.copy_(torch.randn(model.hidden_sizes[layer], generator=g))
        model.linears[0].weight[1] = 0.0  # zero fan-in: a constant unit, moved into the bias
        model.linears[1].weight[:, 2] = 0.0  # zero fan-out: contributes nothing
        model.post[1][1].switch[0] = 0.0  # switched off
    model.eval()
    plain, info = plain_model(model)
    assert info["sizes"] == [3, 3]
    assert info["unit_ids"] == [[0, 3, 4], [6, 7, 8]]
    x = torch.randn(64, 6, generator=g)
    with torch.no_grad():
        assert max_relative_diff(model(x), plain(x)) < 1e-6


def test_unfoldable_module_is_refused():
    model = DynamicMLP(4, [3], 2, post=lambda n: [nn.Dropout()])
    with pytest.raises(ExportError, match="cannot fold a Dropout"):
        plain_model(model)


# -- HTML and PNG -------------------------------------------------------------------------------
def test_html_is_self_contained_and_holds_the_data(run, tmp_path):
    _, history = run
    path = export_html(history, tmp_path / "run.html", title="digits <run>")
    page = path.read_text()
    assert "<title>digits &lt;run&gt;</title>" in page and "<run>" not in page
    assert not re.search(r"<script[^>]*\bsrc=", page)  # Bokeh's JS is inlined
    assert not re.search(r"<link[^>]*href=[\"']https?:", page)
    assert "Bokeh" in page and "HoverTool" in page
    for name in ("loss_steps", "sizes_steps", "units_scatter", "lifetimes", "tradeoff_run"):
        assert f'"name":"{name}"' in page


def test_html_is_drawn_by_the_live_views(run):
    """The export is the live page's views fed the whole history: same sources, whole
    course, lifetimes of the first units from their step minus their age, layer colours."""
    from explorer.views.palette import layer_color

    _, history = run
    layout = dashboard(history)
    loss = layout.select_one({"name": "loss_steps"})
    np.testing.assert_allclose(loss.data["loss"], [r["loss"] for r in history.rows["step"]])
    life = layout.select_one({"name": "lifetimes"}).data
    first = history.tables[0]
    row = list(life["unit_id"]).index(int(first["unit_id"][0]))
    assert life["birth"][row] == int(first["step"]) - int(first["age"][0])
    latest = history.latest_units()
    scatter = layout.select_one({"name": "units_scatter"}).data
    assert list(scatter["color"]) == [layer_color(i) for i in latest["layer"]]
    assert layout.select_one({"name": "spectrum_figure"}) is None  # no TINY records here
    assert all(not getattr(m, "_callbacks", None) for m in layout.references())


def test_html_of_an_empty_history_still_renders():
    assert "<html" in dashboard_html(History())


def test_unit_lifetimes_follow_the_events(run):
    _, history = run
    life = unit_lifetimes(history)
    row = {u: i for i, u in enumerate(life["unit_id"])}
    for e in history.rows["event"]:
        i = row[e["unit_id"]]
        if e["event"] == "born":
            assert life["born"][i] == e["step"]
        else:
            assert life["end"][i] == e["step"] and not life["alive"][i]
    first = history.tables[0]
    for uid in first["unit_id"].tolist():
        assert life["born"][row[uid]] == 0
    assert life["end"][row[int(history.latest_units()["unit_id"][0])]] == 65


def test_png_needs_chromium(tmp_path):
    (tmp_path / "a.html").write_text("<html><body>x</body></html>")
    with pytest.raises(ExportError, match="needs Chromium and none was found"):
        export_png(tmp_path / "a.html", tmp_path / "a.png", chromium="/nonexistent/chromium")


@pytest.mark.slow
def test_png_of_the_dashboard(run, tmp_path):
    chromium = require_chromium()
    html = export_html(run[1], tmp_path / "run.html")
    png = export_png(html, tmp_path / "run.png", width=900, height=700, chromium=chromium)
    blob = png.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(blob[16:20], "big"), int.from_bytes(blob[20:24], "big")
    assert (width, height) == (900, 700)


# -- CLI ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_run_resume_export(tmp_path, capsys):
    run_dir, resumed = tmp_path / "run", tmp_path / "resumed.zip"
    assert (
        cli.main(
            [
                "run",
                "--steps",
                "40",
                "--device",
                "cpu",
                "--growth-every",
                "10",
                "--eval-every",
                "20",
                "--quiet",
                "--out",
                str(run_dir),
            ]
        )
        == 0
    )
    session = json.loads((run_dir / "session.json").read_text())
    for key in ("schema_version", "config", "knobs", "summary", "unit_events", "history_kinds"):
        assert key in session
    for key in ("sizes", "val_acc", "val_loss", "test_acc", "test_loss"):
        assert key in session["summary"]
    assert np.load(run_dir / "history.npz", allow_pickle=False)["step.step"][-1] == 40
    capsys.readouterr()
    assert (
        cli.main(["resume", str(run_dir), "--steps", "20", "--out", str(resumed), "--quiet"]) == 0
    )
    # the line names the sizes where the resumed leg began, not the original run's start
    assert f"from step 40: sizes {session['summary']['sizes']} ->" in capsys.readouterr().out
    data = load_snapshot(resumed)
    assert data.step == 60 and len(data.history_rows["step"]) == 60
    out = tmp_path / "exports"
    assert (
        cli.main(
            [
                "export",
                str(resumed),
                "--csv",
                str(out / "csv"),
                "--html",
                str(out / "run.html"),
                "--model",
                str(out / "model"),
            ]
        )
        == 0
    )
    assert (out / "csv" / "step.csv").is_file() and (out / "run.html").is_file()
    assert json.loads((out / "model" / "model.json").read_text())["step"] == 60
    assert "max relative diff" in capsys.readouterr().out


def test_cli_knob_help_keeps_section_references(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "ShrinkNets sec. 3.5.1" in text and "ShrinkNets eq. 2" in text
    assert cli.first_sentence("a (sec. 3.5). More.") == "a (sec. 3.5)"
    assert cli.first_sentence("50% of units") == "50%% of units"  # argparse formats help


def test_cli_errors_are_messages(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "missing.zip"), "--csv", str(tmp_path)]) == 2
    assert "no snapshot there" in capsys.readouterr().err
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert cli.main(["resume", str(tmp_path / "bad.zip"), "--steps", "5"]) == 2
    assert "not a readable snapshot" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "bad.zip")]) == 2
    assert "nothing to export" in capsys.readouterr().err
