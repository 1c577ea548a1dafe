"""The group-sparsity sweep of the page (ShrinkNets fig. 1): a data set, a button, a plot.

:class:`GroupSparsityPanel` runs :class:`~explorer.group_sparsity.SweepThread` and turns its
records into plot points and messages at each drain of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

from explorer.group_sparsity import DATASETS, SweepThread

#: lambda values per method in the page's group-sparsity sweep (ShrinkNets fig. 1)
SWEEP_POINTS = 10


class GroupSparsityPanel(pn.viewable.Viewer):
    """Controls of the sweep. ``view`` returns the plot (built when first needed);
    ``show(records_by_kind)`` hands points to the page (returns messages of views that
    could not take them); ``reveal(kinds)`` shows the cards of kinds before any record
    came; ``notify(text, level)`` says what happened."""

    def __init__(
        self,
        view: Callable[[], Any],
        show: Callable[[dict[str, list[dict]]], list[str]],
        reveal: Callable[[set[str]], None],
        notify: Callable[..., None],
        **params,
    ) -> None:
        super().__init__(**params)
        self._view, self._show, self._reveal, self._notify = view, show, reveal, notify
        self.sweep = SweepThread()
        self.dataset = pn.widgets.Select(
            label="sweep data set",
            options=list(DATASETS),
            value=DATASETS[0],
            description="synthetic: 30 inputs, 5 relevant; linnerud: 3 -> 3 regression; "
            "digits: 64-pixel logistic regression (slow: minutes)",
        )
        self.button = pn.widgets.Button(label="run group-sparsity sweep", align="end")

    def run(
        self, dataset: str | None = None, points: int = SWEEP_POINTS, max_iter: int = 3000
    ) -> bool:
        """Start the loss/sparsity sweep of both methods on a background thread. A second
        call while one runs is refused with a message (returns False)."""
        dataset = dataset or self.dataset.value
        if dataset not in DATASETS:
            raise ValueError(
                f"unknown group-sparsity data set '{dataset}'; accepted: {', '.join(DATASETS)}"
            )
        if self.sweep.running:
            self._notify(
                "a group-sparsity sweep is already running; wait for it to finish", level="info"
            )
            return False
        self._view().reset()
        self.sweep.start(dataset, points=points, max_iter=max_iter)
        self._reveal({"groupsparsity"})
        self._notify(
            f"group-sparsity sweep on {dataset} started ({points} lambdas per method)", level="info"
        )
        return True

    @property
    def waiting(self) -> bool:
        return not self.sweep.queue.empty()

    def drain(self) -> int:
        """Move the sweep's waiting records into its plot; returns how many."""
        records = self.sweep.drain()
        points = [r for r in records if r.get("kind") == "groupsparsity"]
        if points:
            for error in self._show({"groupsparsity": points}):
                self._notify(error)
        for r in records:
            if r.get("kind") == "groupsparsity_error":
                self._notify(r["message"])
            elif r.get("kind") == "groupsparsity_done":
                self._notify(
                    f"group-sparsity sweep on {r['dataset']} finished: {r['fits']} fits",
                    level="info",
                )
        return len(records)

    def __panel__(self):
        return pn.Row(self.dataset, self.button)
