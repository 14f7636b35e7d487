"""``glassgpt sample``: generate text from a trained run."""

from __future__ import annotations

import argparse
import json
import sys

from glassgpt.cli import COMMANDS, HelpFormatter, add_device_and_threads, device_and_threads
from glassgpt.config.resolve import load_run_config
from glassgpt.errors import ConfigError
from glassgpt.generation.constraints import Constraint, make_constraint
from glassgpt.generation.sampling import DEFAULTS, check_request, constrained_rows, sample_text
from glassgpt.generation.shots import read_shots
from glassgpt.generation.speculative import MAX_GUESSES, check_draft
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
    p.add_argument(
        "--seed",
        type=int,
        help="random seed for reproducible samples; sample i draws with seed + i, so it equals "
        "--num-samples 1 --seed SEED+i",
    )
    steer = p.add_argument_group("constraints (one of them; the continuation must match it)")
    steer.add_argument("--regex", metavar="PATTERN", help="a regular expression the whole continuation matches")
    steer.add_argument("--choices", metavar="A|B|C", help="the continuation is one of these, separated by '|'")
    steer.add_argument(
        "--json-schema",
        metavar="FILE",
        help="a JSON schema (objects, strings, integers, booleans, enums, arrays): the continuation is such JSON",
    )
    p.add_argument(
        "--shots",
        metavar="FILE.jsonl",
        help='a few-shot prompt: one example a line, {"input": "12+34=", "output": "46"}, written before '
        "--prompt (each input and output on one line); the samples stop at the first newline unless --stop",
    )
    p.add_argument(
        "--draft",
        metavar="SMALL_RUN",
        help="speculative decoding: a smaller run with the same tokenizer guesses tokens that this run checks "
        "in one pass (the same samples' distribution, fewer passes of this run); prints the acceptance rate",
    )
    p.add_argument(
        "--draft-tokens",
        type=int,
        default=4,
        metavar="K",
        help=f"tokens the draft guesses per round, 1 to {MAX_GUESSES}",
    )
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="cut each sample at this string (repeatable); escapes such as \\n work: --stop '\\n\\n'",
    )
    add_device_and_threads(p)
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
        *device_and_threads(args),
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


def constraint_of(args: argparse.Namespace) -> Constraint | None:
    """The constraint the options name (None without one), read and checked before the run is loaded."""
    return make_constraint(args.regex, args.choices, args.json_schema)


def load_draft(args: argparse.Namespace, tokenizer, device: str):
    """The draft run's model for --draft (None without it), checked against this run's tokenizer."""
    if args.draft is None:
        if args.draft_tokens != 4:
            raise ConfigError("--draft-tokens sets how many tokens --draft guesses; give --draft SMALL_RUN too.")
        return None
    if args.regex or args.choices or args.json_schema:
        raise ConfigError("--draft and a constraint cannot be combined; sample with one of them.")
    kinds.require(args.draft, "sample")
    draft = load_run(args.draft, device)
    check_draft(tokenizer, draft.tokenizer, args.draft_tokens, f"the draft {args.draft}")
    return draft.language_model


def run(args: argparse.Namespace) -> int:
    kinds.require(args.run_dir, "sample")
    constraint_of(args)  # a bad pattern or schema is refused before anything is loaded
    if load_run_config(args.run_dir).data.kind == "words":
        if args.shots or args.draft:
            raise ConfigError(
                f"{'--shots' if args.shots else '--draft'} works on runs trained on text; this run draws names "
                "from a word list."
            )
        return run_words(args)
    if args.mark_known:
        raise ConfigError("--mark-known marks names of a word list's training split; this run was trained on text.")
    try:
        stops = [unescape(s) for s in args.stop]
    except ValueError as exc:
        raise ConfigError(f"--stop {exc}") from None
    device, threads = device_and_threads(args)
    with thread_scope(threads):
        loaded = load_run(args.run_dir, device)
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
        constrained_rows(loaded.tokenizer, args.max_new_tokens, args.regex, args.choices, args.json_schema)
        if args.shots:
            read_shots(args.shots)
        draft = load_draft(args, loaded.tokenizer, device)
        total = max(0, args.max_new_tokens) if draft is None else args.num_samples
        stats: dict = {}
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
                stops or None,
                max_context=loaded.trained_context,
                on_token=bar.advance,
                regex=args.regex,
                choices=args.choices,
                json_schema=args.json_schema,
                shots=args.shots,
                draft=draft,
                draft_tokens=args.draft_tokens,
                stats=stats,
            )
    if draft is not None:
        print(
            f"draft: {stats['accepted']:,} of {stats['proposed']:,} guesses accepted "
            f"({stats['acceptance_rate']:.0%}); {stats['rounds']:,} rounds, each one pass of {args.run_dir}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(texts, ensure_ascii=False))
    else:
        print(for_stream("\n\n----------\n\n".join(texts), sys.stdout, args.raw))
    return 0
