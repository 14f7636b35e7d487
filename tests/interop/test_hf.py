"""Hugging Face interop: export loads in transformers with our ids and logits; import back."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from support.hf_check import TEXT, compare_logits, gpt2_style_folder, require_transformers
from support.scaledata import make_run

import glassgpt
from glassgpt.errors import InteropError, TokenizerError
from glassgpt.evaluation.loss import evaluate_run
from glassgpt.fileio import load_tensors, save_tensors
from glassgpt.interop import export_hf, import_hf
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, WordTokenizer

transformers = pytest.importorskip("transformers")
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

PROBE = "Doc 7.\nThe cat sat on grey hills; nobody knew why, 42 times!"
TOL = 1e-4  # the bound on |logits ours - logits transformers|


def hf_logits(hf_dir, ids):
    model = transformers.GPT2LMHeadModel.from_pretrained(hf_dir).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits


@pytest.mark.parametrize(
    "kind, model_kw",
    [
        ("bpe", dict(pad_vocab_to=64)),  # GPT-2 style: tied, padded vocabulary
        ("char", dict(bias=False, qkv_bias=False, tie_weights=False, pad_vocab_to=16)),  # bias-free, untied head
        ("byte", dict(activation="relu", d_ff=48, tie_weights=False)),  # ReLU, custom MLP width
    ],
)
def test_export_loads_in_transformers_with_our_ids_and_logits(tmp_path, kind, model_kw):
    tok = {
        "bpe": lambda: BPETokenizer.train(TEXT, vocab_size=330, special_tokens=["<|endoftext|>"]),
        "char": lambda: CharTokenizer.train(TEXT + "!"),
        "byte": ByteTokenizer,
    }[kind]()
    run = make_run(tmp_path / "run", tok, block_size=80, **model_kw)
    hf = export_hf(run, tmp_path / "hf")
    model, tokenizer = glassgpt.load(run)
    report = compare_logits(model, tokenizer, hf, PROBE)
    assert report["same_ids"] and report["tokens"] == len(tok.encode(PROBE))
    assert report["max_abs_diff"] <= TOL
    hf_tok = transformers.AutoTokenizer.from_pretrained(hf)
    ids = tok.encode(PROBE)
    assert hf_tok.decode(ids) == PROBE  # decoding agrees too (no spaces between chars, bytes joined)
    config = json.loads((hf / "config.json").read_text())
    assert config["vocab_size"] == tok.vocab_size  # padding rows are not exported
    weights = load_tensors(hf / "model.safetensors")
    assert weights["transformer.wte.weight"].shape[0] == tok.vocab_size
    assert ("lm_head.weight" in weights) == (not model_kw.get("tie_weights", True))
    if kind == "bpe":
        assert config["eos_token_id"] == tok.special_tokens["<|endoftext|>"]
        assert hf_tok("a <|endoftext|> b")["input_ids"] == tok.encode("a <|endoftext|> b", allowed_special="all")


def test_export_refuses_what_gpt2_cannot_hold(tmp_path):
    run = make_run(tmp_path / "r1", CharTokenizer.train(TEXT), tie_weights=False, head_bias=True)
    with pytest.raises(InteropError, match="cannot be exported: .*cannot hold a bias on an untied LM head"):
        export_hf(run, tmp_path / "hf1")
    run = make_run(tmp_path / "r2", WordTokenizer.train("mary had a little lamb\n"))
    with pytest.raises(TokenizerError, match="a word tokenizer has no Hugging Face equivalent"):
        export_hf(run, tmp_path / "hf2")
    assert not (tmp_path / "hf1").exists() and not (tmp_path / "hf2").exists()
    run = make_run(tmp_path / "r3", ByteTokenizer())
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(InteropError, match="is not empty; choose a new folder or pass --overwrite"):
        export_hf(run, tmp_path / "busy")


def test_import_a_transformers_model_and_use_it(tmp_path):
    hf_model, fast = gpt2_style_folder(tmp_path / "hf")
    run = import_hf(tmp_path / "hf", tmp_path / "run")
    model, tok = glassgpt.load(run)
    ids = tok.encode(PROBE)
    assert ids == fast(PROBE)["input_ids"] and tok.decode(ids) == PROBE
    with torch.no_grad():
        diff = (model(torch.tensor([ids]))[0] - hf_model(torch.tensor([ids])).logits).abs().max()
    assert diff <= TOL
    # it samples, and evaluates to transformers' own loss on the same tokens
    assert isinstance(glassgpt.generate(model, tok, "The cat", max_new_tokens=5, seed=0)[0], str)
    (tmp_path / "probe.txt").write_text(PROBE)
    result = evaluate_run(run, data=str(tmp_path / "probe.txt"))
    with torch.no_grad():
        hf_loss = hf_model(torch.tensor([ids]), labels=torch.tensor([ids])).loss
    assert result["tokens"] == len(ids) - 1 and abs(result["val_loss"] - float(hf_loss)) < 1e-5


def test_round_trip_hf_glassgpt_hf_gives_back_the_same_tensors(tmp_path):
    gpt2_style_folder(tmp_path / "hf", seed=3)
    run = import_hf(tmp_path / "hf", tmp_path / "run")
    export_hf(run, tmp_path / "hf2")
    a, b = load_tensors(tmp_path / "hf" / "model.safetensors"), load_tensors(tmp_path / "hf2" / "model.safetensors")
    a.pop("lm_head.weight", None)  # tied: transformers may or may not store the duplicate
    assert sorted(a) == sorted(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    t1 = json.loads((tmp_path / "hf" / "tokenizer.json").read_text())["model"]["vocab"]
    t2 = json.loads((tmp_path / "hf2" / "tokenizer.json").read_text())["model"]["vocab"]
    assert t2 == {**t1, "<|endoftext|>": 320}  # our export also lists the special in the model's vocabulary


def test_round_trip_glassgpt_hf_glassgpt(tmp_path):
    tok = BPETokenizer.train(TEXT, vocab_size=300, pattern="gpt2", special_tokens=["<|endoftext|>"])
    run = make_run(tmp_path / "run", tok, pad_vocab_to=64, seed=4, block_size=64)
    back = import_hf(export_hf(run, tmp_path / "hf"), tmp_path / "back")
    (m1, t1), (m2, t2) = glassgpt.load(run), glassgpt.load(back)
    assert t1 == t2
    x = torch.tensor([t1.encode(PROBE)])
    with torch.no_grad():
        assert torch.allclose(m1(x)[0], m2(x)[0], atol=1e-6, rtol=0)


def test_import_the_original_gpt2_file_layout(tmp_path):
    """Weights saved from GPT2Model (no ``transformer.`` prefix, mask buffers), vocab.json + merges.txt."""
    hf_model, fast = gpt2_style_folder(tmp_path / "hf", seed=5)
    src = tmp_path / "orig"
    src.mkdir()
    tensors = {k.removeprefix("transformer."): v for k, v in hf_model.state_dict().items() if k != "lm_head.weight"}
    for i in range(2):
        tensors[f"h.{i}.attn.bias"] = torch.ones(1, 1, 48, 48).tril()
    save_tensors(src / "model.safetensors", tensors, metadata={"format": "pt"})
    (src / "config.json").write_text((tmp_path / "hf" / "config.json").read_text())
    vocab = json.loads((tmp_path / "hf" / "tokenizer.json").read_text())["model"]["vocab"]
    vocab["<|endoftext|>"] = len(fast) - 1
    (src / "vocab.json").write_text(json.dumps(vocab))
    model, tok = glassgpt.load(import_hf(src, tmp_path / "run"))
    ids = tok.encode(PROBE)
    assert ids == fast(PROBE)["input_ids"] and tok.special_tokens == {"<|endoftext|>": len(fast) - 1}
    with torch.no_grad():
        assert (model(torch.tensor([ids]))[0] - hf_model(torch.tensor([ids])).logits).abs().max() <= TOL


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"activation_function": "gelu"}, "activation 'gelu'"),
        ({"layer_norm_epsilon": 1e-6}, "LayerNorm epsilon 1e-06"),
        ({"scale_attn_by_inverse_layer_idx": True}, "scales attention differently"),
        ({"add_cross_attention": True}, "cross-attention"),
        ({"model_type": "llama"}, "holds a 'llama' model; glassgpt imports GPT-2 models only"),
        ({"vocab_size": 100}, "100 embedding rows for a tokenizer of 321 ids"),
    ],
)
def test_import_refuses_what_glassgpt_cannot_express(tmp_path, change, pattern):
    gpt2_style_folder(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    config.update(change)
    (tmp_path / "hf" / "config.json").write_text(json.dumps(config))
    with pytest.raises(InteropError, match=pattern) as e:
        import_hf(tmp_path / "hf", tmp_path / "run")
    assert str(e.value).endswith(".") and not (tmp_path / "run").exists()


def test_import_refuses_broken_folders(tmp_path):
    gpt2_style_folder(tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").rename(tmp_path / "hf" / "pytorch_model.bin")
    with pytest.raises(InteropError, match="only PyTorch pickle weights, which glassgpt never loads"):
        import_hf(tmp_path / "hf", tmp_path / "run")
    with pytest.raises(InteropError, match="not a Hugging Face model folder"):
        import_hf(tmp_path, tmp_path / "run")
    from tokenizers import ByteLevelBPETokenizer

    bl = ByteLevelBPETokenizer(add_prefix_space=False)
    bl.train_from_iterator(
        [TEXT], vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"], show_progress=False
    )
    bl.save(str(tmp_path / "hf" / "tokenizer.json"))
    with pytest.raises(TokenizerError, match="'<\\|endoftext\\|>' .* has id 0, among the ordinary tokens"):
        import_hf(tmp_path / "hf", tmp_path / "run")
    bl = ByteLevelBPETokenizer(add_prefix_space=True)
    bl.train_from_iterator([TEXT], vocab_size=300, min_frequency=1, show_progress=False)
    bl.save(str(tmp_path / "hf" / "tokenizer.json"))
    with pytest.raises(TokenizerError, match="adds a prefix space"):
        import_hf(tmp_path / "hf", tmp_path / "run")


def test_missing_transformers_is_one_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(
        InteropError, match="needs the transformers package; install it with pip install 'glassgpt\\[hf\\]'"
    ):
        require_transformers()


def test_char_export_ids_for_every_character(tmp_path):
    tok = CharTokenizer.train("ab \n\t✓é€\u00a0[]{}\\\"'")
    run = make_run(tmp_path / "run", tok)
    hf_tok = transformers.AutoTokenizer.from_pretrained(export_hf(run, tmp_path / "hf"))
    text = "".join(tok.chars) * 2
    assert hf_tok(text)["input_ids"] == tok.encode(text) == list(np.tile(np.arange(len(tok.chars)), 2))
