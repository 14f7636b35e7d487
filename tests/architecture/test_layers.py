"""The package's layering holds: imports only go down (import-linter's contract in pyproject.toml),
and no import hides inside a function except the few that must (listed here, with the reason)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "glassgpt"

#: the only deferred imports besides optional dependencies: the lazy entry points, each with its reason
ALLOWED_DEFERRED = {
    "glassgpt/__init__.py": "the API is loaded on first use so `import glassgpt` stays fast",
    "glassgpt/cli/__init__.py": "only the command being run is imported, so `glassgpt --help` stays fast",
    "glassgpt/cli/plot.py": "the learning-rate sweep of `plot DIR lr-finder --run` trains (torch); "
    "the figures drawn from a run's records start without it",
    "glassgpt/plotting.py": "matplotlib is imported only when a figure is drawn",
    "glassgpt/report/rundata.py": "the model (report/inside.py, torch) is opened only for a figure that looks "
    "inside it, so `glassgpt plot DIR loss` and `--compare` start fast",
    "glassgpt/fileio.py": "safetensors' torch functions load torch: only the commands that read or write tensors "
    "pay for it, so `glassgpt tokenizer` and `data prepare` start fast",
    "glassgpt/api.py": "the figures and report, `evaluate` and `load` are imported when used, so `glassgpt train` "
    "never loads the ladder's models, the word lists or matplotlib's figure code",
    "glassgpt/data/open.py": "each kind of data source is imported when a run opens that kind, so a run on text "
    "never loads the chat template, the reward machinery or the word lists",
    "glassgpt/generation/sampling.py": "the constraint automata (interegular) are built only when a constraint is given",
    "glassgpt/training/engines/__init__.py": "the NumPy engine and the ladder's engines are imported when a run "
    "asks for them, so a torch run never loads them",
    "glassgpt/progress.py": "rich (~2.5 MB resident) is imported when a task is shown, so a quiet run's peak "
    "memory stays at a bare loop's",
    "glassgpt/parallel/data_parallel.py": "FSDP (torch.distributed.fsdp, DTensor: ~45 MB resident) is imported "
    "only by a run that shards, so every other run's peak memory stays at a bare loop's",
}
OPTIONAL_MODULES = {
    "tiktoken",
    "tokenizers",
    "threadpoolctl",
    "tomllib",
    "tomli",
    "transformers",
    "fastapi",
    "resource",
    "uvicorn",
    "matplotlib",
    "cycler",
    "importlinter",
    "IPython",  # the notebook's display, only inside a Jupyter kernel
    "wandb",  # --log wandb (extra wandb)
    "torch.utils.tensorboard",  # --log tensorboard: needs the tensorboard package (extra tensorboard)
}


def test_the_layers_contract_is_kept():
    importlinter_cli = pytest.importorskip("importlinter.cli", reason="import-linter is a dev dependency")
    assert importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def deferred_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
            name = node.names[0].name if isinstance(node, ast.Import) else node.module or ""
            optional = name.split(".")[0] in OPTIONAL_MODULES or name in OPTIONAL_MODULES
            if isinstance(node, ast.ImportFrom) and node.level == 0 and optional:
                continue
            if isinstance(node, ast.Import) and optional:
                continue
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_imports_hide_inside_functions():
    hidden = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED_DEFERRED:
            continue
        found = deferred_imports(path)
        if found:
            hidden[rel] = found
    assert not hidden, f"imports inside functions hide dependency edges: {hidden}"


def test_the_scan_sees_a_hidden_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    from glassgpt import rundir\n    import tiktoken\n    return rundir\n")
    assert deferred_imports(f) == [(4, "from glassgpt import rundir")]
