"""Fine-tuning on conversations that call the calculator: the tool tokens are added, the
forced outputs are masked out of the loss, and a bad call in the data is refused."""

import json

import pytest
from support.chatrun import pretrain_config, write_sft
from support.tinyrun import TINY_TEXT

import glassgpt
from glassgpt.cli import main
from glassgpt.models.from_run import load_run
from glassgpt.tokenizers.chat_template import TOOL_SPECIALS


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tools") / "base"
    glassgpt.train(out, config=pretrain_config(), text=TINY_TEXT + "0123456789+=\n" * 20, report=False)
    return out


def test_finetune_on_tool_calls_adds_the_tool_tokens_and_masks_outputs(digits_run, tmp_path, capsys):
    base = digits_run
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "the quick"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool", "text": f"{i}+1"}, {"type": "text", "text": f"{i + 1}"}],
                    },
                ]
            }
        )
        for i in range(12)
    ]
    sft = write_sft(tmp_path / "tools.jsonl", lines)
    out = tmp_path / "tooled"
    assert main(["finetune", str(base), "--sft", str(sft), "--out", str(out), "--max-steps", "3", "--quiet"]) == 0
    run = load_run(out)
    assert all(s in run.tokenizer.special_tokens for s in TOOL_SPECIALS)
    record = json.loads((out / "finetune.json").read_text())
    # every reply counts its call (start, "i+1", end), its answer and <|assistant_end|>, never the output
    assert record["counts"]["train"]["counted_targets"] + record["counts"]["val"]["counted_targets"] == sum(
        2 + len(f"{i}+1") + len(str(i + 1)) + 1 for i in range(12)
    )
    for call, message in (("0/0", "divides by zero"), ("open(0)", "'open(0)' is not arithmetic")):
        bad = write_sft(tmp_path / "bad.jsonl", [lines[0].replace("0+1", call)])
        assert main(["finetune", str(base), "--sft", str(bad), "--out", str(tmp_path / "never"), "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "never").exists()
