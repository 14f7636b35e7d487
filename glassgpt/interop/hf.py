"""Hugging Face GPT-2 folders in and out: ``export_hf(run, out)`` and ``import_hf(hf_dir, run)``.

Both work on files (JSON + safetensors, never pickle) and need neither ``transformers``
nor the network; ``transformers`` is only needed to *use* an exported folder
(``glassgpt[hf]``).  The mapping:

* parameter names are the same (``transformer.h.0.attn.c_attn.weight`` …); Hugging Face's
  ``Conv1D`` layers (``c_attn``, ``c_proj``, ``c_fc``) store the transpose of
  ``nn.Linear``'s ``(out, in)`` weight, so those are transposed both ways;
* a padded vocabulary (``model.pad_vocab_to``) is cut back to the tokenizer's size, so the
  padded ids cannot be sampled there either; a tied head is stored once, as both sides do;
* GPT-2 always has biases: a bias-free glassgpt model is exported with zero biases (the
  same function), and zero-initialised projections are ordinary weights.  What GPT-2 cannot
  express is refused in one sentence: rotary positions, RMSNorm, QK-norm, ReLU², logit
  soft-capping, a bias on an untied LM head; on import, attention scaled by layer index or not at all, another
  LayerNorm epsilon, cross-attention, activations other than tanh-GELU or ReLU.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from glassgpt import rundir
from glassgpt.config import RunConfig, validate
from glassgpt.errors import ConfigError, GlassError, InteropError
from glassgpt.fileio import load_tensors, read_json, save_tensors, write_json
from glassgpt.interop.hf_tokenizer import EOT, hf_tokenizer_files, tokenizer_from_hf
from glassgpt.models import GPT, lora
from glassgpt.models.from_run import load_config, load_weights
from glassgpt.tokenizers import load as load_tokenizer

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")
LN_EPS = 1e-5  # torch.nn.LayerNorm's default, which glassgpt's model uses


def _hf_shapes(cfg, n_layer: int) -> dict[str, tuple]:
    """Every GPT-2 parameter with its shape (biases included), in glassgpt's orientation."""
    C, F = cfg.n_embd, cfg.ffn_width
    shapes = {"transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,)}
    for i in range(n_layer):
        p = f"transformer.h.{i}."
        shapes.update(
            {
                p + "ln_1.weight": (C,),
                p + "ln_1.bias": (C,),
                p + "ln_2.weight": (C,),
                p + "ln_2.bias": (C,),
                p + "attn.c_attn.weight": (3 * C, C),
                p + "attn.c_attn.bias": (3 * C,),
                p + "attn.c_proj.weight": (C, C),
                p + "attn.c_proj.bias": (C,),
                p + "mlp.c_fc.weight": (F, C),
                p + "mlp.c_fc.bias": (F,),
                p + "mlp.c_proj.weight": (C, F),
                p + "mlp.c_proj.bias": (C,),
            }
        )
    return shapes


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InteropError(f"{out} is a file, not a folder; choose another output folder.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InteropError(f"{out} is not empty; choose a new folder or pass --overwrite.")
    out.mkdir(parents=True, exist_ok=True)


# ---- out -------------------------------------------------------------------------------------
def export_refusal(m) -> str:
    """Why Hugging Face's GPT-2 cannot hold a model of these settings ("" when it can)."""
    beyond = [
        why
        for why, on in (
            ("rotary position embeddings (model.pos=rope; GPT-2 learns a position table)", m.pos == "rope"),
            ("RMSNorm (model.norm=rmsnorm; GPT-2 uses LayerNorm)", m.norm == "rmsnorm"),
            ("QK-norm (model.qk_norm)", m.qk_norm),
            ("the ReLU² activation (model.activation=relu2)", m.activation == "relu2"),
            ("logit soft-capping (model.logit_softcap)", m.logit_softcap > 0),
            ("a bias on an untied LM head (model.head_bias; GPT-2's head has none)", m.head_bias and not m.tie_weights),
            ("an ensemble of several GPTs (model.ensemble)", m.ensemble > 1),
            ("a reward model's scalar head (model.reward_head)", m.reward_head),
        )
        if on
    ]
    if not beyond:
        return ""
    return f"Hugging Face's GPT2LMHeadModel cannot hold {beyond[0]}."


def hf_config(cfg: RunConfig, vocab_size: int, eot: int | None) -> dict:
    m = cfg.model
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": vocab_size,
        "n_positions": m.block_size,
        "n_embd": m.n_embd,
        "n_layer": m.n_layer,
        "n_head": m.n_head,
        "n_inner": m.d_ff or None,
        "activation_function": "gelu_new" if m.activation == "gelu" else "relu",
        "resid_pdrop": m.dropout,
        "embd_pdrop": m.dropout,
        "attn_pdrop": m.attention_dropout,
        "layer_norm_epsilon": LN_EPS,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": m.tie_weights,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "use_cache": True,
        "dtype": "float32",
    }


def export_hf(run_dir: str | os.PathLike, out_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files of a GPT-2 folder
    that ``GPT2LMHeadModel.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load."""
    run = rundir.require_run(run_dir)
    cfg = load_config(run)
    m = cfg.model
    refusal = export_refusal(m)
    if refusal:
        raise InteropError(f"{run} cannot be exported: {refusal}")
    tok = load_tokenizer(run)
    files = hf_tokenizer_files(tok, m.block_size)  # refuses word tokenizers before anything is written
    weights = load_weights(run)
    if m.lora_rank:  # a LoRA run: GPT-2 has no adapters, so they are folded into the weights they adapt
        weights = lora.merge(weights, m)
    V = tok.vocab_size
    out = {}
    for name, shape in _hf_shapes(m, m.n_layer).items():
        t = weights.get(name)
        t = torch.zeros(shape) if t is None else t  # a bias-free layer is a layer with zero bias
        out[name] = t.t().contiguous() if name.endswith(CONV1D) else t
    out["transformer.wte.weight"] = weights["transformer.wte.weight"][:V]
    out["transformer.wpe.weight"] = weights["transformer.wpe.weight"]
    if not m.tie_weights:
        out["lm_head.weight"] = weights["lm_head.weight"][:V]
    dest = Path(out_dir)
    _prepare_out(dest, overwrite)
    save_tensors(dest / "model.safetensors", out, metadata={"format": "pt"})
    write_json(dest / "config.json", hf_config(cfg, V, tok.special_tokens.get(EOT)))
    for name, data in files.items():
        write_json(dest / name, data)
    return dest


# ---- in --------------------------------------------------------------------------------------
def _read_weights(hf_dir: Path) -> dict[str, torch.Tensor]:
    if (hf_dir / "model.safetensors").is_file():
        tensors = load_tensors(hf_dir / "model.safetensors", "Hugging Face weights file")
    elif (hf_dir / "model.safetensors.index.json").is_file():
        index = read_json(hf_dir / "model.safetensors.index.json", "Hugging Face weight index")
        tensors = {}
        for file in sorted(set(index.get("weight_map", {}).values())):
            tensors.update(load_tensors(hf_dir / file, "Hugging Face weights file"))
    elif any(hf_dir.glob("*.bin")):
        raise InteropError(
            f"{hf_dir} has only PyTorch pickle weights, which glassgpt never loads; save the model with "
            "save_pretrained(..., safe_serialization=True) to get model.safetensors."
        )
    else:
        raise InteropError(f"{hf_dir} has no model.safetensors; give the folder of a saved GPT-2 model.")
    named = {}
    for name, t in tensors.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # causal-mask buffers of older transformers versions
        if not name.startswith(("transformer.", "lm_head.")):
            name = "transformer." + name  # saved from GPT2Model (the original gpt2 checkpoint)
        named[name] = t
    return named


def _run_config(hc: dict, vocab: int, tok_type: str, source: Path) -> RunConfig:
    def refuse(what: str) -> InteropError:
        return InteropError(
            f"the model in {source} {what}, which glassgpt's GPT cannot express; it cannot be imported."
        )

    if "model_type" not in hc:
        raise InteropError(f"{source / 'config.json'} names no model_type; glassgpt imports GPT-2 models only.")
    if hc["model_type"] != "gpt2":
        raise InteropError(f"{source} holds a {hc['model_type']!r} model; glassgpt imports GPT-2 models only.")
    act = hc.get("activation_function", "gelu_new")
    if act not in (*TANH_GELU, "relu"):
        raise refuse(f"uses the activation {act!r} (glassgpt has tanh-GELU and ReLU)")
    if abs(hc.get("layer_norm_epsilon", LN_EPS) - LN_EPS) > 1e-12:
        raise refuse(f"uses LayerNorm epsilon {hc.get('layer_norm_epsilon')}")
    if not hc.get("scale_attn_weights", True) or hc.get("scale_attn_by_inverse_layer_idx", False):
        raise refuse("scales attention differently from 1/sqrt(head size)")
    if hc.get("add_cross_attention", False):
        raise refuse("has cross-attention")
    dropout = float(hc.get("resid_pdrop", 0.0))
    attn = float(hc.get("attn_pdrop", dropout))
    settings = {
        "preset": "import-hf",
        "kind": "imported",
        "model.vocab_size": vocab,
        "model.block_size": hc.get("n_positions", 1024),
        "model.n_layer": hc.get("n_layer", 12),
        "model.n_head": hc.get("n_head", 12),
        "model.n_embd": hc.get("n_embd", 768),
        "model.d_ff": hc.get("n_inner") or 0,
        "model.dropout": dropout,
        "model.attn_dropout": -1.0 if attn == dropout else attn,
        "model.activation": "relu" if act == "relu" else "gelu",
        "model.bias": True,
        "model.qkv_bias": True,
        "model.tie_weights": bool(hc.get("tie_word_embeddings", True)),
        "model.head_bias": False,
        "data.corpus": "",
        "data.tokenizer": tok_type,
        "data.vocab_size": vocab if tok_type == "bpe" else 0,
    }
    try:
        return validate(RunConfig().updated(settings))
    except ConfigError as exc:
        raise InteropError(f"the configuration in {source} does not make a valid glassgpt model ({exc})") from None


def import_hf(hf_dir: str | os.PathLike, out_run_dir: str | os.PathLike, overwrite: bool = False) -> Path:
    """Turn a local Hugging Face GPT-2 folder into a glassgpt run directory (config.json,
    model.safetensors, tokenizer.json) that ``glassgpt.load`` opens."""
    src = Path(hf_dir)
    if not (src / "config.json").is_file():
        raise InteropError(f"{src} is not a Hugging Face model folder (no config.json).")
    hc = read_json(src / "config.json", "Hugging Face config")
    if not isinstance(hc, dict):
        raise InteropError(f"{src / 'config.json'} is not a model configuration (it is not a JSON object).")
    if "model_type" not in hc and {"model", "train"} <= hc.keys():
        raise InteropError(
            f"{src} is a glassgpt run, not a Hugging Face model folder; use it as it is "
            f"(glassgpt sample {src}), or write a Hugging Face folder from it with glassgpt export {src} --hf OUT."
        )
    tok = tokenizer_from_hf(src)
    V = tok.vocab_size
    if hc.get("vocab_size", V) < V:
        raise InteropError(
            f"the model in {src} has {hc.get('vocab_size')} embedding rows for a tokenizer of {V} ids; it cannot be imported."
        )
    cfg = _run_config(hc, V, tok.type, src)
    weights = _read_weights(src)
    mine = {}
    for name, t in weights.items():
        if name == "lm_head.weight" and cfg.model.tie_weights:
            continue
        if name in ("transformer.wte.weight", "lm_head.weight"):
            t = t[:V]  # padding rows beyond the tokenizer are never used
        mine[name] = t.t().contiguous() if name.endswith(CONV1D) else t
    model = GPT(cfg.model)
    try:
        model.load_weights(mine)
    except GlassError as exc:
        raise InteropError(f"the weights in {src} do not match its config.json ({exc})") from None
    out = Path(out_run_dir)
    with rundir.NewRun(out, overwrite, "import-hf") as held:  # the writer lock; a failure removes what was written
        tok.save(out / rundir.TOKENIZER)
        save_tensors(out / rundir.MODEL, model.weights())
        write_json(out / rundir.CONFIG, cfg.to_dict())  # last: the run is complete
    held.release()
    return out


__all__ = ["export_hf", "import_hf", "hf_config", "export_refusal"]
