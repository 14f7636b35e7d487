"""``glassgpt finetune`` end to end: a new run that learned the replies, the source untouched,
explain --chat, and one clear sentence (exit 2, nothing written) for each bad input."""

from __future__ import annotations

import json
import re

import pytest
from support.chatrun import CONTEXT, QA, chat_lines, pretrain_config, tree_digest, write_sft
from support.tinyrun import TINY_TEXT

from glassgpt.cli import main
from glassgpt.models.from_run import load_run
from glassgpt.tokenizers import BPETokenizer
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, is_chat_tokenizer, render
from glassgpt.training.launch import train


def test_the_fine_tuned_run_learned_the_replies(chat, base):
    record = json.loads((chat / "finetune.json").read_text())
    assert record["source"] == str(base) and record["context"] == CONTEXT
    assert record["counts"]["train"]["conversations"] + record["counts"]["val"]["conversations"] == 24
    before, after = record["before"], record["after"]
    assert after["train"]["loss"] < 0.6 * before["train"]["loss"]
    assert after["val"]["loss"] < before["val"]["loss"]
    assert len(record["transcript"]) == 2 and {"user", "expected", "reply"} <= set(record["transcript"][0])
    run = load_run(chat)
    base_run = load_run(base)
    assert is_chat_tokenizer(run.tokenizer)
    assert run.tokenizer.vocab_size == base_run.tokenizer.vocab_size + len(CHAT_SPECIALS)
    assert run.config.model.vocab_size == run.tokenizer.vocab_size
    summary = json.loads((chat / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["final"]["val_loss"] == pytest.approx(after["val"]["loss"])


def test_finetune_cli_leaves_the_source_untouched_and_counts_truncations(base, tmp_path, capsys):
    before = tree_digest(base)
    long = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "the quick brown fox jumps over the lazy dog"},
                {"role": "assistant", "content": "pack my box with five dozen liquor jugs!"},
            ]
        }
    )
    sft = write_sft(tmp_path / "sft.jsonl", chat_lines(12) + [long])
    code = main(
        [
            "finetune",
            str(base),
            "--sft",
            str(sft),
            "--out",
            str(tmp_path / "new"),
            "--overflow",
            "truncate",
            "--max-steps",
            "3",
            "--batch-size",
            "2",
            "--val-fraction",
            "0",
            "--quiet",
            "--json",
            "--transcript",
            "1",
        ]
    )
    out = capsys.readouterr()
    assert code == 0
    assert "1 longer than the context of 48 tokens were truncated, 0 dropped" in out.err
    result = json.loads(out.out)
    assert result["counts"]["train"]["truncated"] == 1 and result["steps"] == 3
    assert tree_digest(base) == before


def test_explain_chat_marks_the_counted_targets(chat, capsys):
    conv = {"messages": [{"role": "user", "content": QA[0][0]}, {"role": "assistant", "content": QA[0][1]}]}
    assert main(["explain", str(chat), json.dumps(conv), "--chat", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rendered = render(load_run(chat).tokenizer, conv["messages"])
    assert [row["counts"] for row in result["tokens"]] == rendered.counted[1:]
    counted = [row["loss"] for row in result["tokens"] if row["counts"]]
    assert result["counted_targets"] == len(QA[0][1]) + 1
    assert result["response_loss"] == pytest.approx(sum(counted) / len(counted))
    assert main(["explain", str(chat), "{not json", "--chat"]) == 2
    assert "TEXT is not valid JSON" in capsys.readouterr().err


# ---- bad input: one sentence, exit status 2, the source run untouched, nothing written -------------------
@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    cfg = pretrain_config()
    cfg = cfg.updated({"data.tokenizer": "word"})
    out = tmp_path_factory.mktemp("word") / "run"
    train(out, config=cfg, text=TINY_TEXT)
    return out


@pytest.fixture(scope="module")
def overlapping_bpe_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bpe")
    BPETokenizer.train(TINY_TEXT, vocab_size=262, special_tokens=["<|user"]).save(root / "bpe.json")
    cfg = pretrain_config()
    cfg = cfg.updated({"train.max_steps": 2})
    cfg = cfg.updated({"data.tokenizer": f"bpe:{root / 'bpe.json'}"})
    train(root / "run", config=cfg, text=TINY_TEXT)
    return root / "run"


GOOD = chat_lines(1)[0]
BAD_FILES = {
    "malformed line": (GOOD + '\n{"messages": [\n', r"sft.jsonl line 2 is not valid JSON"),
    "not a conversation": (GOOD + "\n[1, 2]\n", r"line 2 is not a conversation"),
    "unknown role": (
        '{"messages": [{"role": "bot", "content": "hi"}]}\n',
        r"line 1, message 1 has the unknown role 'bot'",
    ),
    "no assistant turn": ('\n{"messages": [{"role": "user", "content": "hi"}]}\n', r"line 2 has no assistant message"),
    "empty file": ("", r"sft.jsonl is empty"),
    "only blank lines": ("\n  \n", r"sft.jsonl is empty"),
    "content not text": ('{"messages": [{"role": "user", "content": 3}]}\n', r"message 1: the content must be text"),
    "unknown character": (
        '{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "a"}]}\n',
        r"line 1: the character 'Q'",
    ),
    "too long for the context": (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "the quick brown fox " * 3},
                    {"role": "assistant", "content": "ok."},
                ]
            }
        )
        + "\n",
        r"line 1: the conversation is \d+ tokens, more than the model's context of 48",
    ),
    "binary file": ("\x00\x01", r"looks like a binary file"),
}


def run_bad(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_sft_files(case, base, tmp_path, capsys):
    text, pattern = BAD_FILES[case]
    sft = tmp_path / "sft.jsonl"
    sft.write_text(text, encoding="utf-8")
    before = tree_digest(base)
    err = run_bad(capsys, ["finetune", str(base), "--sft", str(sft), "--out", str(tmp_path / "new"), "--quiet"])
    assert re.search(pattern, err), err
    assert tree_digest(base) == before and not (tmp_path / "new").exists()


def test_bad_runs_and_paths(base, word_run, overlapping_bpe_run, tmp_path, capsys):
    sft = write_sft(tmp_path / "sft.jsonl")
    cases = [
        ([str(word_run)], "word tokenizer, whose closed vocabulary cannot encode free conversation text"),
        ([str(overlapping_bpe_run)], "cannot hold the chat tokens: the special token '<|user' is part of"),
        ([str(tmp_path / "nowhere")], "does not exist"),
    ]
    for run, message in cases:
        err = run_bad(capsys, ["finetune", *run, "--sft", str(sft), "--out", str(tmp_path / "new")])
        assert message in err, err
    digest = tree_digest(base)
    err = run_bad(capsys, ["finetune", str(base), "--sft", str(sft), "--out", str(base)])
    assert "--out must be a new run directory" in err
    err = run_bad(
        capsys, ["finetune", str(base), "--sft", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "n")]
    )
    assert "missing.jsonl does not exist" in err
    assert tree_digest(base) == digest and not (tmp_path / "new").exists()
