"""Packed words against padded rows: one GPT of ``makemore-tuned`` (float32) on names.txt, one
training step after another through the real engine (Muon, dropout, the lot), each way, in one run.

Padded (``train.doc_mask = false``): one word per row of 16 positions (the longest name + 1).
Packed (``train.doc_mask = true``): the same words, drawn from the same generator, best fit
in rows of ``model.block_size`` (32), each word its own segment.  For each batch size the
script reports ms per step, names per second, the share of computed positions that are
targets, and the speed-up; and checks that the two ways give one loss: the same words in eval
mode (no dropout), |padded − packed| must be below 1e-5.

    python benchmarks/word_packing.py --data FOLDER            # FOLDER (or $GLASSGPT_BENCH_DATA) holds names.txt
    python benchmarks/word_packing.py --batch-sizes 64,256 --steps 40 --threads 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch
from launcher import bench_data

from glassgpt.config import resolve
from glassgpt.makemore.word_source import WordSource
from glassgpt.threads import thread_scope
from glassgpt.training.engines import make_engine, split_micro_batches


def setup(data, batch: int, packed: bool, folder: str, **overrides):
    """An engine for one GPT of ``makemore-tuned`` in float32 (unless ``overrides`` say otherwise)
    on the words of ``data``, and its batch source."""
    cfg = resolve(
        "makemore-tuned",
        overrides={
            "data.path": str(data),
            "data.corpus": "",
            "model.ensemble": 1,
            "train.dtype": "float32",
            "train.doc_mask": packed,
            "train.batch_size": batch,
            **overrides,
        },
    )
    source = WordSource.build(cfg)
    cfg = cfg.updated({"model.vocab_size": source.tokenizer.vocab_size})
    return make_engine(cfg), source.batches(cfg.train.seed)


def timed(data, batch: int, packed: bool, steps: int, folder: str, **overrides) -> dict:
    """ms per step (after 5 warm-up steps), names per second and the share of positions that are targets."""
    engine, source = setup(data, batch, packed, folder, **overrides)
    used = computed = 0
    for i in range(steps + 5):
        if i == 5:  # the first steps warm the allocator up
            start = time.perf_counter()
        arrays = source.next(batch)
        if i >= 5:
            used, computed = used + int((arrays[1] != -1).sum()), computed + arrays[1].size
        engine.train_step(split_micro_batches(*arrays, batch), 3e-3)
    seconds = (time.perf_counter() - start) / steps
    return {
        "ms_per_step": round(seconds * 1e3, 2),
        "names_per_s": round(batch / seconds),
        "targets_share": round(used / computed, 3),
    }


def same_loss(data, batch: int, folder: str) -> float:
    """|padded − packed| mean loss on the same words in eval mode, one engine's weights."""
    padded, plain = setup(data, batch, False, folder)
    _, packed = setup(data, batch, True, folder)
    x, y = plain.next(batch)
    xp, yp, segments = packed.next(batch)
    a_sum, a_n = padded.eval_sums(x, y)
    b_sum, b_n = padded.eval_sums(xp, yp, segments)
    assert a_n == b_n, "packing lost or added targets"
    return abs(a_sum / a_n - b_sum / b_n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with names.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--batch-sizes", default="64,256")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    data = bench_data(args.data, ("names.txt",)) / "names.txt"
    rows = []
    with thread_scope(args.threads), tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            padded = timed(data, batch, False, args.steps, folder)
            packed = timed(data, batch, True, args.steps, folder)
            gap = same_loss(data, batch, folder)
            rows.append(
                {
                    "batch_names": batch,
                    "padded": padded,
                    "packed": packed,
                    "speedup": round(padded["ms_per_step"] / packed["ms_per_step"], 2),
                    "eval_loss_gap": float(np.format_float_scientific(gap, precision=2)),
                }
            )
            if gap > 1e-5:
                raise SystemExit(f"padded and packed losses differ by {gap:.2e} at batch {batch}")
    print(json.dumps({"benchmark": "word_packing", "threads": args.threads, "steps": args.steps, "rows": rows}))
    print(
        "| names per step | padded ms/step | packed ms/step | speed-up | targets share padded → packed | names/s packed |"
    )
    print("|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(
            f"| {r['batch_names']} | {r['padded']['ms_per_step']} | {r['packed']['ms_per_step']} | {r['speedup']}× | "
            f"{r['padded']['targets_share']:.0%} → {r['packed']['targets_share']:.0%} | {r['packed']['names_per_s']:,} |"
        )


if __name__ == "__main__":
    main()
