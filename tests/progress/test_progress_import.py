"""glassgpt.progress is imported by commands that must start fast: it imports no torch."""

from __future__ import annotations

import subprocess
import sys


def test_importing_progress_does_not_import_torch():
    code = "import glassgpt.progress, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
