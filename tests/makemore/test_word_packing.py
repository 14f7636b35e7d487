"""``train.doc_mask`` for the GPT on a word list: several words packed into one row, each its
own segment (attention and positions restart at its ``.``), so that packing changes the
speed and not the numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.wordlists import make_words, train_rung, write_words

from glassgpt.cli import main
from glassgpt.config import ModelConfig, resolve, validate
from glassgpt.errors import ConfigError
from glassgpt.makemore.word_source import ExampleBatches, PackedWordBatches, pack_words
from glassgpt.makemore.words import WordList, prepare_words
from glassgpt.models.gpt import GPT
from glassgpt.models.segments import document_positions


def _padded(lengths: list[int], T: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first ``n`` positions are word i (x = 100·i + position, y = x + 1), the rest padding."""
    X, Y = np.zeros((len(lengths), T), np.int64), np.full((len(lengths), T), -1, np.int64)
    for i, n in enumerate(lengths):
        X[i, :n] = 100 * i + np.arange(n)
        Y[i, :n] = X[i, :n] + 1
    return X, Y


def test_words_are_packed_best_fit_each_its_own_segment():
    X, Y = _padded([3, 5, 4, 2])
    x, y, seg = pack_words(X, Y, width=8)
    assert x.shape == y.shape == seg.shape == (2, 8)  # 3 + 5 fill row 0; 4 + 2 share row 1
    assert seg.tolist() == [[0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 2, 2]]  # padding: a segment of its own
    assert x[0].tolist() == [0, 1, 2, 100, 101, 102, 103, 104]
    assert x[1, :6].tolist() == [200, 201, 202, 203, 300, 301] and (x[1, 6:] == X[0, 0]).all()
    assert y[1].tolist() == [201, 202, 203, 204, 301, 302, -1, -1]  # padding counts for nothing
    assert document_positions(seg)[1].tolist() == [0, 1, 2, 3, 0, 1, 0, 1]  # each word from position 0


def test_packing_keeps_every_target_once():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 7, size=50)
    X, Y = _padded(lengths.tolist())
    x, y, _ = pack_words(X, Y, width=7)
    assert sorted(y[y != -1].tolist()) == sorted(Y[Y != -1].tolist())
    assert len(x) < len(X)  # fewer rows than words: the point of packing


@pytest.mark.parametrize("pos", ["learned", "rope"])
def test_a_packed_batch_has_the_padded_batchs_loss(pos):
    data = prepare_words(WordList(make_words(60)), seed=42)
    X, Y = data.arrays("train", 16, sequences=True)
    cfg = ModelConfig(vocab_size=data.tokenizer.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16, pos=pos)
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    x, y, seg = pack_words(X, Y, width=16)
    assert len(x) < len(X) / 2
    t = torch.from_numpy
    with torch.no_grad():
        _, padded = model(t(X), t(Y))
        _, packed = model(t(x), t(y), segments=t(seg), positions=t(document_positions(seg)))
    assert packed.item() == pytest.approx(padded.item(), abs=1e-6)  # float32 sums in another order


def test_packed_batches_draw_the_words_unpacked_batches_draw():
    X, Y = _padded([3, 5, 4, 2, 6, 1])
    packed = PackedWordBatches(X, Y, seed=7, width=12)
    plain = ExampleBatches(X, Y, seed=7)
    for _ in range(3):
        x, y, _ = packed.next(4)
        _, y_plain = plain.next(4)
        assert sorted(y[y != -1].tolist()) == sorted(y_plain[y_plain != -1].tolist())
    assert packed.state() == plain.state()


def _losses(run) -> list[float]:
    return [
        r["train_loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "train_loss" in r
    ]


def test_a_packed_run_logs_the_padded_runs_losses(tmp_path):
    data = write_words(tmp_path)
    for name, extra in (("padded", []), ("packed", ["--set", "train.doc_mask=true"])):
        assert (
            train_rung(
                "gpt",
                data,
                tmp_path / name,
                "--max-steps",
                "30",
                "--set",
                "model.dropout=0",
                "--set",
                "train.log_every=5",
                *extra,
            )
            == 0
        )
    padded, packed = _losses(tmp_path / "padded"), _losses(tmp_path / "packed")
    assert len(padded) == len(packed) >= 6 and padded[-1] < padded[0]
    assert packed == pytest.approx(padded, abs=1e-4)  # 30 steps of float drift, no more


def test_packing_is_refused_where_it_cannot_apply(tmp_path):
    cfg = resolve("makemore-mlp-fast")
    cfg = cfg.updated({"train.doc_mask": True})
    with pytest.raises(ConfigError, match="reads fixed windows"):
        validate(cfg)
    cfg = resolve("makemore-gpt-fast")
    cfg = cfg.updated({"train.doc_mask": True, "train.grad_accum": 2})
    with pytest.raises(ConfigError, match="grad_accum"):
        validate(cfg)
    data = write_words(tmp_path)
    assert (
        main(
            [
                "train",
                "--model",
                "mlp",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "r"),
                "--quiet",
                "--set",
                "train.doc_mask=true",
            ]
        )
        == 2
    )
    assert not (tmp_path / "r").exists()
