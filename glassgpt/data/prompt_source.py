"""Prompts as training data: RL, whose batches are rollouts of the policy being trained.

The prompts come from a task (``data.task``, e.g. ``arithmetic``: fresh training problems
every step, never a held-out one) or from a JSONL file (``data.path``: ``{"prompt"}`` or
``{"messages"}`` per line, optionally ``"answer"``), of which ``data.val_fraction`` is held
out (a choice seeded by ``train.seed``) and the rest cycled through in a seeded order.  The
reward is the task's exact match, or a reward model's score (``data.reward_model``).

What the run keeps in ``data/`` (so it resumes and evaluates without the originals):

- ``prompts.jsonl``: the prompt file, when there is one;
- ``held_out.jsonl``: the held-out prompts with their answers: the task's, the file's, or
  for a prompt without one the starting model's greedy reply (computed once when the run is
  made): the estimate and the final evaluation are the response loss of these answers;
- ``reference/``: the frozen starting model (config, weights, tokenizer), for the KL estimate;
- ``reward/``: the reward model, when it scores the rollouts.

The policy itself is the engine's model: ``attach(sampling_model)`` hands it over when the
run is built (``training.launch``), and ``batches`` are ``RolloutBatches`` that sample from it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glassgpt.config import DataFacts, RunConfig
from glassgpt.data.conversation_source import file_fingerprint, split_conversations
from glassgpt.data.pairs import Prompt, completion_ids, encode_sides, prompt_ids, read_prompts, write_jsonl
from glassgpt.data.rewards import ModelReward, TaskReward
from glassgpt.data.rollouts import RolloutBatches
from glassgpt.data.source import EvalSet, fixed, token_byte_lengths
from glassgpt.errors import DataError
from glassgpt.fileio import atomic_write, save_tensors, write_json
from glassgpt.generation.sampling import generate_batch
from glassgpt.models.from_run import load_run
from glassgpt.rundir.layout import CONFIG, MODEL, TOKENIZER
from glassgpt.tasks import arithmetic, task_spec
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.chat_template import reply_stop_ids

PROMPTS, HELD_OUT, REFERENCE_DIR, REWARD_DIR = "prompts.jsonl", "held_out.jsonl", "reference", "reward"
#: held-out problems of a task (the first of its fixed held-out split)
TASK_HELD_OUT = 500


class Frozen:
    """A model that does not train (the reference, a reward model): its configuration as
    ``config.json`` holds it, the model and its tokenizer; ``save`` writes them as a folder
    ``load_run`` opens."""

    def __init__(self, config: dict, model: torch.nn.Module, tokenizer: Tokenizer):
        self.config, self.model, self.tokenizer = config, model.eval(), tokenizer
        for p in self.model.parameters():
            p.requires_grad_(False)

    @classmethod
    def load(cls, folder: Path) -> Frozen:
        run = load_run(folder)
        return cls(run.config.to_dict(), run.model, run.tokenizer)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        save_tensors(folder / MODEL, {k: v.contiguous() for k, v in self.model.weights().items()})
        self.tokenizer.save(folder / TOKENIZER)
        write_json(folder / CONFIG, self.config)

    def bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())


class PromptSource:
    kind = "prompts"

    def __init__(
        self,
        cfg: RunConfig,
        tokenizer: Tokenizer,
        path: Path | None,
        reference: Frozen,
        reward_model: Frozen | None,
        held_out: list[Prompt] | None = None,
    ):
        """``held_out``: the held-out prompts with their answers, as a run kept them (None: made here)."""
        self.cfg, self.tokenizer, self.reference_model, self.reward_model = cfg, tokenizer, reference, reward_model
        self.path = Path(path) if path else None
        self.task = task_spec(cfg.data.task) if cfg.data.task else None
        self.reference = reference.model
        self.stop_ids = reply_stop_ids(tokenizer)
        self.context = cfg.model.block_size
        self._policy: Callable[[], torch.nn.Module] | None = None
        where = str(cfg.data.path or self.path or cfg.data.task)
        if self.path is not None:
            prompts = read_prompts(self.path)
            self.train_prompts, held = split_conversations(prompts, cfg.data.val_fraction, cfg.train.seed)
            if self.task is not None:
                for p in prompts:  # every prompt must be one of the task's problems
                    try:
                        arithmetic.parse(p.question)
                    except DataError as exc:
                        raise DataError(f"{self.path} line {p.line}: {exc}") from None
        else:
            self.train_prompts = []
            held = [Prompt(({"role": "user", "content": q.question},), q.answer) for q in self._held_out_problems()]
        for p in [*self.train_prompts, *held]:
            self.prompt_ids(p, f"{where} line {p.line}" if p.line else where)
        self.held_out = held_out if held_out is not None else self._answered(held)
        self.reward = TaskReward() if reward_model is None else ModelReward(reward_model.model, reward_model.tokenizer)
        self.byte_lengths = token_byte_lengths(tokenizer, text_only=True)
        self.notes: tuple[str, ...] = ()
        scored = "exact match" if reward_model is None else f"the reward model {cfg.data.reward_model}"
        what = f"{len(self.train_prompts):,} prompts" if self.path else "fresh problems every step"
        self.description = (
            f"{where}: {what}, {len(self.held_out):,} held out; G={cfg.train.group_size} completions of up to "
            f"{cfg.train.rollout_tokens} tokens per prompt, scored by {scored}"
        )

    def _held_out_problems(self) -> list[arithmetic.Problem]:
        if self.task is None:
            raise DataError("RL needs prompts: give --prompts FILE.jsonl or --task arithmetic.")
        return arithmetic.held_out(TASK_HELD_OUT, self.task)

    def _answered(self, prompts: list[Prompt]) -> list[Prompt]:
        """Every held-out prompt with an answer: its own, the task's, or the reference's greedy reply."""
        missing = [i for i, p in enumerate(prompts) if p.answer is None]
        out = list(prompts)
        if missing and self.task is not None:
            for i in missing:
                out[i] = Prompt(prompts[i].messages, arithmetic.parse(prompts[i].question).answer, prompts[i].line)
        elif missing:
            replies = generate_batch(
                self.reference,
                [self.prompt_ids(prompts[i]) for i in missing],
                self.cfg.train.rollout_tokens,
                temperature=0.0,
                stop_ids=self.stop_ids,
            )
            for i, reply in zip(missing, replies):
                out[i] = Prompt(prompts[i].messages, self.reply_text(reply), prompts[i].line)
        return out

    # ---- what the rollouts need ---------------------------------------------------------
    def attach(self, sampling_model: Callable[[], torch.nn.Module]) -> None:
        """The policy: the engine's model, which the rollouts sample from."""
        self._policy = sampling_model

    def policy(self) -> torch.nn.Module:
        if self._policy is None:
            raise RuntimeError("the rollouts have no policy: the run must attach its engine's model first.")
        return self._policy()

    def prompt_ids(self, prompt: Prompt, where: str = "a prompt") -> list[int]:
        """The prompt's ids; a prompt with no room left for ``train.rollout_tokens`` is one DataError."""
        ids = prompt_ids(self.tokenizer, prompt.messages, where)
        if len(ids) + self.cfg.train.rollout_tokens > self.context:
            raise DataError(
                f"{where}: the prompt is {len(ids)} tokens, and with {self.cfg.train.rollout_tokens} new tokens it is "
                f"longer than the model's context of {self.context}; shorten it (or pass fewer --max-new-tokens)."
            )
        return ids

    def reply_text(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i not in self.stop_ids])

    def draw(self, n: int, batches: RolloutBatches) -> list[Prompt]:
        """The next ``n`` training prompts: fresh task problems, or the file's in a seeded order."""
        if self.path is None:
            seed = int(batches.rng.integers(2**31))
            return [Prompt(({"role": "user", "content": q.question},)) for q in arithmetic.problems(n, seed, self.task)]
        out = []
        while len(out) < n:
            if batches.row == len(self.train_prompts):
                batches.epoch, batches.row = batches.epoch + 1, 0
            order = np.random.default_rng([batches.seed, batches.epoch]).permutation(len(self.train_prompts))
            take = min(n - len(out), len(order) - batches.row)
            out += [self.train_prompts[i] for i in order[batches.row : batches.row + take]]
            batches.row += take
        return out

    # ---- the DataSource protocol --------------------------------------------------------
    @classmethod
    def reopen(cls, cfg: RunConfig, tokenizer: Tokenizer, data_dir: Path) -> PromptSource:
        reward = Frozen.load(data_dir / REWARD_DIR) if (data_dir / REWARD_DIR).is_dir() else None
        path = data_dir / PROMPTS if (data_dir / PROMPTS).is_file() else None
        held = read_prompts(data_dir / HELD_OUT)
        return cls(cfg, tokenizer, path, Frozen.load(data_dir / REFERENCE_DIR), reward, held)

    def facts(self) -> DataFacts:
        fingerprint = file_fingerprint(self.path) if self.path else ""
        return DataFacts(vocab_size=self.tokenizer.vocab_size, kind="prompts", fingerprint=fingerprint)

    def batches(self, seed: int, rank: int = 0, world_size: int = 1) -> RolloutBatches:
        if self.path is not None and not self.train_prompts:
            raise DataError("no prompts are left to train on; lower --val-fraction or give more prompts.")
        return RolloutBatches(self, seed)

    def final_sets(self) -> list[EvalSet]:
        """The response loss of the held-out prompts' answers."""
        sides = encode_sides(
            [(self.prompt_ids(p), completion_ids(self.tokenizer, p.answer or "")) for p in self.held_out]
        )
        size, n = self.cfg.train.batch_size, len(self.held_out)
        batches = [(sides.ids[i : i + size], sides.targets[i : i + size]) for i in range(0, n, size)]
        return [fixed("val", batches, self.byte_lengths)]

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
        if self.path is not None:
            path = self.path
            atomic_write(data_dir / PROMPTS, lambda tmp: shutil.copyfile(path, tmp))
        records = [{"messages": list(p.messages), "answer": p.answer} for p in self.held_out]
        atomic_write(data_dir / HELD_OUT, lambda tmp: write_jsonl(Path(tmp), records))
        self.reference_model.save(data_dir / REFERENCE_DIR)
        if self.reward_model is not None:
            self.reward_model.save(data_dir / REWARD_DIR)

    def data_bytes(self) -> int:
        models = self.reference_model.bytes() + (self.reward_model.bytes() if self.reward_model else 0)
        return models + (self.path.stat().st_size if self.path else 0)

    def shared(self) -> list[np.ndarray]:
        return []
