"""Glass tests run on one thread: on a shared 2-core machine, extra torch/BLAS threads only
spin on these small matmuls (up to 100x slower)."""

import pytest
import torch

from glassgpt.threads import blas_threads


@pytest.fixture(autouse=True, scope="module")
def single_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with blas_threads(1):
        yield
    torch.set_num_threads(old)
