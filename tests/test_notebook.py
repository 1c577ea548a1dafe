"""The example notebook runs headless from top to bottom (nbclient + ipykernel)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # child processes / Dask clusters: tens of seconds each

ROOT = Path(__file__).resolve().parents[1]


def test_example_notebook_trains_changes_a_knob_saves_and_reopens(tmp_path, monkeypatch):
    nb = nbformat.read(ROOT / "assets" / "explorer.ipynb", as_version=4)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = {i: c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assert not any(o.get("output_type") == "error" for outs in outputs.values() for o in outs)
    knob_table = "".join(o.get("data", {}).get("text/plain", "") for o in outputs[3])
    assert "lam" in knob_table and "0.003" in knob_table
    saved = "".join(o.get("data", {}).get("text/plain", "") for o in outputs[5])
    assert "digits-run.zip" in saved
