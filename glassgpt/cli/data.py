"""``glassgpt data prepare``: tokenize a corpus of any size into shards that ``train --data DIR`` streams."""

from __future__ import annotations

import argparse

from glassgpt.cli import COMMANDS, HelpFormatter
from glassgpt.data.prepare import prepare


def register(sub) -> None:
    p = sub.add_parser(
        "data",
        help=COMMANDS["data"],
        formatter_class=HelpFormatter,
        description="Work with corpora larger than memory.",
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = dsub.add_parser(
        "prepare",
        help="tokenize files into uint16/uint32 shards plus index.json",
        formatter_class=HelpFormatter,
        description="Stream the input through worker processes (memory stays flat however large it is), put "
        "<|endoftext|> before every document (a file, or a JSONL line with --jsonl), shuffle the "
        "document order with --seed, hold out --val-fraction of the bytes, and write shards plus "
        "index.json into --out. Interrupted, the same command continues where it stopped. Then: "
        "glassgpt train --data DIR.",
    )
    d.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="PATH_OR_GLOB",
        help="files, folders (their .txt files, or .jsonl with --jsonl) or quoted globs ('**' recurses)",
    )
    d.add_argument(
        "--tokenizer",
        required=True,
        metavar="SPEC",
        help="char (one id per character of the inputs) | byte | cl100k | gpt2:RANKS | bpe:FILE (a BPE file with "
        "<|endoftext|>); char and byte get <|endoftext|> after their vocabulary, word and bpe are refused",
    )
    d.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="the folder to write (new, empty, or an earlier preparation of the same inputs)",
    )
    d.add_argument("--shard-tokens", type=int, default=100_000_000, metavar="N", help="tokens per shard")
    d.add_argument("--workers", type=int, metavar="N", help="encoding processes (default: one per CPU, at most 8)")
    d.add_argument(
        "--val-fraction",
        type=float,
        default=0.01,
        metavar="F",
        help="share of the bytes held out: whole documents when they land within a tenth of it, else cut at the "
        "line end nearest to it",
    )
    d.add_argument("--seed", type=int, default=1337, metavar="S", help="seed of the document shuffle")
    d.add_argument("--jsonl", metavar="FIELD", help="read JSONL: every line is a document, its text in FIELD")
    d.add_argument("--overwrite", action="store_true", help="replace an earlier preparation with other inputs")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    index = prepare(
        args.input,
        args.tokenizer,
        args.out,
        shard_tokens=args.shard_tokens,
        workers=args.workers,
        val_fraction=args.val_fraction,
        seed=args.seed,
        jsonl=args.jsonl,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    for line in split_lines(index):
        print(line)
    print(
        f"prepared {args.out} ({index['tokenizer']['spec']}, {index['tokenizer']['vocab_size']:,} ids, "
        f"{index['dtype']}); train on it with: glassgpt train --data {args.out}"
    )
    return 0


def split_lines(index: dict) -> list[str]:
    """The split as prepared: each split's share and count of the input bytes, its tokens,
    documents and shards, then the share asked for and where validation was cut."""
    total = max(1, index["inputs"]["bytes"])
    lines = []
    for name in ("val", "train"):
        s = index["splits"][name]
        lines.append(
            f"{name:<5} {s['input_bytes'] / total:>7.2%} of the input: {s['input_bytes']:>15,} bytes → "
            f"{s['tokens']:>15,} tokens  {s['documents']:>12,} documents  {len(s['shards']):>5,} "
            f"shard{'s' if len(s['shards']) != 1 else ''}"
        )
    split = index.get("split")
    if split and split["val_fraction"]:
        lines.append(f"split {split['val_fraction']:g} of the bytes asked for validation; cut {split['cut']}")
    return lines
