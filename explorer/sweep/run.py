"""Running a sweep on Dask: a LocalCluster by default, any scheduler by address.

The driver submits one task per point (:func:`explorer.sweep.point.run_point`) and appends
each result to the table as it arrives. Dask does the scheduling and the recovery:

- a task that raises (an OS error writing its snapshot, say) is rerun ``retries`` times
  (``Client.submit(..., retries=)``);
- a worker lost mid-task has its tasks moved to another worker by the scheduler (up to
  ``distributed.scheduler.allowed-failures`` times, default 3, then ``KilledWorker``);
- what still fails is recorded as a failed row and the sweep goes on.

Worker processes get one Dask thread each and ``torch_threads`` torch threads each
(``cores // workers`` by default), so workers do not oversubscribe the cores.

An interrupted sweep resumes: points whose last row in the table says ``ok`` are skipped.
The static search is drawn around the largest final net of its reference method, so when the
reference is a method of the sweep, the search starts after the sizing points have finished.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from explorer.sweep.point import failed_row, run_point
from explorer.sweep.spec import SweepPoint, SweepSpec
from explorer.sweep.table import ResultTable


@dataclass
class SweepProgress:
    """Where a sweep stands: done / failed / left, and an ETA from the mean point time."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed - self.skipped

    @property
    def eta_s(self) -> float:
        finished = self.done + self.failed
        if finished == 0:
            return float("nan")
        return (time.perf_counter() - self.started) / finished * self.left

    def line(self) -> str:
        eta = "?" if self.eta_s != self.eta_s else f"{self.eta_s:.0f}s"
        return (
            f"{self.done} done, {self.failed} failed, {self.left} left"
            + (f", {self.skipped} skipped (finished before)" if self.skipped else "")
            + f", ETA {eta}"
        )


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def make_client(scheduler: str | None = None, workers: int | None = None):
    """A Dask client: on the scheduler at ``scheduler`` (``tcp://host:8786``), or on a new
    LocalCluster of ``workers`` processes with one thread each."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError(
            "sweeps need dask.distributed: pip install 'dask[distributed]'"
        ) from None

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except OSError as exc:
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    workers = workers or default_workers()
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
    )
    return Client(cluster)


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    torch_threads: int | None = None,
    retries: int = 2,
    resume: bool = True,
    on_row: Callable[[dict], None] | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
    cancel: threading.Event | None = None,
    progress_bar: bool = False,
) -> list[dict]:
    """Run every point of ``spec``; return the rows of the points run now, in finish order.

    Rows are appended to ``out/results.csv`` as they arrive and passed to ``on_row``.
    Setting ``cancel`` stops the sweep: queued and running points are cancelled, the rows
    already written stay."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = ResultTable(out)
    own_client = client is None
    if own_client:
        client = make_client(scheduler, workers)
    if torch_threads is None:
        n = max(1, len(client.scheduler_info().get("workers", {})) or (workers or 1))
        torch_threads = max(1, (os.cpu_count() or 1) // n)
    finished = table.finished_keys() if resume else set()
    progress = SweepProgress()
    rows: list[dict] = []
    bar = _Bar(progress_bar)

    def report():
        bar.update(progress)
        if on_progress is not None:
            on_progress(progress)

    def run(points: list[SweepPoint]) -> None:
        todo = [p for p in points if p.key not in finished]
        progress.total += len(points)
        progress.skipped += len(points) - len(todo)
        report()
        if todo:
            _run_points(
                client,
                todo,
                out,
                torch_threads,
                retries,
                table,
                rows,
                progress,
                report,
                on_row,
                cancel,
            )

    try:
        sizing = spec.sizing_points()
        reference = spec.search_reference([]) if spec.search is not None else None
        search_later = spec.search is not None and reference is None
        if spec.search is not None and search_later:
            progress.total += spec.search.samples  # known count, points drawn later
        run(sizing + (spec.search_points(reference) if reference is not None else []))
        if spec.search is not None and search_later and not _cancelled(cancel):
            progress.total -= spec.search.samples
            keys = {p.key for p in sizing}  # this spec's runs, not older rows in the table
            reference = spec.search_reference([r for r in table.latest() if r["key"] in keys])
            if reference is None:
                raise RuntimeError(
                    f"no '{spec.search.reference}' run finished, so the static "
                    "search has no reference width; give reference = [w1, w2]"
                )
            run(spec.search_points(reference))
    finally:
        bar.close()
        if own_client:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    return rows


def _cancelled(cancel) -> bool:
    return cancel is not None and cancel.is_set()


def _run_points(
    client, points, out, torch_threads, retries, table, rows, progress, report, on_row, cancel
) -> None:
    futures = {}
    for p in points:
        d = p.to_dict()
        f = client.submit(
            run_point,
            d,
            str(out),
            torch_threads,
            pure=False,
            retries=retries,
            key=f"sweep-point-{p.key}-{time.time_ns()}",
        )
        futures[f] = d
    pending = set(futures)
    while pending:
        if _cancelled(cancel):
            client.cancel(list(pending))
            return
        ready = [f for f in pending if f.done()]
        if not ready:
            time.sleep(0.05)
            continue
        for f in ready:
            pending.discard(f)
            point = futures[f]
            if f.status == "finished":
                row = f.result()
            elif f.status == "cancelled":
                continue
            else:
                exc = f.exception()
                row = failed_row(point, f"{type(exc).__name__}: {exc}")
            table.append(row)
            rows.append(row)
            if row["status"] == "ok":
                progress.done += 1
            else:
                progress.failed += 1
            if on_row is not None:
                on_row(row)
            report()
            f.release()


class _Bar:
    """A tqdm bar of done + failed out of total, with the counts as its postfix."""

    def __init__(self, show: bool) -> None:
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="point", dynamic_ncols=True)

    def update(self, p: SweepProgress) -> None:
        if self.bar is None:
            return
        self.bar.total = p.total
        self.bar.n = p.done + p.failed + p.skipped
        self.bar.set_postfix_str(f"{p.done} ok, {p.failed} failed, {p.left} left")
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
