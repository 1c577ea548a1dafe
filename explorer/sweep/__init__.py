"""Sweeps: many headless runs on Dask, their results table, frontiers and compute.

    spec = load_spec("sweep.toml")            # or SweepSpec(...) / flags of `explorer sweep`
    rows = run_sweep(spec, "runs/digits")     # LocalCluster; scheduler="tcp://host:8786"
    ResultTable("runs/digits").frame()        # every finished point, one row each

``explorer.Sweep`` (:mod:`explorer.sweep.notebook`) wraps these with the runs,
compute-to-accuracy and compare views for a notebook.
"""

from explorer.sweep.frontier import (
    accuracy_gap_pp,
    compare_to_search,
    compute_to_accuracy,
    compute_to_reach,
    frontier_at,
    pareto_frontier,
)
from explorer.sweep.point import ROW_COLUMNS, run_point
from explorer.sweep.run import SweepProgress, make_client, run_sweep
from explorer.sweep.spec import (
    MethodGrid,
    SearchSpec,
    SweepPoint,
    SweepSpec,
    SweepSpecError,
    load_spec,
    spec_from_dict,
)
from explorer.sweep.table import ResultTable

__all__ = [
    "ROW_COLUMNS",
    "MethodGrid",
    "ResultTable",
    "SearchSpec",
    "SweepPoint",
    "SweepProgress",
    "SweepSpec",
    "SweepSpecError",
    "accuracy_gap_pp",
    "compare_to_search",
    "compute_to_accuracy",
    "compute_to_reach",
    "frontier_at",
    "load_spec",
    "make_client",
    "pareto_frontier",
    "run_point",
    "run_sweep",
    "spec_from_dict",
]
