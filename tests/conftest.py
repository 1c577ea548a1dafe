"""Shared test set-up."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One intra-op thread: small CPU kernels are then deterministic, and on a busy 2-core
    machine no OpenMP thread spins against the test's other threads (web server, trainer)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
