"""The scale-out commands: ``data prepare``, ``export``, ``import-hf``, ``eval --multiple-choice``."""

from __future__ import annotations

import json

import pytest
import torch
from support.hf_check import gpt2_style_folder
from support.scaledata import make_docs, make_run

import glassgpt
from glassgpt.cli import main
from glassgpt.config import ModelConfig
from glassgpt.data.shards import open_prepared
from glassgpt.evaluation.multiple_choice import read_records, score_records
from glassgpt.interop.hf import export_refusal
from glassgpt.rundir.lock import acquire
from glassgpt.tokenizers import ByteTokenizer, CharTokenizer


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def refused(capsys, *args, match: str) -> str:
    code, _, err = cli(capsys, *args)
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err
    return err


# ---- data prepare ---------------------------------------------------------------------------------
def test_data_prepare_writes_shards_and_says_how_to_train(tmp_path, bpe_file, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(make_docs(12, seed=1)):
        (docs / f"{i}.txt").write_text(text)
    code, out, err = cli(
        capsys,
        "data",
        "prepare",
        "--input",
        f"{docs}/*.txt",
        "--tokenizer",
        f"bpe:{bpe_file}",
        "--out",
        tmp_path / "c",
        "--shard-tokens",
        500,
        "--workers",
        1,
        "--val-fraction",
        0.2,
        "--seed",
        3,
        "--quiet",
    )
    assert code == 0, err
    index = open_prepared(tmp_path / "c").index
    train = index["splits"]["train"]
    assert f"{train['tokens']:,} tokens" in out and f"train on it with: glassgpt train --data {tmp_path / 'c'}" in out
    assert len(train["shards"]) == -(-train["tokens"] // 500)
    assert index["splits"]["train"]["documents"] + index["splits"]["val"]["documents"] == 12
    # the same command again leaves the finished folder as it is
    before = (tmp_path / "c" / "index.json").read_bytes()
    assert (
        cli(
            capsys,
            "data",
            "prepare",
            "--input",
            f"{docs}/*.txt",
            "--tokenizer",
            f"bpe:{bpe_file}",
            "--out",
            tmp_path / "c",
            "--shard-tokens",
            500,
            "--workers",
            1,
            "--val-fraction",
            0.2,
            "--seed",
            3,
            "--quiet",
        )[0]
        == 0
    )
    assert (tmp_path / "c" / "index.json").read_bytes() == before


@pytest.mark.parametrize(
    "args, match",
    [
        (["--input", "nothing/here.txt", "--tokenizer", "cl100k"], "nothing/here.txt"),
        (["--input", "DOCS", "--tokenizer", "gpt2"], "the GPT-2 ranks do not ship offline"),
        (["--input", "DOCS", "--tokenizer", "cl100k", "--workers", "0"], "--workers must be a whole number from 1"),
        (
            ["--input", "DOCS", "--tokenizer", "cl100k", "--val-fraction", "1.5"],
            "--val-fraction must be a number in [0, 1)",
        ),
        (["--input", "DOCS", "--tokenizer", "nope"], "tokenizer file nope does not exist"),
    ],
)
def test_data_prepare_refuses_bad_input_in_one_sentence(tmp_path, capsys, args, match):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello world\n" * 50)
    args = [str(docs) if a == "DOCS" else a for a in args]
    refused(capsys, "data", "prepare", *args, "--out", tmp_path / "out", match=match)
    assert not (tmp_path / "out").exists()


# ---- export / import-hf ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "option, words",
    [
        (dict(pos="rope"), "rotary position embeddings"),
        (dict(norm="rmsnorm"), "RMSNorm"),
        (dict(qk_norm=True), "QK-norm"),
        (dict(activation="relu2"), "the ReLU² activation"),
        (dict(logit_softcap=30.0), "logit soft-capping"),
        (dict(tie_weights=False, head_bias=True), "a bias on an untied LM head"),
    ],
)
def test_export_refuses_every_option_gpt2_cannot_hold(tmp_path, capsys, option, words):
    assert words in export_refusal(ModelConfig(**option))
    run = make_run(tmp_path / "run", CharTokenizer.train("abc de."), **option)
    refused(
        capsys,
        "export",
        run,
        "--hf",
        tmp_path / "hf",
        match=f"cannot be exported: Hugging Face's GPT2LMHeadModel cannot hold {words}",
    )
    assert not (tmp_path / "hf").exists()


def test_what_gpt2_can_hold_is_exported(tmp_path):
    for option in (
        dict(),
        dict(zero_init_proj=True),
        dict(bias=False, qkv_bias=False),
        dict(activation="relu"),
        dict(tie_weights=False),
    ):
        assert export_refusal(ModelConfig(**option)) == ""


def test_export_reads_a_run_another_process_is_writing(tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    run = make_run(tmp_path / "run", ByteTokenizer(), seed=1)
    held = acquire(run, "train")  # a training process holds the writer lock: export only reads
    try:
        code, out, err = cli(capsys, "export", run, "--hf", tmp_path / "hf")
    finally:
        held.release()
    assert code == 0 and "GPT2LMHeadModel.from_pretrained" in out, err
    model, tok = glassgpt.load(run)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    ids = torch.tensor([tok.encode("hello there")])
    with torch.no_grad():
        assert (hf(ids).logits - model(ids)[0]).abs().max() <= 1e-4
    capsys.readouterr()  # transformers' own progress output
    refused(
        capsys, "export", run, "--hf", tmp_path / "hf", match="is not empty; choose a new folder or pass --overwrite"
    )


def test_import_hf_makes_a_run_that_samples_evaluates_explains_and_finetunes(tmp_path, capsys):
    pytest.importorskip("transformers")
    gpt2_style_folder(tmp_path / "hf")
    run = tmp_path / "run"
    code, out, err = cli(capsys, "import-hf", tmp_path / "hf", "--out", run)
    assert code == 0 and f"glassgpt sample {run}" in out, err
    assert cli(capsys, "sample", run, "--prompt", "The cat", "--max-new-tokens", 5, "--seed", 0)[0] == 0
    refused(capsys, "eval", run, match="has no token data of its own")
    (tmp_path / "probe.txt").write_text("The cat sat on the mat while rain fell.")
    code, out, err = cli(capsys, "eval", run, "--data", tmp_path / "probe.txt", "--quiet")
    assert code == 0 and json.loads(out)["tokens"] > 5, err
    assert cli(capsys, "explain", run, "The cat sat on the mat", "--json")[0] == 0
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        "".join(
            json.dumps(
                {"messages": [{"role": "user", "content": f"say {w}"}, {"role": "assistant", "content": f"{w} it is"}]}
            )
            + "\n"
            for w in ("cat", "mat", "rain", "hills", "sea", "river")
        )
    )
    code, _, err = cli(
        capsys,
        "finetune",
        run,
        "--sft",
        chats,
        "--out",
        tmp_path / "chat",
        "--max-steps",
        3,
        "--batch-size",
        2,
        "--quiet",
    )
    assert code == 0, err
    # a second import into the same run is refused: the folder holds a run
    refused(capsys, "import-hf", tmp_path / "hf", "--out", run, match="--overwrite")


# ---- eval --multiple-choice -----------------------------------------------------------------------
@pytest.fixture
def mc_run(tmp_path):
    tok = CharTokenizer.train("abcde .?")
    run = make_run(tmp_path / "run", tok, seed=2)
    lines = [json.dumps({"context": "abc", "endings": ["de", "a.", "??"], "label": i % 3}) for i in range(7)]
    path = tmp_path / "mc.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return run, path


def test_eval_multiple_choice_prints_both_accuracies_and_details_with_json(mc_run, capsys):
    run, path = mc_run
    model, tok = glassgpt.load(run)
    expected = score_records(model, tok, read_records(path)).to_dict(details=True)
    code, out, err = cli(capsys, "eval", run, "--multiple-choice", path, "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out) == json.loads(json.dumps(expected))
    code, out, _ = cli(capsys, "eval", run, "--multiple-choice", path, "--quiet")
    assert out.strip() == (
        f"7 examples  accuracy (summed loss) {expected['accuracy_sum']:.4f}  "
        f"accuracy (mean loss per token) {expected['accuracy_mean']:.4f}"
    )
    refused(capsys, "eval", run, "--multiple-choice", path, "--data", path, match="are two evaluations; give one")
    refused(capsys, "eval", run, "--json", match="--json goes with --multiple-choice")
    path.write_text('{"context": "abc", "endings": ["de"], "label": 0}\n')
    refused(capsys, "eval", run, "--multiple-choice", path, match="line 1 of")


@pytest.mark.slow
def test_eval_multiple_choice_is_split_over_torchrun_ranks(mc_run, jobs, capsys):
    run, path = mc_run
    model, tok = glassgpt.load(run)
    expected = score_records(model, tok, read_records(path)).to_dict(details=True)
    done = jobs.run(2, "eval", run, "--multiple-choice", path, "--json", "--quiet", "--threads", 1)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # rank 0 alone prints
    result = json.loads(lines[0])
    assert [d["index"] for d in result["details"]] == list(range(7))
    assert result["correct_sum"] == expected["correct_sum"] and result["correct_mean"] == expected["correct_mean"]
    for ours, theirs in zip(result["details"], expected["details"]):
        assert ours["sum_losses"] == pytest.approx(theirs["sum_losses"], rel=1e-6)
