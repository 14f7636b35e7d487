"""``glassgpt sample``: generate text from a trained run."""

from __future__ import annotations

import argparse
import json
import sys

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.config.resolve import load_run_config
from glassgpt.errors import ConfigError
from glassgpt.generation.sampling import DEFAULTS, check_request, sample_text
from glassgpt.makemore.names import sample_run
from glassgpt.makemore.word_source import run_words as word_data
from glassgpt.models.from_run import load_run
from glassgpt.progress import task
from glassgpt.rundir import kinds
from glassgpt.terminal import for_stream, unescape
from glassgpt.threads import thread_scope
from glassgpt.tokenizers import load as load_tokenizer


def register(sub) -> None:
    p = sub.add_parser(
        "sample",
        help=COMMANDS["sample"],
        formatter_class=HelpFormatter,
        description="Generate text from a run directory. Temperature 0 is greedy decoding; the "
        "context is cropped to the length the model was trained on.\nOn a terminal, control "
        "characters the model samples (ESC, BEL, ...) are shown escaped (\\x1b); "
        "piped output and --raw keep them.\nA run trained on a word list (the makemore "
        "ladder) prints one name per line, each drawn until the model writes '.'; --prompt "
        "is the start of every name, and without --seed the run's own seed gives the same "
        "names every time.",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory written by `glassgpt train`")
    p.add_argument("--prompt", default="", help="text to continue (default: start from a newline)")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens, help="tokens to generate per sample")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="softmax temperature; 0 = greedy")
    p.add_argument("--top-k", type=int, default=DEFAULTS.top_k, help="sample only from the k most likely tokens")
    p.add_argument(
        "--top-p", type=float, default=DEFAULTS.top_p, help="sample from the smallest set with this probability mass"
    )
    p.add_argument(
        "--num-samples",
        type=int,
        default=DEFAULTS.num_samples,
        help="number of independent samples (names, for a word-list run)",
    )
    p.add_argument("--seed", type=int, help="random seed for reproducible samples")
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="cut each sample at this string (repeatable); escapes such as \\n work: --stop '\\n\\n'",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (auto picks cuda > mps > cpu)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument(
        "--mark-known",
        action="store_true",
        help="word-list runs: mark the names that occur in the training split with ' *'",
    )
    p.add_argument("--json", action="store_true", help="print the samples as a JSON list")
    p.add_argument("--raw", action="store_true", help="print control characters as they are, even on a terminal")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run_words(args: argparse.Namespace) -> int:
    """A word-list run: one name per line (`` *`` after a name of the training split with --mark-known)."""
    known = None
    if args.mark_known:
        cfg = load_run_config(args.run_dir)
        known = set(word_data(args.run_dir, cfg, load_tokenizer(args.run_dir)).splits["train"])
    names = sample_run(
        args.run_dir,
        args.num_samples,
        args.seed,
        args.temperature,
        args.prompt,
        known,
        args.device,
        args.threads,
    )
    if args.json:
        print(json.dumps([{"name": n, "known": k} if args.mark_known else n for n, k in names], ensure_ascii=False))
        return 0
    for name, known in names:
        print(for_stream(name + (" *" if known else ""), sys.stdout, args.raw))
    if args.mark_known:
        hits = sum(1 for _, k in names if k)
        print(f"{hits} of {len(names)} names occur in the training split (marked *)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "sample")
    if load_run_config(args.run_dir).data.kind == "words":
        return run_words(args)
    if args.mark_known:
        raise ConfigError("--mark-known marks names of a word list's training split; this run was trained on text.")
    try:
        stops = [unescape(s) for s in args.stop]
    except ValueError as exc:
        raise ConfigError(f"--stop {exc}") from None
    with thread_scope(args.threads):
        loaded = load_run(args.run_dir, args.device)
        check_request(
            loaded.model,
            args.num_samples,
            max(1, len(args.prompt.encode("utf-8", "surrogatepass"))),
            args.max_new_tokens,
            args.temperature,
            args.top_k,
            args.top_p,
            args.seed,
        )  # before the progress bar starts
        total = max(0, args.max_new_tokens)
        with task("sampling", total, enabled=not args.quiet) as bar:
            texts = sample_text(
                loaded.model,
                loaded.tokenizer,
                args.prompt,
                args.max_new_tokens,
                args.temperature,
                args.top_k,
                args.top_p,
                args.num_samples,
                args.seed,
                stops,
                max_context=loaded.trained_context,
                on_token=bar.advance,
            )
    if args.json:
        print(json.dumps(texts, ensure_ascii=False))
    else:
        print(for_stream("\n\n----------\n\n".join(texts), sys.stdout, args.raw))
    return 0
