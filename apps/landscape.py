"""`panel serve apps/landscape.py`: the cell width/depth landscape study (Shu et al. 2020).

Environment: LANDSCAPE_STUDY=<folder written by `python -m explorer landscape --out`> opens a
saved study; DASK_SCHEDULER=<address> runs new studies on that Dask cluster.
"""

import os
import sys
from pathlib import Path

# `panel serve` puts apps/ first on sys.path, where this file would shadow the package
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "apps"]

from explorer.landscape.page import LandscapePage  # noqa: E402
from explorer.landscape.study import StudyResult  # noqa: E402

study = (
    StudyResult.load(os.environ["LANDSCAPE_STUDY"]) if os.environ.get("LANDSCAPE_STUDY") else None
)
client = None
if os.environ.get("DASK_SCHEDULER"):
    from dask.distributed import Client

    client = Client(os.environ["DASK_SCHEDULER"])
LandscapePage(study=study, client=client).template().servable(title="Cell landscapes")
