"""FSDP's machinery (torch.distributed.fsdp, DTensor: ~45 MB resident) stays out of a process
until a run shards: a fresh interpreter that sets up training has not imported it."""

import subprocess
import sys

PROBE = """
import sys
import glassgpt.training.launch
from glassgpt.parallel.data_parallel import wrap
print(sorted(m for m in ("torch.distributed.fsdp", "torch.distributed.tensor") if m in sys.modules))
"""


def test_training_setup_leaves_fsdp_unimported():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
