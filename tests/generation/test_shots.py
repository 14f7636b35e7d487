"""Few-shot prompts: the examples written one per line before the prompt, bad files refused in
one sentence; sample_text leaves the examples out of what it returns and stops at the newline."""

import json

import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.errors import DataError
from glassgpt.generation.sampling import sample_text
from glassgpt.generation.shots import Shot, few_shot_prompt, read_shots
from glassgpt.models import GPT
from glassgpt.tokenizers import CharTokenizer


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_prompt_is_the_examples_one_per_line_then_the_question(tmp_path):
    path = write(
        tmp_path / "s.jsonl",
        [json.dumps({"input": "12+34=", "output": "46"}), "", json.dumps({"input": "7+8=", "output": "15", "id": 3})],
    )
    shots = read_shots(path)
    assert shots == [Shot("12+34=", "46"), Shot("7+8=", "15")]
    assert few_shot_prompt(shots, "305-48=") == "12+34=46\n7+8=15\n305-48="


@pytest.mark.parametrize(
    "lines, message",
    [
        (["{nope"], "line 1 is not valid JSON"),
        ([json.dumps({"input": "a"})], 'line 1 is not an example with text "input" and "output"'),
        ([json.dumps({"input": "a\nb", "output": "c"})], "line break inside an example"),
        (["", "  "], "has no examples"),
    ],
)
def test_a_bad_shots_file_is_one_sentence(tmp_path, lines, message):
    with pytest.raises(DataError, match=message):
        read_shots(write(tmp_path / "s.jsonl", lines))
    with pytest.raises(DataError, match="does not exist"):
        read_shots(tmp_path / "missing.jsonl")


def test_sample_text_leaves_the_examples_out_and_stops_at_the_line_end(tmp_path):
    tok = CharTokenizer("0123456789+=\n")
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)).eval()
    path = write(tmp_path / "s.jsonl", [json.dumps({"input": "1+1=", "output": "2"})] * 3)
    outs = sample_text(model, tok, "2+2=", 20, temperature=1.0, num_samples=8, seed=0, shots=str(path))
    full = sample_text(model, tok, "1+1=2\n" * 3 + "2+2=", 20, temperature=1.0, num_samples=8, seed=0)
    for out, whole in zip(outs, full):
        assert out.startswith("2+2=") and "\n" not in out
        assert out == whole.split("\n")[3]  # the same draw, cut at the first line end
