"""A new run holds its token splits at the token files' dtype, as a resumed run memory-maps them,
and ``glassgpt train`` on text loads only the modules it uses (its peak memory is a bare loop's:
benchmarks/peak_memory.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from glassgpt.data.tokens import encode_splits, token_dtype
from glassgpt.tokenizers import CharTokenizer


def test_splits_come_back_at_the_token_files_dtype_with_the_same_ids(tiny_text):
    tok = CharTokenizer.train(tiny_text)
    train, val, meta = encode_splits(tiny_text, tok, 0.1, 9)
    wide = np.asarray(tok.encode(tiny_text), dtype=np.int64)
    assert train.dtype == val.dtype == np.uint16 == np.dtype(meta["dtype"])
    assert np.array_equal(np.concatenate([train, val]).astype(np.int64), wide)
    assert meta["train_tokens"] == len(train) and meta["val_tokens"] == len(val)


def test_a_vocabulary_past_65536_keeps_uint32():
    assert token_dtype(2**16) == np.uint16 and token_dtype(2**16 + 1) == np.uint32


#: what a text run never needs: the live display, the report, the constraint automata, the
#: NumPy engine, the ladder's models and engines, the chat and reward data
NOT_LOADED = [
    "rich",
    "interegular",
    "glassgpt.report",
    "glassgpt.generation.constraints",
    "glassgpt.glass",
    "glassgpt.training.engines.glass_engine",
    "glassgpt.makemore.backprop_engine",
    "glassgpt.makemore.counting",
    "glassgpt.makemore.word_source",
    "glassgpt.evaluation.loss",
    "glassgpt.data.conversation_source",
    "glassgpt.data.pair_source",
    "glassgpt.data.prompt_source",
]

PROGRAM = """
import json, sys
from glassgpt.cli import main
code = main(["train", "--preset", "baby", "--data", sys.argv[1], "--tokenizer", "char", "--out", sys.argv[2],
             "--quiet", "--threads", "1", "--max-steps", "2", "--set", "model.n_layer=1", "--set", "model.n_embd=16",
             "--set", "model.n_head=2", "--set", "model.block_size=8", "--set", "train.batch_size=2",
             "--set", "train.eval_batches=1", "--set", "train.sample_tokens=4"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_a_quiet_text_run_loads_none_of_what_it_does_not_use(tmp_path, text_file, monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(text_file), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    modules = set(result["modules"])
    assert "glassgpt.training.engines.torch_engine" in modules  # the scan sees what was loaded
    loaded = [m for m in NOT_LOADED if any(x == m or x.startswith(m + ".") for x in modules)]
    assert not loaded, f"a quiet text run loaded {loaded}"
