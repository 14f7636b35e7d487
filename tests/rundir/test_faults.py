"""The fault injector counts exactly the file operations of a block and fails the k-th."""

from __future__ import annotations

import os

import pytest
from support import faults

from glassgpt.errors import DiskError
from glassgpt.fileio import atomic_write_bytes


def test_it_counts_the_writes_of_an_atomic_write_and_not_the_reads(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    original_replace = os.replace
    with faults.FileFaults(root=tmp_path) as ops:
        target.read_bytes()
        with open(target, "rb"):
            pass
        atomic_write_bytes(target, b"new")
    assert [op.split(" ")[0] for op in ops.ops] == [
        "tempfile.mkstemp",
        "builtins.open",
        "os.chmod",
        "builtins.open",
        "os.fsync",
        "os.replace",
        "os.fsync",
    ]
    assert os.replace is original_replace  # everything is put back


def test_the_kth_operation_fails_and_an_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    for k in range(1, 7):
        with (
            faults.FileFaults(fail_at=k, fail=faults.disk_full, root=tmp_path) as ops,
            pytest.raises(DiskError, match="the disk is full"),
        ):
            atomic_write_bytes(target, b"new")
        assert ops.failed == ops.ops[k - 1] and target.read_bytes() == b"old", ops.failed
        assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]  # the temporary file is gone
    with faults.FileFaults(root=tmp_path / "elsewhere") as ops:  # paths outside root do not count ...
        atomic_write_bytes(target, b"new")
    assert ops.ops == ["os.fsync", "os.fsync"] and target.read_bytes() == b"new"  # ... file descriptors do
