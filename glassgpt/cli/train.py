"""``glassgpt train``: train a GPT into a run directory, then print a short sample."""

from __future__ import annotations

import argparse
import json

from ..config import parse_override, resolve
from ..errors import ConfigError
from .. import rundir
from ..api import train
from . import COMMANDS, HelpFormatter


def register(sub) -> None:
    p = sub.add_parser(
        "train", help=COMMANDS["train"],
        formatter_class=HelpFormatter,
        description="Train a GPT into a run directory (config.json, model.safetensors, tokenizer.json, "
                    "metrics.jsonl, state/ ...).\nSettings resolve in order: defaults < --preset < --config "
                    "< --set < the named options below.\nKeys for --set: model.* (block_size, n_layer, n_head, "
                    "n_embd, d_ff, dropout, bias, qkv_bias, activation, tie_weights, head_bias, pad_vocab_to, pos, rope_base, "
                    "norm, qk_norm, zero_init_proj, logit_softcap), "
                    "data.* (corpus, path, tokenizer, vocab_size, val_fraction), train.* (batch_size, seq_len, "
                    "grad_accum, max_steps, time_budget, lr, min_lr_ratio, warmup_steps, decay_steps, schedule, decay_fraction, "
                    "schedule_clock, "
                    "weight_decay, beta1, beta2, eps, grad_clip, eval_every, eval_batches, log_every, save_every, "
                    "sample_every, sample_prompts (a|b|c), sample_temperature, sample_tokens, diagnostics_every, seed, "
                    "threads, device, dtype, compile, engine, optimizer, lr_embed, lr_head, lr_matrix, lr_scalar, muon_momentum, "
                    "muon_nesterov, muon_ns_steps, muon_scale).",
    )
    p.add_argument("--out", help="run directory (default: runs/<preset>-<corpus>, numbered if taken)")
    p.add_argument("--preset", help="baby | small | gpt2 | nursery | poem (default: baby)")
    p.add_argument("--config", metavar="FILE.toml", help="TOML file with [model], [data], [train] tables")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)")
    p.add_argument("--corpus", help="built-in corpus: shakespeare | poem | nursery | names (default from preset)")
    p.add_argument("--data", metavar="PATH", help="your own UTF-8 text file or folder of .txt files")
    p.add_argument("--tokenizer", help="char | byte | word | bpe | bpe:FILE (default from preset)")
    p.add_argument("--vocab-size", type=int, help="vocabulary size when training a BPE tokenizer")
    p.add_argument("--engine", choices=["torch", "glass"], help="torch, or glass: the NumPy engine with hand-written gradients")
    p.add_argument("--max-steps", type=int, help="total optimizer steps of the run, counted across resumes")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="seconds for training, the final evaluation and the end samples: training stops when "
                        "their predicted cost is all that is left")
    p.add_argument("--save-every", type=int, metavar="N", help="checkpoint interval in steps")
    p.add_argument("--diagnostics-every", type=int, metavar="N", nargs="?", const=100,
                   help="record gradient/activation diagnostics every N steps (a bare flag means 100)")
    p.add_argument("--seed", type=int, help="random seed (same seed, same config, same device: same metrics)")
    p.add_argument("--device", help="auto | cpu | cuda | mps")
    p.add_argument("--threads", type=int, help="CPU threads (default 0: the idle cores, fewer if the machine gets busy; "
                                                "a fixed count is kept as given, up to 4 per core)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], help="bfloat16 uses autocast")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no sample at the end")
    p.add_argument("--json", action="store_true", help="print the final result as JSON")
    p.set_defaults(func=run)


#: named options -> configuration keys
OPTION_KEYS = {"corpus": "data.corpus", "data": "data.path", "tokenizer": "data.tokenizer",
               "vocab_size": "data.vocab_size", "engine": "train.engine", "max_steps": "train.max_steps",
               "time_budget": "train.time_budget", "save_every": "train.save_every",
               "diagnostics_every": "train.diagnostics_every", "seed": "train.seed", "device": "train.device",
               "threads": "train.threads",
               "dtype": "train.dtype", "compile": "train.compile"}


def overrides_from(args: argparse.Namespace) -> dict:
    items = dict(parse_override(s) for s in args.set)
    for option, key in OPTION_KEYS.items():
        value = getattr(args, option)
        if value is not None:
            items[key] = value
    if args.data and "data.corpus" not in items:
        items["data.corpus"] = ""
    return items


def run(args: argparse.Namespace) -> int:
    overrides = overrides_from(args)
    if args.resume:
        if not args.out:
            raise ConfigError("--resume needs --out DIR naming the run to continue.")
        result = train(args.out, overrides=overrides, resume=True, progress=not args.quiet)
    else:
        cfg = resolve(args.preset, args.config, overrides)
        source = "data" if cfg.data.path else cfg.data.corpus
        out = args.out or rundir.unique_default(f"runs/{cfg.preset}-{source}")
        result = train(out, config=cfg, overwrite=args.overwrite, progress=not args.quiet)
    final = result.final
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), "steps": result.steps, "stopped_by": result.stopped_by,
                          **final, "samples": result.samples}))
        return 0
    print(f"run: {result.run_dir}  steps: {result.steps} ({result.stopped_by})")
    print(f"{final['split']} loss {final['val_loss']:.4f}  perplexity {final['perplexity']:.2f}  "
          f"bits/byte {final['bits_per_byte']:.4f}")
    if not args.quiet:
        for text in result.samples:
            print("--- sample ---")
            print(text)
    return 0
