"""Multiple-choice evaluation (HellaSwag style): which ending does the model find likeliest?

A record is one JSON line ``{"context": str, "endings": [str, ...], "label": int}``; HellaSwag's
own validation lines work as they are: their ``ctx`` stands for ``context`` (or, without it,
``ctx_a`` and ``ctx_b`` joined by a space), and their other fields are ignored.
Each ending is appended to the context after ``separator`` (a space by default), which is
scored with the ending, never doubled: an ending that already starts with the separator gets
none added, and a context that ends with it passes it on to the ending (``join``).  Each
ending is scored by the model's loss over its tokens only: their *sum* (the log-likelihood of
the whole ending) and their *mean* (per token, which does not favour short endings).  The
prediction under each score is the ending with the lowest loss (the first on ties); both
accuracies are reported.  When context + ending is longer than the model's context, the
context is cut from the left so the whole ending is scored.  The context and each ending are
encoded on their own, so a word tokenizer (``--tokenizer word``) scores endings of words it
knows, and an unknown word is named with its record.

**Few-shot** (``shots=K``, ``glassgpt eval --multiple-choice FILE --shots K``), for a base model
that was never told what the task is: every record's context is preceded by K solved records
of the same file, one per line, each its context and its right ending (``generation.shots``,
the same prompt ``glassgpt sample --shots`` writes).  The shots are the first K records of the
file other than the record itself, so every record sees K examples and never its own answer.

Ranks: ``score_records(..., rank=r, world_size=n)`` scores records ``r, r+n, r+2n, …``.
Its ``MCResult`` counts add up (``combine``; ``counts()`` is a vector to all-reduce),
and each detail carries its record's index, so the ranks' details merge back in order.
``evaluate_multiple_choice`` does all of it: under ``torchrun`` every process loads the run,
scores its share, and rank 0 gets the combined result (the others get None).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from glassgpt.device import device_of, pick_device
from glassgpt.errors import DataError, TokenizerError
from glassgpt.fileio import json_object_line
from glassgpt.generation.shots import Shot, few_shot_prompt
from glassgpt.models.from_run import load_run
from glassgpt.parallel import world as distributed
from glassgpt.progress import task


@dataclass
class MCRecord:
    line: int
    context: str
    endings: list[str]
    label: int


@dataclass
class MCResult:
    examples: int = 0
    correct_sum: int = 0
    correct_mean: int = 0
    details: list[dict] = field(default_factory=list)

    @property
    def accuracy_sum(self) -> float:
        return self.correct_sum / self.examples if self.examples else float("nan")

    @property
    def accuracy_mean(self) -> float:
        return self.correct_mean / self.examples if self.examples else float("nan")

    def counts(self) -> list[int]:
        """``[examples, correct_sum, correct_mean]``: sum these over ranks (all-reduce)."""
        return [self.examples, self.correct_sum, self.correct_mean]

    def to_dict(self, details: bool = False) -> dict:
        out = {
            "examples": self.examples,
            "accuracy_sum": self.accuracy_sum,
            "accuracy_mean": self.accuracy_mean,
            "correct_sum": self.correct_sum,
            "correct_mean": self.correct_mean,
        }
        if details:
            out["details"] = self.details
        return out


def combine(results: list[MCResult]) -> MCResult:
    """The result of all ranks together: counts summed, details in record order."""
    total = MCResult()
    for r in results:
        total.examples += r.examples
        total.correct_sum += r.correct_sum
        total.correct_mean += r.correct_mean
        total.details += r.details
    total.details.sort(key=lambda d: d["index"])
    return total


#: the format the messages quote
FORMAT = '{"context": "...", "endings": ["...", "..."], "label": N} (or HellaSwag\'s "ctx" for "context")'
#: what separates the context from each ending by default
SEPARATOR = " "


def _context(data: dict, bad: Callable[[str], DataError]):
    """The record's context: ``context``, else HellaSwag's ``ctx``, else its ``ctx_a`` and ``ctx_b``
    joined by a space (``ctx_b`` starts the sentence the endings finish; it may be empty)."""
    for key in ("context", "ctx"):
        if key in data:
            return key, data[key]
    if "ctx_a" in data:
        a, b = data["ctx_a"], data.get("ctx_b", "")
        if not isinstance(a, str) or not isinstance(b, str):
            raise bad("has a non-text 'ctx_a' or 'ctx_b'")
        return "ctx_a", f"{a} {b}" if a and b else a or b
    raise bad("has no 'context' (nor HellaSwag's 'ctx', or 'ctx_a' and 'ctx_b')")


def _record(raw: bytes, number: int, path: Path) -> MCRecord:
    def bad(what: str) -> DataError:
        return DataError(f"line {number} of {path} {what}; each line must be {FORMAT}.")

    data = json_object_line(raw, bad)
    key, context = _context(data, bad)
    missing = [k for k in ("endings", "label") if k not in data]
    if missing:
        raise bad(f"has no {missing[0]!r}")
    endings, label = data["endings"], data["label"]
    if not isinstance(context, str) or not context:
        raise bad(f"has an empty or non-text {key!r}")
    if not isinstance(endings, list) or len(endings) < 2 or not all(isinstance(e, str) and e for e in endings):
        raise bad("needs 'endings' to be a list of at least two non-empty texts")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(endings):
        raise bad(f"has the label {label!r}, not the index of one of its {len(endings)} endings")
    return MCRecord(number, context, endings, label)


def read_records(path: str | os.PathLike) -> list[MCRecord]:
    """Read a JSONL file of records (blank lines skipped); a bad line is named by its number."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; give a JSONL file of multiple-choice records.")
    records = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if raw.strip():
                records.append(_record(raw, number, path))
    if not records:
        raise DataError(f"{path} holds no records; give one JSON object per line.")
    return records


def with_shots(records: list[MCRecord], k: int, separator: str = SEPARATOR) -> list[MCRecord]:
    """The records with ``k`` solved records written before each context (see the module docstring)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(records):
        raise DataError(
            f"--shots must be a whole number from 0 to {len(records) - 1} (the other records of the file), got {k!r}."
        )
    if k == 0:
        return records
    solved = [Shot(*join(r.context, r.endings[r.label], separator)) for r in records]
    out = []
    for i, record in enumerate(records):
        shots = [solved[j] for j in range(k + 1) if j != i][:k]
        out.append(replace(record, context=few_shot_prompt(shots, record.context)))
    return out


def join(context: str, ending: str, separator: str = SEPARATOR) -> tuple[str, str]:
    """(context, ending) as they are scored: the separator in front of the ending, once.  An
    ending that already starts with it gets none added; a context that ends with it hands it
    to the ending (BPE then reads " word" as the one token it was trained on)."""
    if separator and context.endswith(separator):
        context = context[: -len(separator)]
    if separator and not ending.startswith(separator):
        ending = separator + ending
    return context, ending


def _encode(tokenizer, text: str, what: str) -> list[int]:
    try:
        return tokenizer.encode(text)
    except TokenizerError as exc:
        raise TokenizerError(f"{what}: {exc}") from None


@torch.no_grad()
def _score(model, tokenizer, record: MCRecord, separator: str, context_len: int, device) -> tuple[list, list, list]:
    """Summed and mean loss of each ending (over its tokens only), and its token count."""
    where = f"the record on line {record.line}"
    texts = [join(record.context, ending, separator) for ending in record.endings]
    ctx = _encode(tokenizer, texts[0][0], f"the context of {where}")  # the same context for every ending
    if not ctx:
        raise DataError(f"the context of {where} encodes to no tokens; give some context.")
    rows, masks = [], []
    for k, (_, ending) in enumerate(texts):
        end = _encode(tokenizer, ending, f"ending {k} of {where}")
        if not end:
            raise DataError(f"ending {k} of {where} encodes to no tokens; give it some text.")
        if len(end) > context_len:
            raise DataError(
                f"ending {k} of {where} has {len(end)} tokens, more than the model's context of {context_len} allows."
            )
        seq = (ctx + end)[-(context_len + 1) :]  # cut the context from the left, keep the whole ending
        rows.append(seq)
        masks.append([0] * (len(seq) - len(end)) + [1] * len(end))
    width = max(map(len, rows))
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows], device=device)
    mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], device=device, dtype=torch.float64)
    logits, _ = model(ids[:, :-1])
    logp = F.log_softmax(logits.double(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    m = mask[:, 1:]
    sums = -(logp * m).sum(1)
    counts = m.sum(1)
    return sums.tolist(), (sums / counts).tolist(), counts.long().tolist()


def score_records(
    model,
    tokenizer,
    records: list[MCRecord],
    rank: int = 0,
    world_size: int = 1,
    separator: str = SEPARATOR,
    max_context: int | None = None,
    on_record: Callable[[], None] | None = None,
) -> MCResult:
    """Score records ``rank::world_size`` with a torch GPT (as ``glassgpt.load`` returns), each
    context cropped to ``max_context`` tokens (default the block size; a run's trained context
    is ``runs.load_run(dir).trained_context``); ``on_record()`` after each (a progress bar)."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size}")
    model.eval()
    device = device_of(model)
    context_len = min(model.config.block_size, max_context or model.config.block_size)
    result = MCResult()
    for index in range(rank, len(records), world_size):
        record = records[index]
        sums, means, counts = _score(model, tokenizer, record, separator, context_len, device)
        pred_sum, pred_mean = int(np.argmin(sums)), int(np.argmin(means))
        result.examples += 1
        result.correct_sum += pred_sum == record.label
        result.correct_mean += pred_mean == record.label
        result.details.append(
            {
                "index": index,
                "line": record.line,
                "label": record.label,
                "pred_sum": pred_sum,
                "pred_mean": pred_mean,
                "sum_losses": sums,
                "mean_losses": means,
                "ending_tokens": counts,
            }
        )
        if on_record is not None:
            on_record()
    return result


def evaluate_multiple_choice(
    run_dir,
    path,
    device: str = "cpu",
    rank: int = 0,
    world_size: int = 1,
    separator: str = SEPARATOR,
    progress: bool = False,
    shots: int = 0,
) -> MCResult:
    """Load a run and score the records of ``path`` (this rank's share of them), each after
    ``shots`` solved records (``with_shots``)."""
    records = with_shots(read_records(path), shots, separator)  # bad records are found before the model is loaded
    run = load_run(run_dir, device)
    mine = len(range(rank, len(records), world_size))
    with task("multiple choice", mine, enabled=progress) as bar:
        return score_records(
            run.model, run.tokenizer, records, rank, world_size, separator, run.trained_context, on_record=bar.advance
        )


def evaluate_multiple_choice_job(
    run_dir, path, device: str = "auto", separator: str = SEPARATOR, progress: bool = False, shots: int = 0
) -> MCResult | None:
    """The whole evaluation, split over the processes when torchrun started several: each
    scores records ``rank::N`` on its own device, rank 0 returns the combined result and the
    others None.  In one process: the result of all records."""
    with distributed.session() as world:
        where = str(distributed.device_for(pick_device(device), world))
        part = evaluate_multiple_choice(
            run_dir, path, where, world.rank, world.size, separator, progress and world.is_main, shots
        )
        parts = world.gather(part)
        return combine(parts) if world.is_main else None
