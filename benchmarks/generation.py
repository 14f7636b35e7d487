"""Steering generation, measured side by side: constraints, batching, speculative decoding,
tool use, and the cached decoder against ``transformers``.  Prints ONE JSON line.

Every comparison runs its two sides in turn, in the same process, alternating which goes
first, and reports medians and the median of the per-round ratios (``side_by_side``): the
machine may be shared, and a load that comes and goes then hits both sides alike.  The load
average is printed before and after each part.

Parts (``--parts``, all by default):

- ``constraints``: ``--samples`` (1,000) samples for each of a regex, a list of choices and a
  JSON schema, on a char and a BPE vocabulary (the ``baby`` preset's shape, random weights:
  the constraint guarantees the match whatever the weights, which is what is checked), and
  the share that matches (target 100%).  Then the per-token time of one row of the baby
  model with a cached constraint against the same row without one (target: overhead ≤ 10%
  of a step).
- ``batching``: 16 samples of 200 tokens in one batch against 16 one after another, tokens/s
  (target ≥ 4×), and whether the tokens are the same.
- ``speculative``: a target (the ``cpu-speedrun`` recipe, 6 layers of 384, 10.7 M parameters)
  trained on Tiny Shakespeare (``tinyshakespeare.txt`` in ``--data`` or
  ``$GLASSGPT_BENCH_DATA``, read where it is) for ``--train-steps`` (400) steps, and a draft
  11.7× smaller (2 layers of 192) trained for ``--draft-steps`` (600) steps on 198,000
  characters the target wrote (``target_text``: distillation); 4 × 256 characters a step on
  ``--train-threads`` (1) threads, everything kept in ``--workdir`` and reused.  200 greedy
  tokens after each of three prompts with and without the draft (target ≥ 1.5× tokens/s), the
  tokens equal, the acceptance rate at temperature 0 and 1 and the target's passes per token,
  for each of ``--guesses`` (a list: ``2,4,6,8``; the best is repeated at the top level).
  ``--spec-task arithmetic``: the ``tools`` part's base model (2 layers of 128) as the target
  and a 4× smaller draft (1 layer of 88) trained on the same corpus for ``--draft-steps``; 24
  tokens after each of 30 held-out questions (within the context of 32).
- ``tools``: the arithmetic task: the ``arithmetic`` preset's base model (trained here, or a
  copy of ``--tools-base``), fine-tuned on its tool-use conversations (``--sft
  arithmetic-tools``: every answer calls the calculator); accuracy on the held-out problems
  with two 3-digit operands, with the calculator and with tool calls masked (the same model
  answering in its head), and the base model's own accuracy (target with the tool ≥ 95%).
- ``hf``: greedy tokens/s with the KV cache against ``transformers``' ``generate`` on the same
  weights (``generate.py``'s GPT-2-shaped model, 128 tokens, one thread; target ≥ 1.5×).

    python benchmarks/generation.py [--parts constraints,batching,...] [--threads 2] [--workdir DIR]
    GLASSGPT_BENCH_DATA=FOLDER python benchmarks/generation.py --parts speculative --threads 1 --guesses 2,3,4,5,6,8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import regex
import torch
from launcher import bench_data  # the benchmark data folder (--data or $GLASSGPT_BENCH_DATA)

import glassgpt
from glassgpt.config import ModelConfig, resolve
from glassgpt.data.corpora import load_corpus
from glassgpt.fileio import atomic_write_text
from glassgpt.generation.constraints import ConstrainedRow, Constraint, automaton_for, make_constraint
from glassgpt.generation.sampling import generate, generate_batch, sample_text
from glassgpt.generation.speculative import SpeculativeStats, check_draft, speculative_generate
from glassgpt.generation.tools import text_of, tool_rows
from glassgpt.models import GPT
from glassgpt.models.from_run import load_run
from glassgpt.stages.finetune import finetune
from glassgpt.tasks import arithmetic
from glassgpt.tokenizers import BPETokenizer, CharTokenizer
from glassgpt.tokenizers.chat_template import TOOL_CALL, render, role_tokens

BABY = dict(n_layer=4, n_head=4, n_embd=128, block_size=64)
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 10},
        "age": {"type": "integer"},
        "mood": {"enum": ["merry", "sad", "wroth"]},
        "lines": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 2},
    },
}
CONSTRAINTS = {
    "regex": (
        dict(regex=r"[A-Z][a-z]+(, [a-z]+){1,3}\."),
        lambda t: regex.fullmatch(r"[A-Z][a-z]+(, [a-z]+){1,3}\.", t),
    ),
    "choices": (
        dict(choices="To be|Not to be|Perchance to dream"),
        lambda t: t in ("To be", "Not to be", "Perchance to dream"),
    ),
    "json_schema": (dict(json_schema=SCHEMA), lambda t: _json_ok(t)),
}


def _json_ok(text: str) -> bool:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return False
    return (
        list(obj) == ["name", "age", "mood", "lines"]
        and isinstance(obj["age"], int)
        and obj["mood"] in ("merry", "sad", "wroth")
        and 1 <= len(obj["name"]) <= 10
        and len(obj["lines"]) <= 2
    )


def random_model(vocab: int, seed: int = 0, **shape) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=vocab, **{**BABY, **shape})).eval()


def seconds(fn, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of ``fn(*args, **kwargs)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def side_by_side(base: Callable[[], object], other: Callable[[], object], rounds: int) -> dict:
    """Time ``base`` and ``other`` in turn, ``rounds`` times, alternating which goes first (the
    machine is shared: a load that comes and goes hits both alike); the median seconds of each,
    the median of the per-round ratios base/other (> 1: ``other`` is faster), and the results of
    the last round."""
    times: dict[str, list[float]] = {"base": [], "other": []}
    outs: dict[str, object] = {}
    for r in range(rounds):
        order = (("base", base), ("other", other)) if r % 2 == 0 else (("other", other), ("base", base))
        for name, fn in order:
            s, outs[name] = seconds(fn)
            times[name].append(s)
    return {
        "base_s": statistics.median(times["base"]),
        "other_s": statistics.median(times["other"]),
        "ratio": statistics.median(b / o for b, o in zip(times["base"], times["other"])),
        "outs": outs,
    }


# ---- constraints -------------------------------------------------------------------------------
def constraints_part(text: str, samples: int) -> dict:
    vocabularies = {
        "char": CharTokenizer.train(text + '{}[]":,0123456789-'),
        "bpe": BPETokenizer.train(text[:400_000], 512),
    }
    result: dict = {}
    for name, tok in vocabularies.items():
        model = random_model(tok.vocab_size)
        row: dict = {"vocab_size": tok.vocab_size}
        for cname, (kwargs, ok) in CONSTRAINTS.items():
            compile_s, _ = seconds(automaton_for, make_constraint(**kwargs), tok)
            matched, done, t0 = 0, 0, time.perf_counter()
            while done < samples:
                n = min(100, samples - done)
                outs = sample_text(model, tok, "\n", 60, temperature=1.0, num_samples=n, seed=done, **kwargs)
                matched += sum(1 for o in outs if ok(o[1:]))
                done += n
            row[cname] = {
                "matched": matched,
                "samples": samples,
                "share": matched / samples,
                "seconds": round(time.perf_counter() - t0, 1),
            }
            row[cname]["compile_s"] = round(compile_s, 3)
        result[name] = row
    # per-token overhead: one row of the baby model sampling 60 tokens (its context is 64) with a
    # cached constraint that allows most tokens at every step, against the same row without one
    # (same seed, interleaved rounds, medians)
    tok = vocabularies["char"]
    model = random_model(tok.vocab_size)
    auto = automaton_for(Constraint.regex(r"[^0-9]{60}"), tok)
    prompt = tok.encode("\n")
    plain = lambda: generate(model, prompt, 60, temperature=1.0, seed=7)[0]  # noqa: E731

    def steered():
        return generate(model, prompt, 60, temperature=1.0, seed=7, steer=lambda i: ConstrainedRow(auto))[0]

    plain(), steered()  # warm-up
    t = side_by_side(plain, steered, 21)
    result["overhead"] = {
        "new_tokens": 60,
        "step_ms": round(1000 * t["base_s"] / 60, 3),
        "constrained_step_ms": round(1000 * t["other_s"] / 60, 3),
        "overhead": round(1 / t["ratio"] - 1, 3),
        "all_match": all(ch not in "0123456789" for ch in tok.decode(t["outs"]["other"])),
    }
    return result


# ---- batching ----------------------------------------------------------------------------------
def batching_part(text: str, rounds: int) -> dict:
    tok = CharTokenizer.train(text)
    model = random_model(tok.vocab_size, block_size=256)
    prompt = tok.encode("ROMEO:\n")
    generate(model, prompt, 8, num_samples=16, seed=0)  # warm-up
    batched = lambda: generate(model, prompt, 200, temperature=1.0, num_samples=16, seed=100)  # noqa: E731
    t = side_by_side(lambda: _one_by_one(model, prompt, 16), batched, rounds)
    return {
        "rows": 16,
        "new_tokens": 200,
        "batched_tok_s": round(16 * 200 / t["other_s"], 1),
        "sequential_tok_s": round(16 * 200 / t["base_s"], 1),
        "speedup": round(t["ratio"], 2),
        "same_tokens": t["outs"]["base"] == t["outs"]["other"],
    }


def _one_by_one(model, prompt, n: int) -> list[list[int]]:
    return [generate(model, prompt, 200, temperature=1.0, seed=100 + i)[0] for i in range(n)]


# ---- speculative -------------------------------------------------------------------------------
#: the Shakespeare pair: a target whose pass reads ~43 MB of weights (memory-bound on a CPU, and
#: nearly as dear for 9 positions as for 1) and a draft 11.7× smaller; both the ``cpu-speedrun``
#: recipe with a context of 256 (the prompt and 200 new tokens fit, so both keep their caches)
TARGET = {"model.n_layer": 6, "model.n_head": 6, "model.n_embd": 384, "model.block_size": 256}
DRAFT = {"model.n_layer": 2, "model.n_head": 4, "model.n_embd": 192, "model.block_size": 256}
#: training both on Tiny Shakespeare: 4 sequences of 256 a step (a few minutes on one thread)
SHAKESPEARE_TRAIN = {"train.batch_size": 4, "train.warmup_steps": 20, "data.tokenizer": "char"}
#: ``--spec-task arithmetic``: the draft of the tools part's base model (2 layers of 128), 4× smaller
ARITH_DRAFT = {"model.n_layer": 1, "model.n_embd": 88}


def trained(workdir: Path, name: str, preset: str, shape: dict, steps: int, threads: int) -> Path:
    """A run of ``preset`` with these settings, trained for ``steps`` steps (a fixed amount of
    training whatever the load; the schedule on the step clock) and scored on a 1% validation
    split, or the one already in ``workdir``."""
    out = workdir / name
    if not (out / "model.safetensors").exists():
        settings = {"train.max_steps": steps, "train.time_budget": 0.0, "train.schedule_clock": "steps"}
        settings.update({"train.eval_every": 0, "data.val_fraction": 0.01, "train.threads": threads})
        cfg = resolve(preset, overrides={**settings, **shape})
        glassgpt.train(out, config=cfg, report=False, overwrite=True)
    return out


def shakespeare_pair(workdir: Path, data: Path, steps: dict[str, int], threads: int) -> tuple[Path, Path]:
    """The target, trained on ``data``/tinyshakespeare.txt (read where it is) for
    ``steps["target"]`` steps, and the draft, trained for ``steps["draft"]`` steps on what the
    target wrote (``target_text``): a draft learns to guess its target best from the target's
    own text (distillation), and the guesses a greedy round needs are the target's argmaxes."""
    shape = lambda s: "x".join(str(s[k]) for k in ("model.n_layer", "model.n_embd"))  # noqa: E731
    text = data / "tinyshakespeare.txt"
    name = f"target-{shape(TARGET)}-{steps['target']}"
    settings = {**TARGET, **SHAKESPEARE_TRAIN, "data.path": str(text)}
    target = trained(workdir, name, "cpu-speedrun", settings, steps["target"], threads)
    written = target_text(target, text.read_text(encoding="utf-8"), workdir / f"{name}-wrote.txt")
    name = f"draft-{shape(DRAFT)}-{steps['draft']}-from-{name}"
    settings = {**DRAFT, **SHAKESPEARE_TRAIN, "data.path": str(written)}
    return target, trained(workdir, name, "cpu-speedrun", settings, steps["draft"], threads)


def target_text(target_dir: Path, text: str, out: Path, batches: int = 6, rows: int = 64) -> Path:
    """``out``: the target's continuations of ``2 × batches × rows`` windows of 32 characters of
    ``text`` (224 characters each, greedy for half of them and sampled at temperature 1 for the
    others), one per paragraph, and a last line with every character of ``text`` (so that the
    draft's character vocabulary is the target's); written once and reused."""
    if out.exists():
        return out
    run = load_run(target_dir)
    tok, model = run.tokenizer, run.model
    step = len(text) // (2 * batches * rows + 1)
    starts = iter(range(0, len(text) - 32, step))
    pieces = []
    for b in range(2 * batches):
        prompts = [tok.encode(text[i : i + 32]) for i in (next(starts) for _ in range(rows))]
        rows_out = generate_batch(model, prompts, 224, temperature=float(b % 2), seed=b)
        pieces += [tok.decode(p + r) for p, r in zip(prompts, rows_out)]
    pieces.append("".join(sorted(set(text))))
    atomic_write_text(out, "\n\n".join(pieces) + "\n")
    return out


def speculative_part(
    workdir: Path,
    task: str,
    steps: dict[str, int],
    threads: int,
    guesses: list[int],
    base: Path | None,
    data: Path | None,
) -> dict:
    if task == "arithmetic":  # the tools part's base model and a 4x smaller draft; held-out questions
        target_dir = arithmetic_base(workdir, threads, base)
        draft_dir = trained(workdir, "arith-draft", "arithmetic", ARITH_DRAFT, steps["draft"], threads)
        texts, n = [p.question for p in arithmetic.held_out(30)], 24
    else:
        target_dir, draft_dir = shakespeare_pair(workdir, data, steps, threads)
        texts, n = ["ROMEO:\n", "First Citizen:\nWe are", "KING HENRY:\nNow"], 200
    target_run, draft_run = load_run(target_dir), load_run(draft_dir)
    target, draft, tok = target_run.model, draft_run.model, target_run.tokenizer
    check_draft(tok, draft_run.tokenizer, max(guesses), str(draft_dir))
    prompts = [tok.encode(t) for t in texts]
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in (("target", target), ("draft", draft))}
    result = {
        "task": task,
        "params": params,
        "size_ratio": round(params["target"] / params["draft"], 2),
        "target_val_loss": _final_loss(target_run.run_dir),
        "draft_val_loss": _final_loss(draft_run.run_dir),
        "prompts": len(prompts),
        "new_tokens": n,
        "threads": torch.get_num_threads(),
        "by_guesses": {str(k): _speculative_row(target, draft, prompts, n, k) for k in guesses},
    }
    best = max(result["by_guesses"], key=lambda k: result["by_guesses"][k]["speedup"])
    return {**result, "best_guesses": int(best), **result["by_guesses"][best]}


def _speculative_row(target, draft, prompts, n: int, guesses: int) -> dict:
    """Greedy tokens/s with and without the draft making ``guesses`` guesses a round (interleaved
    rounds per prompt, medians), and the acceptance at temperature 0 and 1."""
    ratios, plain_s, spec_s = [], [], []
    same = True
    stats0 = SpeculativeStats()
    for p in prompts:
        t = side_by_side(
            lambda p=p: generate(target, p, n, temperature=0)[0],
            lambda p=p: speculative_generate(target, draft, p, n, guesses, temperature=0),
            3,
        )
        ratios.append(t["ratio"])
        plain_s.append(t["base_s"])
        spec_s.append(t["other_s"])
        same = same and t["outs"]["base"] == t["outs"]["other"]
        speculative_generate(target, draft, p, n, guesses, temperature=0, stats=stats0)
    stats1 = SpeculativeStats()
    for seed, p in enumerate(prompts * 2):
        speculative_generate(target, draft, p, n, guesses, temperature=1.0, seed=seed, stats=stats1)
    return {
        "guesses": guesses,
        "greedy_tok_s": round(len(prompts) * n / sum(plain_s), 1),
        "speculative_tok_s": round(len(prompts) * n / sum(spec_s), 1),
        "speedup": round(statistics.median(ratios), 2),
        "same_tokens": same,
        "acceptance_t0": round(stats0.acceptance_rate, 3),
        "target_passes_per_token_t0": round(stats0.target_passes / (len(prompts) * n), 3),
        "acceptance_t1": round(stats1.acceptance_rate, 3),
        "target_passes_per_token_t1": round(stats1.target_passes / (2 * len(prompts) * n), 3),
    }


def _final_loss(run_dir: Path) -> float | None:
    return json.loads((run_dir / "summary.json").read_text()).get("final", {}).get("loss")


def arithmetic_base(workdir: Path, threads: int, given: Path | None) -> Path:
    """The ``arithmetic`` preset's base run: a copy of ``given`` (another benchmark's run, only
    read), else trained here; kept in ``workdir``."""
    base = workdir / "arith-base"
    if given is not None and not (base / "model.safetensors").exists():
        shutil.copytree(given, base, ignore=shutil.ignore_patterns(".glassgpt.lock"))
    if not (base / "model.safetensors").exists():
        cfg = resolve("arithmetic", overrides={"train.threads": threads})
        glassgpt.train(base, config=cfg, report=False, overwrite=True)
    return base


# ---- tools ----------------------------------------------------------------------------------
def tools_part(workdir: Path, threads: int, steps: int, given_base: Path | None) -> dict:
    base = arithmetic_base(workdir, threads, given_base)
    tooled = workdir / "arith-tools"
    if not (
        tooled / "model.safetensors"
    ).exists():  # --sft arithmetic-tools: 5,000 problems answered with the calculator
        finetune(base, "arithmetic-tools", tooled, max_steps=steps, overwrite=True, batch_size=32, lr=1e-3)
    held = [p for p in arithmetic.held_out(3000) if p.a >= 100 and p.b >= 100][:300]
    run, plain = load_run(tooled), load_run(base)
    tok, model = run.tokenizer, run.model
    end = role_tokens(tok)["assistant"][1]
    prompts = [render(tok, [{"role": "user", "content": p.question}], add_generation_start=True).ids for p in held]
    ctx = run.trained_context

    def replies(steer):
        return [
            generate(model, q, 20, temperature=0, stop_ids=(end,), max_context=ctx, steer=steer)[0] for q in prompts
        ]

    with_tool = replies(tool_rows(tok))
    blocked = tok.special_tokens[TOOL_CALL[0]]
    no_tool = replies(lambda i: _NoTool(blocked))
    score = lambda rows: (
        sum(arithmetic.reward(p, text_of(tok, [i for i in r if i != end])) for p, r in zip(held, rows)) / len(held)
    )  # noqa: E731
    base_rows = [
        generate(
            plain.model,
            plain.tokenizer.encode(p.question),
            5,
            temperature=0,
            stop_ids=tuple(plain.tokenizer.encode("\n")),
        )[0]
        for p in held
    ]
    base_acc = sum(arithmetic.reward(p, plain.tokenizer.decode(r)) for p, r in zip(held, base_rows)) / len(held)
    return {
        "base_run": str(given_base) if given_base is not None else "trained here (preset arithmetic)",
        "problems": len(held),
        "finetune_steps": steps,
        "accuracy_with_tool": round(score(with_tool), 3),
        "accuracy_tool_calls_masked": round(score(no_tool), 3),
        "accuracy_base_model": round(base_acc, 3),
    }


class _NoTool:
    """A steer that forbids opening a tool call: the model must answer in its head."""

    done = False

    def __init__(self, blocked: int):
        self.blocked = blocked

    def forced(self):
        return None

    def adjust(self, logits, remaining):
        out = torch.cat([logits, logits.new_full((1,), float("-inf"))])
        out[self.blocked] = float("-inf")
        return out

    def push(self, token):
        pass


# ---- against transformers ----------------------------------------------------------------------
def hf_part() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from generate import PROMPT, SHAPE, hf_copy  # noqa: PLC0415 - the sibling benchmark's model and copy

    torch.manual_seed(0)
    model = GPT(ModelConfig(**SHAPE)).eval()
    hf = hf_copy(model)
    if hf is None:
        return {"transformers": False}
    ids = torch.tensor([PROMPT])
    ours = lambda: generate(model, PROMPT, 128, temperature=0)[0]  # noqa: E731

    def theirs():
        with torch.inference_mode():
            out = hf.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=128, do_sample=False, pad_token_id=0
            )
        return out[0, len(PROMPT) :].tolist()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ours(), theirs()  # warm-up
    t = side_by_side(theirs, ours, 6)
    torch.set_num_threads(threads)
    return {
        "threads": 1,
        "new_tokens": 128,
        "cached_tok_s": round(128 / t["other_s"], 1),
        "hf_tok_s": round(128 / t["base_s"], 1),
        "cached_vs_hf": round(t["ratio"], 2),
        "same_tokens": t["outs"]["base"] == t["outs"]["other"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="constraints,batching,speculative,tools,hf")
    ap.add_argument("--samples", type=int, default=1000, help="constrained samples per constraint and vocabulary")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--spec-task", choices=("shakespeare", "arithmetic"), default="shakespeare")
    ap.add_argument("--train-steps", type=int, default=400, help="training steps of the speculative target")
    ap.add_argument("--draft-steps", type=int, default=600, help="training steps of the speculative draft")
    ap.add_argument("--train-threads", type=int, default=1, help="torch CPU threads while training the runs")
    ap.add_argument("--data", help="folder holding tinyshakespeare.txt (default: $GLASSGPT_BENCH_DATA)")
    ap.add_argument("--tool-steps", type=int, default=800, help="fine-tuning steps of the tool-use model")
    ap.add_argument(
        "--tools-base", type=Path, help="an arithmetic base run to copy and fine-tune instead of training one"
    )
    ap.add_argument(
        "--guesses", default="4", help="draft tokens per round of speculative decoding (a list, e.g. 2,4,6,8)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the batching part")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "glassgpt-bench-generation"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    parts = [p for p in re.split(r"[, ]+", args.parts) if p]
    text = load_corpus("shakespeare")[:1_000_000]
    result: dict = {"benchmark": "generation", "threads": args.threads, "load": os.getloadavg()[0]}
    for part in parts:
        t0 = time.perf_counter()
        if part == "constraints":
            result[part] = constraints_part(text, args.samples)
        elif part == "batching":
            result[part] = batching_part(text, args.rounds)
        elif part == "speculative":
            data = bench_data(args.data) if args.spec_task == "shakespeare" else None
            guesses = [int(k) for k in args.guesses.split(",")]
            result[part] = speculative_part(
                workdir,
                args.spec_task,
                {"target": args.train_steps, "draft": args.draft_steps},
                args.train_threads,
                guesses,
                args.tools_base,
                data,
            )
        elif part == "tools":
            result[part] = tools_part(workdir, args.threads, args.tool_steps, args.tools_base)
        elif part == "hf":
            result[part] = hf_part()
        else:
            raise SystemExit(f"unknown part {part!r}")
        result[part]["part_seconds"] = round(time.perf_counter() - t0, 1)
        result[part]["load_after"] = round(os.getloadavg()[0], 2)
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
