"""Sweeps on a real Dask cluster: a LocalCluster of 2 worker processes, and a scheduler and
workers started as separate processes (``dask scheduler`` / ``dask worker``) on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from explorer.sweep import ResultTable, run_sweep, spec_from_dict

pytestmark = pytest.mark.slow  # child processes / Dask clusters: tens of seconds each

distributed = pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[1]


def _spec(steps=30, fail=True, search=2):
    methods = [
        {"name": "nonparametric", "lam": [1e-3, 3e-4], "hidden": [[6, 6]]},
        {"name": "static", "hidden": [[8, 8]]},
    ]
    if fail:  # a point made to fail: an optimizer the method does not know
        methods.append(
            {"name": "nonparametric", "hidden": [[4, 4]], "options": {"optimizer": "bogus"}}
        )
    data = {"dataset": "digits", "steps": steps, "eval_every": 10, "method": methods}
    if search:
        data["search"] = {"samples": search, "reference": "nonparametric"}
    return spec_from_dict(data)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def test_local_cluster_sweep_failure_table_resume(client, tmp_path):
    spec = _spec()
    seen, progress = [], []
    rows = run_sweep(
        spec,
        tmp_path,
        client=client,
        torch_threads=1,
        on_row=seen.append,
        on_progress=lambda p: progress.append((p.done, p.failed, p.left)),
    )
    # 3 sizing points + the failing one, then 2 search points drawn around the largest
    # nonparametric net
    assert len(rows) == 6 and seen == rows
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and "unknown optimizer 'bogus'" in failed[0]["error"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 5 and all(Path(r["snapshot"]).is_file() for r in ok)
    assert sorted(r["kind"] for r in ok) == ["search"] * 2 + ["sizing"] * 3
    assert len({r["worker"] for r in rows}) == 2  # both worker processes took points
    assert progress[-1] == (5, 1, 0)
    # the table on disk holds exactly what was returned
    on_disk = {r["key"]: r for r in ResultTable(tmp_path).latest()}
    assert set(on_disk) == {r["key"] for r in rows}
    for r in rows:
        d = on_disk[r["key"]]
        assert (d["status"], d["method"], d["sizes"], d["snapshot"]) == (
            r["status"],
            r["method"],
            r["sizes"],
            r["snapshot"],
        )
        if r["status"] == "ok":
            assert d["val_acc"] == pytest.approx(r["val_acc"])
            assert d["param_steps"] == r["param_steps"]
    # resume: finished points are skipped, the failed one runs again (and fails again)
    skipped = []
    again = run_sweep(
        spec,
        tmp_path,
        client=client,
        torch_threads=1,
        on_progress=lambda p: skipped.append(p.skipped),
    )
    assert [r["key"] for r in again] == [failed[0]["key"]]
    assert skipped[-1] == 5
    assert len(ResultTable(tmp_path).rows()) == 7  # append-only: one more row


def test_cancel_stops_the_sweep(client, tmp_path):
    cancel = threading.Event()
    rows = run_sweep(
        _spec(steps=400, fail=False, search=0),
        tmp_path,
        client=client,
        torch_threads=1,
        on_row=lambda r: cancel.set(),
        cancel=cancel,
    )
    assert 1 <= len(rows) < 3
    time.sleep(0.5)
    assert not any(t for t in client.processing().values())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_scheduler_address_survives_a_killed_worker(tmp_path):
    """Sweep by address; the only worker is killed mid-sweep and a new one started: every
    point still finishes ok (the scheduler moves the lost worker's task)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
    worker_args = (
        "worker",
        address,
        "--nthreads",
        "1",
        "--no-nanny",
        "--no-dashboard",
        "--host",
        "127.0.0.1",
    )
    workers = [_dask(*worker_args)]
    try:
        spec = _spec(steps=150, fail=False, search=0)
        spec.seeds = [0, 1]
        first_row = threading.Event()
        result = {}

        def sweep():
            result["rows"] = run_sweep(
                spec, tmp_path, scheduler=address, torch_threads=1, on_row=lambda r: first_row.set()
            )

        deadline = time.time() + 60
        while True:  # the scheduler takes a moment to listen
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        thread = threading.Thread(target=sweep)
        thread.start()
        assert first_row.wait(400), "no point finished on the first worker"
        workers[0].kill()  # SIGKILL: the worker dies mid-sweep, a point in its hands
        workers[0].wait()
        done_before = len(ResultTable(tmp_path).latest())
        workers.append(_dask(*worker_args))
        thread.join(500)
        assert not thread.is_alive()
        rows = result["rows"]
        assert done_before < 6
        assert len(rows) == 6 and all(r["status"] == "ok" for r in rows), rows
        assert len({r["worker"] for r in rows}) == 2  # the second worker finished the rest
        assert {r["key"] for r in ResultTable(tmp_path).latest()} == {
            p.key for p in spec.sizing_points()
        }
    finally:
        for w in workers:
            _stop(w)
        _stop(scheduler)
