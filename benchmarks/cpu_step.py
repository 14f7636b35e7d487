"""What makes the makemore-tuned GPT's training step fast on a CPU, one change at a time, all
in one invocation: the step through the real engine (packed words, Muon, dropout) on
names.txt, at one thread, 256 names a step (``--batch``), each way timed over ``--steps``.

- **torch dropout** (the reference): masks from ``bernoulli_`` (``nn.Dropout``, and SDPA's
  own dropout on the attention weights), float32;
- **word-cut masks**: ``glassgpt.models.dropout``, masks cut from 64-bit random words, the
  attention weights dropped outside SDPA, float32;
- **+ bf16 autocast**: the same with ``train.dtype = bfloat16`` (on only where the CPU
  multiplies bfloat16 natively: ``device.cpu_bfloat16``; the row says which);
- **ensemble of 2, bf16**: ``model.ensemble = 2`` with twice the names, so each member reads
  256, as ``makemore-tuned`` trains it.

Prints one JSON line and a Markdown table: ms per step, names per second per member, and the
speed-up against the reference.

    python benchmarks/cpu_step.py --data FOLDER        # FOLDER (or $GLASSGPT_BENCH_DATA) holds names.txt
"""

from __future__ import annotations

import argparse
import json
import tempfile
from unittest import mock

import torch
from launcher import bench_data
from word_packing import timed

from glassgpt.device import cpu_bfloat16
from glassgpt.models import dropout, gpt
from glassgpt.threads import thread_scope


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="folder with names.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--batch", type=int, default=256, help="names a step for one model")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    data = bench_data(args.data, ("names.txt",)) / "names.txt"
    ways = [
        ("torch dropout, float32", 1, {}, False),
        ("word-cut masks, float32", 1, {}, True),
        ("word-cut masks, bf16 autocast", 1, {"train.dtype": "bfloat16"}, True),
        ("ensemble of 2, word-cut masks, bf16", 2, {"train.dtype": "bfloat16", "model.ensemble": 2}, True),
    ]
    rows = []
    with thread_scope(args.threads), tempfile.TemporaryDirectory() as folder:
        for name, members, overrides, cheap in ways:
            torch.manual_seed(0)
            rule = lambda x, cheap=cheap: cheap and x.device.type == "cpu"  # noqa: E731
            with mock.patch.object(dropout, "cheap_masks", rule), mock.patch.object(gpt, "cheap_masks", rule):
                r = timed(data, args.batch * members, True, args.steps, folder, **overrides)
            rows.append(
                {
                    "way": name,
                    "members": members,
                    "ms_per_step": r["ms_per_step"],
                    "names_per_s_per_member": round(r["names_per_s"] / members),
                }
            )
    base = rows[0]["ms_per_step"]
    for r in rows:
        r["speedup_per_member"] = round(base * r["members"] / r["ms_per_step"], 2)
    print(
        json.dumps(
            {
                "benchmark": "cpu_step",
                "threads": args.threads,
                "batch": args.batch,
                "steps": args.steps,
                "cpu_bfloat16": cpu_bfloat16(),
                "rows": rows,
            }
        )
    )
    print(
        f"| way ({args.batch} names a step per member, {args.threads} thread) | ms/step | names/s per member | "
        "speed-up per member |"
    )
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['way']} | {r['ms_per_step']} | {r['names_per_s_per_member']:,} | {r['speedup_per_member']}× |")


if __name__ == "__main__":
    main()
