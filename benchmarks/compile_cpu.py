"""Does ``torch.compile`` pay for itself on a CPU inside the speedrun's budget?

The ``cpu-speedrun`` model (or ``--preset``) on random character ids: one forward + backward +
AdamW step per iteration, eager against ``torch.compile(model)``, same weights, same batches,
same thread count, in one invocation.  Reports the compiled model's first step (compilation
included), the steady ms/step of both, and the break-even: how many steps the compiled model
needs before its compile time is paid back, next to how many steps the budget holds.

    python benchmarks/compile_cpu.py --threads 2 --steps 30
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch

from glassgpt.config import resolve
from glassgpt.models.factory import build


def timed_steps(model, batches, steps: int) -> tuple[float, float]:
    """(seconds of the first step, mean seconds of the next ``steps``)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def one(x, y):
        _, loss = model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    start = time.perf_counter()
    one(*batches[0])
    first = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(steps):
        one(*batches[1 + i % (len(batches) - 1)])
    return first, (time.perf_counter() - start) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu-speedrun")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30, help="steady-state steps timed after the first")
    ap.add_argument("--vocab", type=int, default=65, help="vocabulary size (65: Tiny Shakespeare's characters)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = resolve(args.preset, overrides={"model.vocab_size": args.vocab})
    gen = torch.Generator().manual_seed(0)
    shape = (cfg.train.batch_size, cfg.model.block_size)
    batches = [
        (torch.randint(0, args.vocab, shape, generator=gen), torch.randint(0, args.vocab, shape, generator=gen))
        for _ in range(8)
    ]
    torch.manual_seed(0)
    eager = build(cfg.model)
    compiled_source = copy.deepcopy(eager)
    eager_first, eager_step = timed_steps(eager, batches, args.steps)
    compiled_first, compiled_step = timed_steps(torch.compile(compiled_source), batches, args.steps)
    saving = eager_step - compiled_step
    compile_cost = compiled_first - eager_first
    budget_steps = cfg.train.time_budget / eager_step if cfg.train.time_budget else None
    print(
        json.dumps(
            {
                "benchmark": "compile_cpu",
                "preset": args.preset,
                "threads": args.threads,
                "batch": list(shape),
                "eager_first_step_s": round(eager_first, 3),
                "compiled_first_step_s": round(compiled_first, 2),
                "eager_ms_per_step": round(eager_step * 1e3, 2),
                "compiled_ms_per_step": round(compiled_step * 1e3, 2),
                "speedup": round(eager_step / compiled_step, 3),
                "break_even_steps": round(compile_cost / saving) if saving > 0 else None,
                "steps_in_budget": round(budget_steps) if budget_steps else None,
            }
        )
    )


if __name__ == "__main__":
    main()
