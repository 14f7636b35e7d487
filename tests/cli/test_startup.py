"""Commands that need no model start without torch: importing torch takes about a second, which
`glassgpt --help`, `glassgpt tokenizer ...`, `glassgpt data prepare ...` and the figures drawn
from a finished run's records (`glassgpt plot DIR loss`, `--compare`) never need.  Each check
runs in a fresh interpreter, so nothing imported by other tests can hide an import."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.runs import make_run


@pytest.mark.parametrize(
    "code",
    [
        "import glassgpt",
        "import glassgpt.cli; glassgpt.cli.build_parser()",
        "import glassgpt.cli; glassgpt.cli.build_parser('tokenizer')",
        "import glassgpt.cli; glassgpt.cli.build_parser('data')",
        "import glassgpt.tokenizers.bpe_train, glassgpt.tokenizers.spec",
        "import glassgpt.data.prepare",
        "import glassgpt.cli; glassgpt.cli.build_parser('plot')",
        "import glassgpt.report",
    ],
)
def test_no_torch_where_no_model_is_needed(code):
    check = f"{code}\nimport sys\nassert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('glassgpt'))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_tokenizer_trains_from_the_command_line_without_torch(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello world, hello tokens " * 50, encoding="utf-8")
    code = (
        "import sys\nfrom glassgpt.cli import main\n"
        f"code = main(['tokenizer', 'train', '--data', {str(text)!r}, '--vocab-size', '300', "
        f"'--out', {str(tmp_path / 'tok.json')!r}, '--quiet'])\n"
        "assert code == 0 and 'torch' not in sys.modules, code\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "tok.json").is_file()


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """Two finished tiny runs, the first with diagnostics (so the overview reads its gradient
    statistics from diagnostics.jsonl, not from the weights)."""
    root = tmp_path_factory.mktemp("startup")
    make_run(root / "first", steps=4, diagnostics_every=2)
    make_run(root / "second", steps=4, lr=1e-3)
    return root / "first", root / "second"


def plot_in_a_fresh_interpreter(*args) -> bool:
    """Run `glassgpt plot ARGS` in a new interpreter; whether it imported torch."""
    code = (
        "import sys\nfrom glassgpt.cli import main\n"
        f"code = main({['plot', *map(str, args), '--quiet']!r})\n"
        "print('torch' in sys.modules)\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("figure", ["loss", "overview"])
def test_figures_of_a_finished_runs_records_draw_without_torch(finished_runs, figure):
    first, _ = finished_runs
    assert not plot_in_a_fresh_interpreter(first, figure)
    assert (first / "plots" / f"{figure}.png").stat().st_size > 1000


def test_runs_compare_side_by_side_without_torch(finished_runs):
    first, second = finished_runs
    assert not plot_in_a_fresh_interpreter(first, "--compare", second)
    assert (first / "plots" / "compare-second.png").stat().st_size > 1000


def test_a_figure_that_looks_inside_the_model_loads_torch(finished_runs):
    first, _ = finished_runs
    assert plot_in_a_fresh_interpreter(first, "attention")
    assert (first / "plots" / "attention.png").stat().st_size > 1000
