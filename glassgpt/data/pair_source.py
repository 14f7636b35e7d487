"""Preference pairs as training data: a reward model (Bradley–Terry) or DPO.

The pairs (``data.pairs``: ``{"prompt"|"messages", "chosen", "rejected"}`` per line) are
encoded with the chat template; ``data.val_fraction`` of them, a choice seeded by
``train.seed``, are held out.  What a batch holds depends on the objective:

- ``reward``: both replies with ``<|reward|>`` appended, where the reward model reads its
  score; the periodic estimate and the final evaluation are the Bradley–Terry loss on the
  held-out pairs;
- ``dpo``: both replies as the policy writes them, and the *reference* log-probability of
  each, log π_ref(y) summed over the reply's tokens, computed once when the run is made (by
  the frozen starting model) and kept in ``data/reference.safetensors``, so a resume never
  recomputes it.  The estimate and the final evaluation are the response loss of the
  held-out *chosen* replies (as a fine-tune's: what ``glassgpt eval`` reports).

A training batch is ``PAIR_FIELDS``: (chosen ids, chosen targets, rejected ids, rejected
targets, ends (B, 2): the index of each side's last token, reference (B, 2): the reference
log-probabilities), every epoch reshuffled (a generator seeded with (seed, epoch)); its
state is (epoch, row), so a resumed run continues with the same pairs.

A new run keeps the file as ``data/pairs.jsonl``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glassgpt.config import DataFacts, RunConfig
from glassgpt.data.conversation_source import file_fingerprint, split_conversations
from glassgpt.data.pairs import (
    Pair,
    Sides,
    completion_ids,
    encode_sides,
    prompt_ids,
    read_pairs,
    readout_id,
    reward_sides,
)
from glassgpt.data.source import Batch, EvalSet, fixed, token_byte_lengths
from glassgpt.errors import DataError
from glassgpt.fileio import atomic_write, load_tensors, save_tensors
from glassgpt.models.stage_losses import token_logprobs
from glassgpt.tokenizers import Tokenizer

PAIRS = "pairs.jsonl"
REFERENCE = "reference.safetensors"
#: what a training batch holds, in order
PAIR_FIELDS = ("chosen", "chosen_targets", "rejected", "rejected_targets", "ends", "reference")


class PairArrays:
    """Every pair of one split as arrays (rows in file order)."""

    def __init__(self, chosen: Sides, rejected: Sides, reference: np.ndarray):
        self.chosen, self.rejected, self.reference = chosen, rejected, reference

    def __len__(self) -> int:
        return len(self.chosen.ids)

    def rows(self, index) -> Batch:
        c, r = self.chosen, self.rejected
        ends = np.stack([c.ends[index], r.ends[index]], axis=1)
        return (c.ids[index], c.targets[index], r.ids[index], r.targets[index], ends, self.reference[index])


def encode_pairs(pairs: list[Pair], tokenizer: Tokenizer, context: int, readout: bool, source: str) -> PairArrays:
    """Both replies of every pair as ``Sides`` of one width (with ``<|reward|>`` when ``readout``);
    a prompt and reply longer than the context is one DataError naming its line."""
    chosen, rejected = [], []
    extra = 1 if readout else 0
    for pair in pairs:
        where = f"{source} line {pair.line}"
        prompt = prompt_ids(tokenizer, pair.messages, where)
        for side, out in ((pair.chosen, chosen), (pair.rejected, rejected)):
            reply = completion_ids(tokenizer, side, where)
            if len(prompt) + len(reply) + extra > context:
                raise DataError(
                    f"{where}: the prompt and a reply are {len(prompt) + len(reply) + extra} tokens, more than the "
                    f"model's context of {context}; shorten them."
                )
            out.append((prompt, reply))
    width = max((len(p) + len(c) + extra for p, c in chosen + rejected), default=1)
    if readout:
        token = readout_id(tokenizer)
        sides = reward_sides(chosen, token, width), reward_sides(rejected, token, width)
    else:
        sides = encode_sides(chosen, width), encode_sides(rejected, width)
    return PairArrays(*sides, np.zeros((len(pairs), 2), dtype=np.float32))


@torch.no_grad()
def sequence_logprobs(model: torch.nn.Module, sides: Sides, batch_size: int = 64) -> np.ndarray:
    """log π(reply) of every row: the log-probabilities of its target tokens, summed."""
    model.eval()
    out = []
    for i in range(0, len(sides.ids), batch_size):
        logits, _ = model(torch.from_numpy(sides.ids[i : i + batch_size]))
        out.append(token_logprobs(logits, torch.from_numpy(sides.targets[i : i + batch_size])).sum(-1).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


class PairBatches:
    """Training pairs, reshuffled every epoch; state (epoch, row)."""

    def __init__(self, arrays: PairArrays, seed: int):
        if not len(arrays):
            raise DataError("no pairs are left to train on.")
        self.arrays, self.seed = arrays, seed
        self.epoch, self.row = 0, 0

    def _order(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.arrays))

    def next(self, n: int) -> Batch:
        index = []
        while len(index) < n:
            if self.row == len(self.arrays):
                self.epoch, self.row = self.epoch + 1, 0
            order = self._order()
            take = min(n - len(index), len(order) - self.row)
            index += order[self.row : self.row + take].tolist()
            self.row += take
        return self.arrays.rows(np.array(index))

    def state(self) -> dict:
        return {"epoch": self.epoch, "row": self.row}

    def set_state(self, state: dict) -> None:
        self.epoch, self.row = int(state["epoch"]), int(state["row"])


class PairSource:
    kind = "pairs"

    def __init__(self, cfg: RunConfig, tokenizer: Tokenizer, path: Path, reference: Any = None):
        """``reference``: a new DPO run's frozen starting model (its log-probabilities are computed
        here), or the ``{"train", "val"}`` arrays a run kept."""
        self.cfg, self.tokenizer, self.path = cfg, tokenizer, Path(path)
        self.readout = cfg.train.objective == "reward"
        pairs = read_pairs(self.path)
        self.train_pairs, self.held_out = split_conversations(pairs, cfg.data.val_fraction, cfg.train.seed)
        source = str(cfg.data.path or cfg.data.task or self.path)
        context = cfg.model.block_size
        self.train_set = encode_pairs(self.train_pairs, tokenizer, context, self.readout, source)
        self.val_set = encode_pairs(self.held_out, tokenizer, context, self.readout, source)
        if cfg.train.objective == "dpo":
            for name, arrays in (("train", self.train_set), ("val", self.val_set)):
                if isinstance(reference, dict):
                    arrays.reference = reference[name].numpy()
                else:
                    arrays.reference = np.stack(
                        [sequence_logprobs(reference, arrays.chosen), sequence_logprobs(reference, arrays.rejected)],
                        axis=1,
                    ).reshape(len(arrays), 2)
        self.byte_lengths = token_byte_lengths(tokenizer, text_only=True)
        self.notes: tuple[str, ...] = ()
        held = len(self.held_out)
        self.description = (
            f"{source}: {len(pairs):,} preference pairs, {len(self.train_pairs):,} to train on, {held:,} held out"
            + ("" if held else " (the training ones are evaluated)")
        )

    @classmethod
    def reopen(cls, cfg: RunConfig, tokenizer: Tokenizer, data_dir: Path) -> PairSource:
        reference = (
            load_tensors(data_dir / REFERENCE, "reference log-probabilities") if cfg.train.objective == "dpo" else None
        )
        return cls(cfg, tokenizer, data_dir / PAIRS, reference)

    def facts(self) -> DataFacts:
        return DataFacts(vocab_size=self.tokenizer.vocab_size, kind="pairs", fingerprint=file_fingerprint(self.path))

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> PairBatches:
        return PairBatches(self.train_set, seed)

    def evaluated(self) -> tuple[str, PairArrays]:
        """The held-out pairs ("val"), or the training ones when none are held out."""
        return ("val", self.val_set) if len(self.val_set) else ("train", self.train_set)

    def final_sets(self) -> list[EvalSet]:
        name, arrays = self.evaluated()
        size, n = self.cfg.train.batch_size, len(arrays)
        if self.readout:  # the reward model: Bradley–Terry on whole pairs (no bytes: it predicts no text)
            batches = [arrays.rows(np.arange(i, min(i + size, n))) for i in range(0, n, size)]
            return [fixed(name, batches, np.zeros_like(self.byte_lengths))]
        chosen = arrays.chosen  # DPO: the response loss of the chosen replies
        batches = [(chosen.ids[i : i + size], chosen.targets[i : i + size]) for i in range(0, n, size)]
        return [fixed(name, batches, self.byte_lengths)]

    def estimate_set(self) -> EvalSet:
        data = self.final_sets()[0]
        return fixed(data.name, list(data.batches())[: self.cfg.train.eval_batches], data.byte_lengths)

    def sample(self, model: Any, seed: int, progress: bool = False) -> list[tuple[str, str]]:
        """Nothing: the stage records its own before-and-after figures (``stage.json``)."""
        return []

    def sample_seconds(self, model: Any, seed: int) -> float:
        return 0.0

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(data_dir / PAIRS, lambda tmp: shutil.copyfile(self.path, tmp))
        if self.cfg.train.objective == "dpo":
            tensors = {
                "train": torch.from_numpy(self.train_set.reference),
                "val": torch.from_numpy(self.val_set.reference),
            }
            save_tensors(data_dir / REFERENCE, tensors)

    def data_bytes(self) -> int:
        return self.path.stat().st_size + 8 * (len(self.train_set) + len(self.val_set))

    def shared(self) -> list[np.ndarray]:
        return []
