"""Helpers of the hostile-input suites: run the CLI in-process or as a child process
(exit code, stderr, peak memory of that child alone), and check what it left behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: peak resident memory a hostile input may cost the CLI (it needs ~300 MB to import torch)
MAX_RSS_MB = 500
#: address-space cap of the child: a safety net for this shared machine, far above the limit
AS_CAP = 3 << 30


@dataclass
class Outcome:
    code: int | None
    out: str
    err: str
    peak_mb: float
    timed_out: bool = False


#: runs ``python -m explorer`` and, at exit, writes the process's own VmHWM (kB). Not
#: ``wait4``'s ru_maxrss: Linux carries the pre-exec high-water mark across exec, so a child
#: forked from a pytest process that has grown to 550 MB "peaks" at 550 MB before it runs a line.
CHILD = """
import atexit, os, runpy, sys

def _peak():
    try:
        with open("/proc/self/status") as f:
            kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
        with open(os.environ["HOSTILE_PEAK_FILE"], "w") as f:
            f.write(kb)
    except OSError:  # e.g. a child run as another user in a folder it cannot write
        pass

atexit.register(_peak)
sys.argv = ["explorer", *sys.argv[1:]]
runpy.run_module("explorer", run_name="__main__", alter_sys=True)
"""


def run_cli(args: list[str], cwd: Path, timeout: float = 120, user: int | None = None) -> Outcome:
    """``python -m explorer ARGS`` in a child; the peak RSS of that child alone (VmHWM)."""
    out_path, err_path = cwd / ".child.out", cwd / ".child.err"
    peak_path = cwd / ".child.peak"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HOSTILE_PEAK_FILE": str(peak_path),
    }

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (AS_CAP, AS_CAP))
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=limits,
        )
        deadline = time.monotonic() + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    text_out = out_path.read_text(errors="replace")
    text_err = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    # a child killed before its atexit hook ran: fall back to rusage (an upper bound)
    peak_kb = float(peak_path.read_text()) if peak_path.is_file() else float(usage.ru_maxrss)
    peak_path.unlink(missing_ok=True)
    return Outcome(
        None if timed_out else proc.returncode, text_out, text_err, peak_kb / 1024, timed_out
    )


def assert_clean_error(code, err: str, argparse_ok: bool = False) -> None:
    """Exit code 2, no traceback, one ``error:`` line (argparse adds its usage lines)."""
    assert code == 2, f"exit code {code}, stderr: {err[-600:]}"
    assert "Traceback" not in err, err[-1500:]
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, f"expected one error line, got: {err[-600:]}"
    if not argparse_ok:
        assert len(lines) == 1, f"expected one line, got: {err[-600:]}"
    assert len(errors[0]) < 600, "the message is too long to be one clear line"


def tree(folder: Path) -> set[str]:
    """Every path below ``folder`` (relative), to compare before and after a command."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def leftovers(folder: Path) -> list[str]:
    """Temporary debris a failed write may leave."""
    return [
        p
        for p in tree(folder)
        if p.endswith((".tmp", ".old"))
        or "/.tmp" in p
        or Path(p).name.startswith(".")
        and ".tmp" in p
    ]
