"""Packed documents: the stream layout, segment ids and positions, document masking in the model
(a token's logits ignore the previous document; a packed window's loss is the sum of the
documents' own losses), and training runs that pack files or a JSONL field."""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support.tinyrun import tiny_config

from glassgpt.cli.train import overrides_from, register
from glassgpt.config import ModelConfig, validate
from glassgpt.data.documents import DocumentBatches, pack, read_jsonl_field
from glassgpt.data.loader import BatchLoader
from glassgpt.errors import ConfigError, DataError
from glassgpt.models import GPT
from glassgpt.models.segments import document_positions, document_segments
from glassgpt.tokenizers import END_OF_TEXT, CharTokenizer, add_special_tokens, load
from glassgpt.training.engines import TorchEngine
from glassgpt.training.launch import build_trainer, train

DOCS = ["the cat sat.", "a dog ran off!", "birds."]


@pytest.fixture
def tok():
    return add_special_tokens(CharTokenizer.train("".join(DOCS) + "xyz"), [END_OF_TEXT])


def test_pack_puts_end_of_text_before_every_document_and_after_the_last(tok):
    eot = tok.special_tokens[END_OF_TEXT]
    ids = pack(["ab", "c"], tok).tolist()
    assert ids == [eot, *tok.encode("ab"), eot, *tok.encode("c"), eot]
    assert eot == tok.vocab_size - 1  # the new id follows the characters


def test_end_of_text_written_inside_a_document_stays_characters():
    tok = add_special_tokens(CharTokenizer.train("a<|endoftext|>"), [END_OF_TEXT])
    eot = tok.special_tokens[END_OF_TEXT]
    ids = pack(["a<|endoftext|>"], tok).tolist()
    assert ids == [eot, *tok.encode("a<|endoftext|>", disallowed_special=()), eot]
    assert ids.count(eot) == 2 and len(ids) == 2 + len("a<|endoftext|>")


def test_segments_count_end_of_text_tokens_and_positions_restart():
    x = np.array([[5, 9, 1, 9, 2, 3, 9, 4]])  # 9 is the end-of-text id
    seg = document_segments(x, 9)
    assert seg.tolist() == [[0, 1, 1, 2, 2, 2, 3, 3]]
    assert document_positions(seg).tolist() == [[0, 0, 1, 0, 1, 2, 0, 1]]
    assert document_positions(np.zeros((2, 4), dtype=int)).tolist() == [[0, 1, 2, 3]] * 2


def test_document_batches_add_segments_and_keep_the_loader_state():
    tokens = np.arange(200) % 7
    plain, wrapped = BatchLoader(tokens, 8, seed=3), DocumentBatches(BatchLoader(tokens, 8, seed=3), eot_id=6)
    x, y = plain.next(4)
    x2, y2, seg = wrapped.next(4)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert np.array_equal(seg, np.cumsum(x == 6, axis=1))
    state = wrapped.state()
    after = wrapped.next(2)
    wrapped.set_state(state)
    assert all(np.array_equal(a, b) for a, b in zip(after, wrapped.next(2)))


def _model(vocab: int) -> GPT:
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=vocab, block_size=48, n_layer=2, n_head=2, n_embd=32)).double().eval()
    return model


def _masked(model, ids: np.ndarray, eot: int, targets=None):
    x = torch.tensor(ids)[None]
    seg = document_segments(ids[None], eot)
    return model(
        x,
        None if targets is None else torch.tensor(targets)[None],
        segments=torch.tensor(seg),
        positions=torch.tensor(document_positions(seg)),
    )


def test_a_tokens_logits_do_not_depend_on_the_previous_document(tok):
    eot = tok.special_tokens[END_OF_TEXT]
    model = _model(tok.vocab_size)
    second = pack(["a dog ran off!"], tok)[:-1]  # <eot> a dog ran off!
    with torch.no_grad():
        alone, _ = _masked(model, second, eot)
        for before in ["the cat sat.", "birds.", "xyz xyz xyz xyz"]:  # other texts and lengths before it
            packed = np.concatenate([pack([before], tok)[:-1], second])
            logits, _ = _masked(model, packed, eot)
            assert torch.allclose(logits[0, -len(second) :], alone[0], atol=1e-12, rtol=0)
            unmasked, _ = model(torch.tensor(packed)[None])  # without the mask the context leaks in
            assert not torch.allclose(unmasked[0, -len(second) :], alone[0], atol=1e-3)


def test_the_loss_of_a_packed_window_is_the_sum_of_the_documents_losses(tok):
    """mean over the window × its targets = Σ over documents of each one's summed loss, computed
    alone as <eot> doc -> doc <eot> (each document's last token predicts the end)."""
    eot = tok.special_tokens[END_OF_TEXT]
    model = _model(tok.vocab_size)
    stream = pack(DOCS, tok)
    x, y = stream[:-1], stream[1:]

    def nll_sum(logits, targets):  # in float64 (the model's own loss is computed in float32)
        return float(F.cross_entropy(logits[0], torch.tensor(targets), reduction="sum"))

    with torch.no_grad():
        logits, mean = _masked(model, x, eot, y)
        packed = nll_sum(logits, y)
        total = 0.0
        for doc in DOCS:
            ids = pack([doc], tok)
            total += nll_sum(model(torch.tensor(ids[:-1])[None])[0], ids[1:])
    assert packed == pytest.approx(total, rel=1e-12)
    assert float(mean) == pytest.approx(total / len(y), rel=1e-6)  # the mean: divided by all the window's targets
    # the engine's evaluation sums agree (float32 there)
    cfg = tiny_config()
    cfg = dataclasses.replace(cfg, model=ModelConfig(**{**model.config.__dict__}))
    engine = TorchEngine(cfg)
    engine.model.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    s, n = engine.eval_sums(x[None], y[None], document_segments(x[None], eot))
    assert n == len(y) and s == pytest.approx(total, rel=1e-5)


def test_read_jsonl_field_names_the_line_of_a_problem(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"text": "one"}\n\n{"text": ""}\n{"text": "two"}\n', encoding="utf-8")
    assert read_jsonl_field(f, "text") == ["one", "two"]
    f.write_text('{"text": "one"}\n{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 has no field 'text'"):
        read_jsonl_field(f, "text")
    f.write_text('{"text": "one"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 has a non-text field 'text'"):
        read_jsonl_field(f, "text")
    f.write_text('{"text": "one"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 is not valid JSON"):
        read_jsonl_field(f, "text")


def test_doc_mask_needs_packed_documents_and_the_torch_engine():
    cfg = tiny_config({"model.vocab_size": 10}, doc_mask=True)
    with pytest.raises(ConfigError, match="needs packed documents"):
        validate(cfg)
    cfg = cfg.updated({"data.files": ["a.txt", "b.txt"]})
    validate(cfg)
    with pytest.raises(ConfigError, match="needs the torch engine"):
        validate(cfg.updated({"train.engine": "glass"}))


def _doc_files(tmp_path):
    for i, doc in enumerate(
        [
            "the quick brown fox jumps over the lazy dog.\n" * 6,
            "pack my box with five dozen liquor jugs!\n" * 6,
            "how vexingly quick daft zebras jump.\n" * 6,
        ]
    ):
        (tmp_path / f"doc{i}.txt").write_text(doc, encoding="utf-8")
    return [str(tmp_path / f"doc{i}.txt") for i in range(3)]


@pytest.mark.parametrize("tokenizer", ["char", "byte", "word"])
def test_a_run_packs_several_files_with_doc_mask(tmp_path, tokenizer):
    settings = {"data.files": _doc_files(tmp_path), "data.tokenizer": tokenizer, "data.val_fraction": 0.0}
    cfg = tiny_config(settings, max_steps=4, eval_every=2, doc_mask=True)
    trainer = build_trainer(tmp_path / "run", config=cfg)
    result = trainer.run()
    tok = load(tmp_path / "run")
    eot = tok.special_tokens[END_OF_TEXT]
    assert eot == tok.vocab_size - 1
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert meta["documents"] == 3 and meta["end_of_text"] == eot
    train = np.fromfile(tmp_path / "run" / "data" / "train.bin", dtype=meta["dtype"])
    assert int((train == eot).sum()) == 4 and train[0] == eot and train[-1] == eot
    assert isinstance(trainer.batches, DocumentBatches) and np.isfinite(result.final["loss"])


def test_jsonl_field_packs_each_line(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text(
        "".join(
            json.dumps({"text": t, "id": i}) + "\n"
            for i, t in enumerate(["the quick brown fox.\n" * 4, "jumps over the lazy dog.\n" * 4])
        )
    )
    cfg = tiny_config(
        {"data.path": str(f), "data.jsonl_field": "text", "data.val_fraction": 0.0}, max_steps=2, eval_every=0
    )
    train(tmp_path / "run", config=cfg)
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert meta["documents"] == 2


def test_the_cli_packs_several_data_paths(tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    files = _doc_files(tmp_path)
    args = parser.parse_args(["train", "--data", *files, "--jsonl-field", "text"])
    assert overrides_from(args) == {"data.files": files, "data.jsonl_field": "text", "data.corpus": ""}
    args = parser.parse_args(["train", "--data", files[0]])
    assert overrides_from(args) == {"data.path": files[0], "data.corpus": ""}
