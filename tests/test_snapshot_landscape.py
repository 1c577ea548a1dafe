"""Landscape results in the session snapshot and its HTML export (issue 16): saved, loaded
back bit for bit drawing the same figures, restored into the landscape tab, shown in the
export; snapshots without them, and the stored schema-1 snapshot, still load."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from landscape_helpers import (
    assert_same_landscape,
    figure_data,
    landscape,
    same_bits,
    small_run,
)

from explorer.landscape import views
from explorer.snapshot import capture, load_snapshot, restore, write
from explorer.snapshot.landscape import LANDSCAPE_ARRAYS, LANDSCAPE_JSON

FIXTURE = Path(__file__).parent / "fixtures" / "snapshot-schema1.zip"


@pytest.fixture(scope="module")
def run():
    return small_run()


@pytest.fixture(scope="module")
def results():
    return landscape()


@pytest.fixture(scope="module")
def saved(run, results, tmp_path_factory):
    data = capture(*run)
    data.landscape = results
    return write(data, tmp_path_factory.mktemp("snap") / "with-landscape.zip")


def test_round_trip_is_bit_for_bit(saved, results):
    data = load_snapshot(saved)
    assert data.problems == []
    assert_same_landscape(results, data.landscape)
    with zipfile.ZipFile(saved) as zf:
        assert {LANDSCAPE_JSON, LANDSCAPE_ARRAYS} <= set(zf.namelist())


def test_folder_round_trip_too(run, results, tmp_path):
    data = capture(*run)
    data.landscape = {"network": results["network"]}
    back = load_snapshot(write(data, tmp_path / "folder"))
    assert back.problems == []
    assert_same_landscape({"network": results["network"]}, back.landscape)


def test_loaded_results_draw_the_same_figures(saved, results):
    back = load_snapshot(saved).landscape
    study, again = results["study"], back["study"]
    for make in (views.surfaces, views.curves, views.scatter, views.table):
        assert figure_data(make(study)) == figure_data(make(again)), make.__name__
    assert figure_data(views.network_now(results["network"])) == figure_data(
        views.network_now(back["network"])
    )


def test_figure_data_tells_different_grids_apart(results):
    """The check above can fail: one changed loss value changes the figure's data."""
    import copy

    other = copy.deepcopy(results["study"])
    other.surfaces["chain/0"]["loss"][2, 2] += 1e-9
    assert figure_data(views.surfaces(results["study"])) != figure_data(views.surfaces(other))


def test_snapshot_without_landscape_has_no_landscape_files(run, tmp_path):
    path = write(capture(*run), tmp_path / "plain.zip")
    with zipfile.ZipFile(path) as zf:
        assert not {LANDSCAPE_JSON, LANDSCAPE_ARRAYS} & set(zf.namelist())
    data = load_snapshot(path)
    assert data.landscape == {} and data.problems == [] and data.schema_version == 2


def test_schema1_snapshot_from_before_the_landscape_part_loads_and_resumes():
    """tests/fixtures/snapshot-schema1.zip was written by main d094878 (schema 1)."""
    data = load_snapshot(FIXTURE)
    assert data.schema_version == 1 and data.landscape == {} and data.problems == []
    trainer, history = restore(data, device="cpu")
    assert trainer.step_count == 3 and len(history.rows["step"]) == 3
    trainer.run(2)
    assert trainer.step_count == 5


def test_schema1_snapshot_with_a_wrong_version_string_is_still_refused(tmp_path):
    import json

    from explorer.snapshot import SnapshotError

    with zipfile.ZipFile(FIXTURE) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    for bad in ("1", True, 3):
        manifest["schema_version"] = bad
        path = tmp_path / "bad.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, blob in {**files, "manifest.json": json.dumps(manifest).encode()}.items():
                zf.writestr(name, blob)
        with pytest.raises(SnapshotError, match="unknown schema_version"):
            load_snapshot(path)


@pytest.mark.slow
def test_html_export_shows_the_landscape(run, results, tmp_path):
    from explorer.export import export_html

    history = run[1]
    page = export_html(history, tmp_path / "d.html", landscape=results).read_text()
    plain = export_html(history, tmp_path / "p.html").read_text()
    heading = '"name":"landscape","text":"&lt;h2&gt;landscape&lt;/h2&gt;"'
    assert heading in page and '"name":"landscape"' not in plain
    for text in ("loss contours", "convergence", "width and depth", "table", "this network"):
        assert text in page, text
    # the views' titles and the grids' values are in the page's document
    assert "widest: w" in page and "top Hessian eig" in page
    assert "<script src" not in page  # self-contained, as the rest of the export


@pytest.mark.slow
def test_export_command_draws_the_snapshot_landscape(saved, tmp_path, capsys):
    from explorer.cli import main

    assert main(["export", str(saved), "--html", str(tmp_path / "x.html")]) == 0
    assert '"name":"landscape"' in (tmp_path / "x.html").read_text()
    assert "warning" not in capsys.readouterr().err


def test_resume_keeps_the_landscape_results(saved, results, tmp_path):
    from explorer.cli import main

    out = tmp_path / "resumed.zip"
    assert main(["resume", str(saved), "--steps", "2", "--out", str(out), "--quiet"]) == 0
    data = load_snapshot(out)
    assert data.step == 5
    assert_same_landscape(results, data.landscape)


def _one_step(app) -> None:
    from conftest import poll

    app.step()
    poll(lambda: app.history.last("step"), 60, tick=app.drain, what="the first step")


@pytest.mark.slow
def test_page_saves_and_reopens_the_landscape(results, tmp_path):
    """The page's own save (the download) and upload, with the landscape tab on both sides."""
    from explorer.app import ExplorerApp
    from explorer.config import RunConfig
    from explorer.landscape.tab import LandscapeTab

    app = ExplorerApp(config=RunConfig(hidden=[4], device="cpu", eval_every=1), max_steps=2)
    other = ExplorerApp(config=RunConfig(method="static", hidden=[3], device="cpu"))
    try:
        tab = LandscapeTab(app)
        _one_step(app)
        tab.page.result = results["study"]
        tab.page.network_result = results["network"]
        blob = app.snapshots.zip_bytes()
        other_tab = LandscapeTab(other)
        other.snapshots.load_bytes(blob, "mine.zip")
        assert "opened mine.zip" in other.message and "Not loaded" not in other.message
        page = other_tab.page
        assert_same_landscape(results, page.saved_results())
        assert page.surface_pane.object is not None and page.network_pane.object is not None
        assert page.table_pane.object is not None
        assert "from the snapshot: study: 4 runs of 2 cells, this network" in page.status.object
        # a tab built after the snapshot was opened shows it too
        path = tmp_path / "s.zip"
        path.write_bytes(blob)
        late = ExplorerApp.open_snapshot(path, resume=True)
        try:
            late_tab = LandscapeTab(late)
            assert late_tab.page.network_pane.object is not None
            assert same_bits(
                late_tab.page.result.surfaces["chain/0"]["loss"],
                results["study"].surfaces["chain/0"]["loss"],
            )
        finally:
            late.close()
        # a snapshot without landscape results clears the tab (they belonged to the old run)
        plain = ExplorerApp(config=RunConfig(hidden=[4], device="cpu"), max_steps=2)
        try:
            _one_step(plain)
            other.snapshots.load_bytes(plain.snapshots.zip_bytes(), "plain.zip")
        finally:
            plain.close()
        assert page.result is None and page.network_pane.object is None
        assert page.saved_results() == {}
    finally:
        app.close()
        other.close()


def test_capture_copies_the_study_as_it_stands(results):
    from explorer.landscape.page import LandscapePage

    page = LandscapePage()
    assert page.saved_results() == {}
    page.result = results["study"]
    kept = page.saved_results()["study"]
    assert kept is not page.result and kept.runs == page.result.runs
    n = len(kept.runs)
    page.result.runs.append({"variant": "chain", "lr": 0.05, "seed": 1})
    try:
        assert len(kept.runs) == n  # a save taken earlier does not change afterwards
    finally:
        page.result.runs.pop()
    np.testing.assert_array_equal(kept.surfaces["chain/0"]["alphas"], np.linspace(-1, 1, 5))
