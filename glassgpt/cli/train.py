"""``glassgpt train``: train a GPT or a makemore ladder model into a run directory, then print a sample."""

from __future__ import annotations

import argparse
import json
import sys

from glassgpt import rundir
from glassgpt.api import train
from glassgpt.cli import ADAPTIVE, COMMANDS, HelpFormatter, add_device_and_threads
from glassgpt.config import DataConfig, parse_override, resolve, settings_help
from glassgpt.data.corpus_source import is_corpus
from glassgpt.errors import ConfigError
from glassgpt.makemore.presets import ARCHS
from glassgpt.rundir.loss_names import final_loss
from glassgpt.terminal import for_stream


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help=COMMANDS["train"],
        formatter_class=HelpFormatter,
        description="Train a GPT (or a rung of the makemore ladder: --model) into a run directory (config.json, model.safetensors, tokenizer.json,\n"
        "metrics.jsonl, state/ ...). Settings resolve in this order: defaults < --preset <\n"
        "--config < --set < the named options below; config.json records them all.\n\n" + settings_help(),
    )
    p.add_argument("--out", help="run directory (default: runs/<preset>-<corpus>, numbered if taken)")
    p.add_argument(
        "--preset",
        help="baby | cpu-speedrun | small | gpt2 | nursery | poem, or a makemore-* preset of the ladder "
        "(default: baby), makemore-NAME with --model NAME",
    )
    p.add_argument(
        "--model",
        choices=ARCHS,
        help="the model: gpt, or a rung of the makemore ladder trained on a word list (--data FILE with one "
        "item per line, or --corpus names); without --preset it uses the preset makemore-NAME",
    )
    p.add_argument("--config", metavar="FILE.toml", help="TOML file with [model], [data], [train] tables")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting (repeatable)")
    p.add_argument("--corpus", help="built-in corpus: shakespeare | poem | nursery | names (default from preset)")
    p.add_argument(
        "--data",
        metavar="PATH",
        nargs="+",
        help="your own UTF-8 text file or folder of .txt files; several paths are packed as documents "
        "with <|endoftext|> between them (add --set train.doc_mask=true to mask attention at the boundaries); "
        "or a corpus from `glassgpt data prepare` (streamed from its shards, with its tokenizer)",
    )
    p.add_argument(
        "--jsonl-field", metavar="FIELD", help="read --data as JSONL and pack this field of every line as one document"
    )
    p.add_argument("--tokenizer", help="char | byte | word | bpe | bpe:FILE (default from preset)")
    p.add_argument("--vocab-size", type=int, help="vocabulary size when training a BPE tokenizer")
    p.add_argument(
        "--engine", choices=["torch", "glass"], help="torch, or glass: the NumPy engine with hand-written gradients"
    )
    p.add_argument("--max-steps", type=int, help="total optimizer steps of the run, counted across resumes")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="seconds for training, the final evaluation and the end samples: training stops when "
        "their predicted cost is all that is left",
    )
    p.add_argument("--save-every", type=int, metavar="N", help="checkpoint interval in steps")
    p.add_argument(
        "--diagnostics-every",
        type=int,
        metavar="N",
        nargs="?",
        const=100,
        help="record gradient/activation diagnostics every N steps (a bare flag means 100)",
    )
    p.add_argument("--seed", type=int, help="random seed (same seed, same config, same device: same metrics)")
    add_device_and_threads(p)
    p.add_argument(
        "--dtype", choices=["float32", "bfloat16"], help="bfloat16 uses autocast (CUDA, or a CPU with native bfloat16)"
    )
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint; a larger --max-steps keeps the "
        "learning-rate decay the run started with (--set train.decay_steps=N re-plans it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument(
        "--accept-truncated-logs",
        action="store_true",
        help="with --resume: continue even though metrics.jsonl (or another step log) lost records",
    )
    p.add_argument(
        "--log",
        action="append",
        metavar="BACKEND",
        help="also log to an experiment tracker: tensorboard (event files in OUT/tensorboard) or wandb "
        "(Weights & Biases, offline into OUT/wandb unless you have logged in); repeatable or comma-separated; "
        "a resumed run continues the trackers it logged to unless --log names others (none: no tracker)",
    )
    p.add_argument("--quiet", action="store_true", help="no header, progress bars or sample, only the result")
    p.add_argument("--json", action="store_true", help="print the final result as JSON")
    p.add_argument(
        "--raw",
        action="store_true",
        help="print the sample's control characters as they are (a terminal gets them escaped)",
    )
    p.set_defaults(func=run)


#: named options -> configuration keys
OPTION_KEYS = {
    "model": "model.arch",
    "corpus": "data.corpus",
    "jsonl_field": "data.jsonl_field",
    "tokenizer": "data.tokenizer",
    "vocab_size": "data.vocab_size",
    "engine": "train.engine",
    "max_steps": "train.max_steps",
    "time_budget": "train.time_budget",
    "save_every": "train.save_every",
    "diagnostics_every": "train.diagnostics_every",
    "seed": "train.seed",
    "device": "train.device",
    "threads": "train.threads",
    "dtype": "train.dtype",
    "compile": "train.compile",
}


def overrides_from(args: argparse.Namespace) -> dict:
    """The settings the command line gives: each --set, then each named option.  A key given
    both ways (``--set train.max_steps=5 --max-steps 3``) is refused rather than silently
    won by one of them."""
    items = dict(parse_override(s) for s in args.set)
    for option, key in OPTION_KEYS.items():
        value = getattr(args, option)
        if value is None:
            continue
        if option == "threads":  # a fixed count, or none that follows the load (--resume may switch)
            items["train.adaptive_threads"] = value == ADAPTIVE
            value = 0 if value == ADAPTIVE else value
        given = next((s for s in args.set if parse_override(s)[0] in (key, key.split(".", 1)[1])), None)
        if given is not None:
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"--set {given} and {flag} {value} both set {key}; give one of them.")
        items[key] = value
    if args.data:  # one path is read as one text; several are packed as documents
        items["data.path" if len(args.data) == 1 else "data.files"] = args.data[0] if len(args.data) == 1 else args.data
        items.setdefault("data.corpus", "")
    return items


def check_conflicts(args: argparse.Namespace) -> None:
    """Refuse options that contradict each other, saying which to drop."""
    if args.corpus and args.data:
        raise ConfigError(
            f"--corpus {args.corpus} and --data {' '.join(args.data)} both name the training text; give one."
        )
    if args.resume and args.overwrite:
        raise ConfigError("--resume continues the run in --out and --overwrite replaces it; give one of them.")
    if args.resume and not args.out:
        raise ConfigError("--resume needs --out DIR naming the run to continue.")
    if (
        args.data
        and len(args.data) == 1
        and is_corpus(DataConfig(path=args.data[0]))
        and (args.tokenizer or args.vocab_size)
    ):
        flag = "--tokenizer" if args.tokenizer else "--vocab-size"
        raise ConfigError(f"--data {args.data[0]} is a prepared corpus, which brings its own tokenizer; drop {flag}.")


def run(args: argparse.Namespace) -> int:
    check_conflicts(args)
    overrides = overrides_from(args)
    progress = not args.quiet
    if args.resume:  # the same command again with --resume: equal settings are accepted
        result = train(
            args.out,
            args.preset,
            args.config,
            overrides=overrides,
            resume=True,
            progress=progress,
            accept_truncated_logs=args.accept_truncated_logs,
            log=args.log,
        )
    else:
        preset = args.preset or (f"makemore-{args.model}" if args.model and not args.config else None)
        cfg = resolve(preset, args.config, overrides)
        source = "data" if cfg.data.path or cfg.data.files else cfg.data.corpus
        out = args.out or rundir.unique_default(f"runs/{cfg.preset}-{source}")
        result = train(out, config=cfg, overwrite=args.overwrite, progress=progress, log=args.log)
    if result.rank:  # under torchrun rank 0 alone reports
        return 0
    final = result.final
    if args.json:
        print(
            json.dumps(
                {
                    "run_dir": str(result.run_dir),
                    "steps": result.steps,
                    "stopped_by": result.stopped_by,
                    **final,
                    "samples": result.samples,
                }
            )
        )
        return 0
    print(f"run: {result.run_dir}  steps: {result.steps} ({result.stopped_by.replace('_', ' ')})")
    if not final:  # stopped by SIGTERM/SIGUSR1: saved, nothing evaluated
        print(f"saved; continue with: glassgpt train --out {result.run_dir} --resume")
        return 0
    split, loss = final_loss(final)
    if final.get("splits"):  # a word list: the loss on every split
        print(
            "  ".join(f"{name} loss {r['loss']:.4f}" for name, r in final["splits"].items())
            + f"  ({final['splits'][split]['tokens']:,} {split} examples)"
        )
    else:
        print(
            f"{split} loss {loss:.4f}{'' if split == 'val' else ' (no validation split)'}  "
            f"perplexity {final['perplexity']:.2f}  bits/byte {final['bits_per_byte']:.4f}"
        )
    if not args.quiet:
        for text in result.samples:
            print("--- sample ---")
            print(for_stream(text, sys.stdout, args.raw))
    return 0
