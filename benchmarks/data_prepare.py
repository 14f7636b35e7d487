"""How fast is ``glassgpt data prepare``, and does its memory stay flat as the input grows?

For each size (default 10, 100 and 400 MB) a folder of documents is generated in a
temporary directory by repeating a source text with variation: document ``i`` starts at
a different line of the source (a rotation) and every speaker name and every tenth word
carries the document number, so no two documents are alike.  Each size is prepared in a
fresh child process (cl100k, ``--workers``), which reports its wall time and peak RSS and
that of its largest worker.  Right before each, tiktoken's raw encode speed is measured on
the first 10 MB of the same documents: one thread (``encode_ordinary``) and ``--workers``
threads (``encode_ordinary_batch``), so both see the same machine load.  Printed: ONE JSON
line with, per size, MB/s, tokens, peak RSS, the tiktoken figures and the ratios to them.

    python benchmarks/data_prepare.py --source tinyshakespeare.txt [--sizes 10,100,400] [--workers 2]

Without ``--source`` the text is glassgpt's built-in Shakespeare corpus.  Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1_000_000


def source_text(path: str | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8")
    from glassgpt.data import load_corpus

    return load_corpus("shakespeare")


def varied(text: str, i: int) -> str:
    """Document ``i``: the source rotated by a line offset, names and every tenth word tagged."""
    lines = text.splitlines()
    k = (i * 7919) % len(lines)
    out = []
    for n, line in enumerate(lines[k:] + lines[:k]):
        if line.endswith(":") and line[:-1].isupper():
            line = f"{line[:-1]} {i}:"
        elif n % 10 == 0 and line:
            words = line.split(" ")
            words[len(words) // 2] += str(i)
            line = " ".join(words)
        out.append(line)
    return "\n".join(out) + "\n"


def generate(folder: Path, text: str, megabytes: int) -> int:
    """Write documents until ``megabytes`` MB are on disk (one document in memory at a time)."""
    folder.mkdir(parents=True)
    total, i = 0, 0
    while total < megabytes * MB:
        doc = varied(text, i).encode("utf-8")[: megabytes * MB - total]
        doc = doc.decode("utf-8", errors="ignore").encode("utf-8")
        (folder / f"doc{i:05d}.txt").write_bytes(doc)
        total, i = total + len(doc), i + 1
    return total


def child(args) -> None:
    """Runs in a fresh process: prepare one folder, print its figures as JSON."""
    from glassgpt.data.prepare import prepare

    start = time.perf_counter()
    index = prepare(args.input, "cl100k", args.out, workers=args.workers, val_fraction=0.001, progress=False)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "tokens": index["splits"]["train"]["tokens"] + index["splits"]["val"]["tokens"],
                "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def tiktoken_speed(folder: Path, workers: int) -> tuple[float, float]:
    from glassgpt.tokenizers.spec import corpus_tokenizer

    enc = corpus_tokenizer("cl100k").to_tiktoken()
    docs, size = [], 0
    for f in sorted(folder.iterdir()):
        docs.append(f.read_text(encoding="utf-8"))
        size += f.stat().st_size
        if size >= 10 * MB:
            break
    start = time.perf_counter()
    for d in docs:
        enc.encode_ordinary(d)
    one = size / MB / (time.perf_counter() - start)
    start = time.perf_counter()
    enc.encode_ordinary_batch(docs, num_threads=workers)
    many = size / MB / (time.perf_counter() - start)
    return one, many


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="UTF-8 text to repeat (default: the built-in Shakespeare corpus)")
    ap.add_argument("--sizes", default="10,100,400", help="input sizes in MB, comma-separated")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--child", nargs=2, metavar=("INPUT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.input, args.out = args.child
        child(args)
        return 0
    text = source_text(args.source)
    results = []
    with tempfile.TemporaryDirectory(prefix="glassgpt-bench-") as tmp:
        for mb in (int(s) for s in args.sizes.split(",")):
            folder, out = Path(tmp) / f"in{mb}", Path(tmp) / f"out{mb}"
            size = generate(folder, text, mb)
            tk = tiktoken_speed(folder, args.workers)  # right before: both see the same machine load
            proc = subprocess.run(
                [sys.executable, __file__, "--workers", str(args.workers), "--child", str(folder), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            speed = size / MB / r["seconds"]
            r.update(
                mb=round(size / MB, 1),
                seconds=round(r["seconds"], 1),
                mb_per_s=round(speed, 2),
                peak_rss_main_mb=round(r["peak_rss_main_mb"]),
                peak_rss_worker_mb=round(r["peak_rss_worker_mb"]),
                tiktoken_mb_per_s_1_thread=round(tk[0], 2),
                tiktoken_mb_per_s_threads=round(tk[1], 2),
                vs_tiktoken_1_thread=round(speed / tk[0], 2),
                vs_tiktoken_threads=round(speed / tk[1], 2),
            )
            results.append(r)
            shutil.rmtree(folder)
            shutil.rmtree(out)
    print(
        json.dumps(
            {
                "benchmark": "data_prepare",
                "tokenizer": "cl100k",
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "sizes": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
