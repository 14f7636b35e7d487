"""How fast is generation?  Tokens/s with and without the KV cache, and against transformers.

Model: GPT-2-shaped and small: 6 layers, 6 heads, width 384, context 1024, GPT-2's
vocabulary of 50257, random weights (seed 0; the speed does not depend on the values).
Greedy decoding of one row from a 16-token prompt, ``--lengths`` new tokens each (default
128 and 512).  For every length, in one process and alternating the order between rounds:

- ``cached``: ``glassgpt.generation.sampling.generate(use_cache=True)`` (preallocated KV cache);
- ``uncached``: ``generate(use_cache=False)`` (the whole context recomputed per token);
- ``hf``: when ``transformers`` is installed, ``GPT2LMHeadModel.generate(use_cache=True)`` on
  the same weights (copied over: Hugging Face's Conv1D stores Linear weights transposed),
  greedy, without an end-of-text token so it makes the same number of tokens.  ``hf_same_tokens`` says whether its tokens
  equal ours.

Printed, as ONE JSON line: tokens/s of each (best of ``--rounds``; the uncached path is
timed once at lengths above 128, it is slow), and the ratios ``cached_vs_uncached`` and
``cached_vs_hf`` per length (targets at 512: ≥ 5 and ≥ 1.0).

    python benchmarks/generate.py [--lengths 128,512] [--rounds 3] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from glassgpt.config import ModelConfig
from glassgpt.generation.sampling import generate
from glassgpt.models import GPT

SHAPE = dict(vocab_size=50257, block_size=1024, n_layer=6, n_head=6, n_embd=384)
PROMPT = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 198, 464, 2068, 7586, 21831, 18045]


def hf_copy(model: GPT):
    """The same network as a ``transformers`` GPT2LMHeadModel, or None without transformers."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    cfg = model.config
    hf_cfg = GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
    )  # no end token: exactly n tokens, no logit suppressed
    hf = GPT2LMHeadModel(hf_cfg).eval()
    ours = model.weights()
    transposed = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
    state = {k: (v.t().contiguous() if k.endswith(transposed) else v) for k, v in ours.items()}
    missing, unexpected = hf.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith((".attn.bias", ".attn.masked_bias", "lm_head.weight")) for k in missing):
        raise RuntimeError(f"weights do not map onto GPT2LMHeadModel: missing {missing}, unexpected {unexpected}")
    return hf.to(model.transformer.wte.weight.device)


def timed(fn, device: torch.device) -> tuple[float, list[int]]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="128,512", help="new tokens per generation, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds (best is kept)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = GPT(ModelConfig(**SHAPE)).to(device).eval()
    hf = hf_copy(model)
    lengths = [int(n) for n in args.lengths.split(",")]

    def ours(n: int, cache: bool):
        return lambda: generate(model, PROMPT, n, temperature=0, use_cache=cache)[0]

    def theirs(n: int):
        ids = torch.tensor([PROMPT], device=device)

        def run():
            with torch.inference_mode():
                out = hf.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=n,
                    do_sample=False,
                    use_cache=True,
                    pad_token_id=0,
                )
            return out[0, len(PROMPT) :].tolist()

        return run

    # warm-up: first calls pay for allocations and lazy initialisation
    generate(model, PROMPT, 8, temperature=0)
    generate(model, PROMPT, 8, temperature=0, use_cache=False)
    if hf is not None:
        theirs(8)()

    result: dict = {
        "benchmark": "generate",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "model": SHAPE,
        "prompt_tokens": len(PROMPT),
        "transformers": hf is not None,
    }
    for n in lengths:
        best: dict[str, float] = {}
        tokens: dict[str, list[int]] = {}
        runs = {"cached": ours(n, True), "uncached": ours(n, False)}
        if hf is not None:
            runs["hf"] = theirs(n)
        for r in range(args.rounds):
            names = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in names:
                if name == "uncached" and n > 128 and name in best:
                    continue  # quadratic: one timing is enough
                seconds, out = timed(runs[name], device)
                best[name] = min(best.get(name, float("inf")), seconds)
                tokens[name] = out
        row = {f"{name}_tok_s": round(n / s, 1) for name, s in best.items()}
        row["cached_same_tokens_as_uncached"] = tokens["cached"] == tokens["uncached"]
        row["cached_vs_uncached"] = round(best["uncached"] / best["cached"], 2)
        if hf is not None:
            row["hf_same_tokens"] = tokens["hf"] == tokens["cached"]
            row["cached_vs_hf"] = round(best["hf"] / best["cached"], 2)
        result[str(n)] = row
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
