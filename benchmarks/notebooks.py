"""Wall-clock and CPU time of each notebook of notebooks/, run top to bottom in a fresh kernel
with its default settings (what tests/notebooks runs).  One JSON line per notebook:

    python benchmarks/notebooks.py            # all six
    python benchmarks/notebooks.py 04         # the ones whose name starts with 04

CPU seconds are the kernel's own (user + system), read from /proc before it shuts down.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def kernel_cpu_seconds(client: NotebookClient) -> float:
    """User + system CPU seconds of the kernel process so far (Linux /proc)."""
    pid = client.km.provisioner.process.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def run(path: Path) -> dict:
    notebook = jupytext.read(path)
    with tempfile.TemporaryDirectory() as folder:
        client = NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": folder}})
        start = time.perf_counter()
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            cpu = kernel_cpu_seconds(client)
        wall = time.perf_counter() - start
    load = os.getloadavg()[0]
    return {
        "notebook": path.name,
        "wall_s": round(wall, 1),
        "kernel_cpu_s": round(cpu, 1),
        "cores": os.cpu_count(),
        "load_1min": round(load, 2),
        "machine": platform.processor() or platform.machine(),
    }


if __name__ == "__main__":
    prefixes = sys.argv[1:] or [""]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        if any(path.name.startswith(p) for p in prefixes):
            print(json.dumps(run(path)), flush=True)
