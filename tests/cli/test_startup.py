"""Commands that need no model start without torch: importing torch takes about a second, which
`glassgpt --help`, `glassgpt tokenizer ...` and `glassgpt data prepare ...` never need.  Each
check runs in a fresh interpreter, so nothing imported by other tests can hide an import."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "code",
    [
        "import glassgpt",
        "import glassgpt.cli; glassgpt.cli.build_parser()",
        "import glassgpt.cli; glassgpt.cli.build_parser('tokenizer')",
        "import glassgpt.cli; glassgpt.cli.build_parser('data')",
        "import glassgpt.tokenizers.bpe_train, glassgpt.tokenizers.spec",
        "import glassgpt.data.prepare",
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
