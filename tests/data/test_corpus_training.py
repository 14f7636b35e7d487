"""``glassgpt train --data DIR`` on a prepared corpus, and the ``gpt2`` preset on one."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from support.scaledata import make_docs
from support.tinyrun import tiny_config

import glassgpt
from glassgpt.cli import main
from glassgpt.data import corpus_source as corpora
from glassgpt.data.prepare import prepare
from glassgpt.data.shards import ShardedTokens, ShardLoader, open_prepared
from glassgpt.device import cpu_bfloat16
from glassgpt.errors import DataError
from glassgpt.fileio import load_tensors
from glassgpt.rundir import read_metrics
from glassgpt.training.launch import build_trainer


@pytest.fixture
def corpus(tmp_path, bpe_file):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(make_docs(30, seed=5)):
        (docs / f"{i:02d}.txt").write_text(text)
    prepare(
        [str(docs)],
        f"bpe:{bpe_file}",
        tmp_path / "corpus",
        shard_tokens=700,
        workers=1,
        val_fraction=0.1,
        progress=False,
    )
    return tmp_path / "corpus"


def corpus_config(path, **train):
    cfg = tiny_config(threads=1, **{"eval_every": 5, "log_every": 1, "sample_tokens": 8, **train})
    cfg = cfg.updated({"data.path": str(path)})
    cfg = cfg.updated({"model.block_size": 32})
    return cfg


def test_a_run_streams_the_shards_with_their_tokenizer_and_copies_nothing(tmp_path, corpus):
    data = open_prepared(corpus)
    trainer = build_trainer(tmp_path / "run", config=corpus_config(corpus, max_steps=6))
    assert isinstance(trainer.batches, ShardLoader) and isinstance(trainer.source.train_tokens, ShardedTokens)
    assert (
        isinstance(trainer.source.val_tokens, ShardedTokens)
        and len(trainer.source.val_tokens) == data.index["splits"]["val"]["tokens"]
    )
    result = trainer.run()
    run = tmp_path / "run"
    assert not (run / "data").exists()  # no token cache copied into the run
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["fingerprint"] == corpora.fingerprint(data.index)
    assert config["data"]["tokenizer"] == data.index["tokenizer"]["spec"] and config["data"]["corpus"] == ""
    assert glassgpt.load(run)[1] == data.tokenizer
    assert result.final["split"] == "val" and result.final["tokens"] == len(data.split("val")) - 1
    # the final figure is every validation token, as `glassgpt eval` computes it
    evaluated = glassgpt.evaluate(run)
    assert evaluated["tokens"] == result.final["tokens"] and evaluated["loss"] == pytest.approx(
        result.final["loss"], rel=1e-6
    )


def test_resume_from_the_corpus_is_exact_and_a_moved_corpus_is_the_same_data(tmp_path, corpus):
    glassgpt.train(tmp_path / "whole", config=corpus_config(corpus, max_steps=10, decay_steps=10), report=False)
    glassgpt.train(tmp_path / "half", config=corpus_config(corpus, max_steps=5, decay_steps=10), report=False)
    moved = tmp_path / "moved"
    shutil.move(corpus, moved)
    glassgpt.train(
        tmp_path / "half", resume=True, overrides={"train.max_steps": 10, "data.path": str(moved)}, report=False
    )
    a, b = load_tensors(tmp_path / "whole" / "model.safetensors"), load_tensors(tmp_path / "half" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in read_metrics(tmp_path / "whole")] == [
        r["train_loss"] for r in read_metrics(tmp_path / "half")
    ]
    assert json.loads((tmp_path / "half" / "config.json").read_text())["data"]["path"] == str(moved)
    shutil.move(moved, tmp_path / "elsewhere")
    with pytest.raises(DataError, match="is not there any more; resume with --data DIR naming where it is now"):
        glassgpt.train(tmp_path / "half", resume=True, overrides={"train.max_steps": 12}, report=False)


def test_resume_refuses_a_corpus_that_changed(tmp_path, corpus, bpe_file):
    glassgpt.train(tmp_path / "run", config=corpus_config(corpus, max_steps=3), report=False)
    prepare(
        [str(tmp_path / "docs")],
        f"bpe:{bpe_file}",
        corpus,
        shard_tokens=500,
        workers=1,
        val_fraction=0.1,
        progress=False,
        overwrite=True,
    )
    with pytest.raises(DataError, match="has changed since this run started"):
        glassgpt.train(tmp_path / "run", resume=True, overrides={"train.max_steps": 6}, report=False)


def test_the_gpt2_preset_takes_the_corpus_tokenizer_and_its_recipe(tmp_path, corpus, capsys):
    small = [
        "--set",
        "model.n_layer=1",
        "--set",
        "model.n_head=2",
        "--set",
        "model.n_embd=32",
        "--set",
        "model.block_size=32",
        "--set",
        "train.batch_size=2",
        "--set",
        "train.tokens_per_step=128",
        "--set",
        "train.eval_every=2",
        "--set",
        "train.sample_tokens=4",
        "--threads",
        "1",
    ]
    code = main(
        ["train", "--preset", "gpt2", "--data", str(corpus), "--out", str(tmp_path / "run"), "--max-steps", "2", *small]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "TF32 (CUDA only); torch.compile (CUDA only); flash attention (CUDA only)" in err
    native = cpu_bfloat16()  # bf16 autocast runs on a CPU that multiplies bfloat16 natively
    assert ("bf16 autocast (this CPU has no native bfloat16)" in err) is not native
    assert f"{'bfloat16' if native else 'float32'} · torch engine" in err and "2 micro-batches" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    m, t = config["model"], config["train"]
    tok = open_prepared(corpus).tokenizer
    assert m["vocab_size"] == tok.vocab_size and m["pad_vocab_to"] == 64 and m["tie_weights"]
    assert (t["beta1"], t["beta2"], t["grad_clip"], t["min_lr_ratio"], t["weight_decay"]) == (0.9, 0.95, 1.0, 0.1, 0.1)
    assert t["grad_accum"] == 2 and t["schedule"] == "cosine"
    weights = load_tensors(tmp_path / "run" / "model.safetensors")
    assert weights["transformer.wte.weight"].shape[0] == -(-tok.vocab_size // 64) * 64


def test_the_gpt2_preset_without_a_corpus_says_what_it_needs(tmp_path, capsys):
    assert main(["train", "--preset", "gpt2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: the gpt2 preset trains on a prepared corpus and its tokenizer: prepare one with "
        "`glassgpt data prepare --input FILES --tokenizer gpt2:r50k_base.tiktoken --out DIR` "
        "(or --tokenizer cl100k) and pass --data DIR."
    )
    assert not (tmp_path / "run").exists()


def test_a_corpus_brings_its_own_tokenizer(tmp_path, corpus, capsys):
    assert main(["train", "--data", str(corpus), "--tokenizer", "char", "--out", str(tmp_path / "run")]) == 2
    assert "is a prepared corpus, which brings its own tokenizer; drop --tokenizer" in capsys.readouterr().err


def test_a_char_corpus_trains_resumes_evaluates_and_samples(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(make_docs(30, seed=6)):
        (docs / f"{i:02d}.txt").write_text(text)
    index = prepare([str(docs)], "char", tmp_path / "corpus", workers=1, val_fraction=0.1, progress=False)
    glassgpt.train(
        tmp_path / "run", config=corpus_config(tmp_path / "corpus", max_steps=3, decay_steps=6), report=False
    )
    glassgpt.train(tmp_path / "run", resume=True, overrides={"train.max_steps": 6}, report=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["tokenizer"] == "char" and config["model"]["vocab_size"] == index["tokenizer"]["vocab_size"]
    assert glassgpt.load(tmp_path / "run")[1] == open_prepared(tmp_path / "corpus").tokenizer
    evaluated = glassgpt.evaluate(tmp_path / "run")
    assert evaluated["split"] == "val" and evaluated["tokens"] == index["splits"]["val"]["tokens"] - 1
    val = open_prepared(tmp_path / "corpus").split("val")[:]
    separators = int((val[1:] == index["tokenizer"]["eot_id"]).sum())  # each is its 13 characters' bytes
    assert evaluated["bytes"] == evaluated["tokens"] + 12 * separators  # ASCII text: a character is a byte
    assert 0 < evaluated["loss"] < 5
    assert main(["sample", str(tmp_path / "run"), "--num-samples", "1", "--max-new-tokens", "20", "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip()
