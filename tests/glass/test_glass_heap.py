"""glass/heap.py: after ``keep_freed_memory()`` a step that allocates and frees tens of MB of
arrays no longer faults its pages back in every time (each process starts with glibc's own
thresholds, so the check runs in a fresh one)."""

import platform
import subprocess
import sys

import pytest

STEP_PAGES = 40 * 2**20 // 4096  # one "step": 40 arrays of 1 MiB, written, then all freed

PROBE = """
import resource
import numpy as np
from glassgpt.glass.heap import keep_freed_memory

def faults_per_step():
    def step():
        arrays = [np.ones(2**18, np.float32) for _ in range(40)]
        del arrays
    step()
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5

before = faults_per_step()
kept = keep_freed_memory()
print(before, kept, faults_per_step())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_freed_arrays_stay_mapped_for_the_next_step():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    before, kept, after = float(out[0]), out[1] == "True", float(out[2])
    assert kept
    assert before > STEP_PAGES / 2, f"glibc's defaults gave back the freed arrays less than expected: {before}"
    assert after < STEP_PAGES / 50, f"{after} page faults per step after keep_freed_memory (of {STEP_PAGES} pages)"
