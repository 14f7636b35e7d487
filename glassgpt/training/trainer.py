"""The training loop: data → engine steps → metrics, evaluation, checkpoints, a final sample.

Everything a run needs is checked before the run directory is touched, so bad input
never costs a user an earlier run.
"""

from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rundir
from ..config import RunConfig, parse_override, resolve, set_value, validate
from ..data import read_source
from ..data.loader import BatchLoader, fixed_batches
from ..data.tokens import encode_splits, open_split, write_splits
from ..errors import ConfigError, RunDirError
from ..evaluation import evaluate_tokens, token_byte_lengths
from ..fileio import write_json
from ..rundir import checkpoint
from ..sample import default_prompt_ids, generate
from ..threads import OtherLoad, ThreadGovernor, plan_threads, thread_scope
from ..tokenizers import Tokenizer
from ..tokenizers import load as load_tokenizer
from ..tokenizers.spec import build_tokenizer
from .budget import MARGIN, EvalClock, out_of_time
from .engines import make_engine, split_micro_batches
from .progress import Progress
from .schedule import learning_rate, time_position

#: sections a resumed run may not change (its weights and data depend on them)
FROZEN_ON_RESUME = ("model", "data")


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    stopped_by: str
    final: dict = field(default_factory=dict)
    sample: str = ""                                   # the first of ``samples``
    samples: list[str] = field(default_factory=list)  # one per prompt in train.sample_prompts


def resume_config(run_dir: Path, overrides: dict | None) -> RunConfig:
    """The stored configuration of ``run_dir`` with ``overrides`` applied; refuses any
    change to the model shape or the data."""
    stored = RunConfig.from_dict(rundir.read_config_dict(run_dir))
    cfg = RunConfig.from_dict(stored.to_dict())
    for key, value in (overrides or {}).items():
        set_value(cfg, key, value)
    validate(cfg)
    for section in FROZEN_ON_RESUME:
        old, new = getattr(stored, section).__dict__, getattr(cfg, section).__dict__
        changed = [k for k in old if old[k] != new[k]]
        if changed:
            k = changed[0]
            raise ConfigError(
                f"--resume cannot change {section}.{k} ({old[k]!r} → {new[k]!r}); the checkpoint was trained "
                "with the old value. Start a new run with --out to use it."
            )
    return cfg


class Trainer:
    """One run: prepares data and engine, then ``run()`` trains, evaluates, saves and samples.

    The configuration is copied: the caller's ``cfg`` is never changed (the copy gets the
    tokenizer's vocabulary size)."""

    def __init__(self, cfg: RunConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, text: str | None = None):
        cfg = copy.deepcopy(cfg)
        self.cfg, self.run_dir, self.resume = cfg, Path(run_dir), resume
        self.progress_enabled = progress
        self.stop_requested = False
        if resume:
            rundir.require_run(self.run_dir)
            self.tokenizer = load_tokenizer(self.run_dir / rundir.TOKENIZER)
        else:
            # everything that can fail on bad input happens before the directory is claimed
            text = read_source(cfg.data) if text is None else text
            self.tokenizer = self._make_tokenizer(text)
            cfg.model.vocab_size = self.tokenizer.vocab_size
            validate(cfg)
            for prompt in cfg.train.sample_prompts:  # a prompt the vocabulary cannot encode fails now, not at the end
                self.tokenizer.encode(prompt)
            splits = encode_splits(text, self.tokenizer, cfg.data.val_fraction, self.seq_len + 1)
            self.engine = make_engine(cfg)
            rundir.claim(self.run_dir, overwrite=overwrite)
            self.tokenizer.save(self.run_dir / rundir.TOKENIZER)
            write_splits(self.run_dir / rundir.DATA_DIR, *splits)
            write_json(self.run_dir / rundir.CONFIG, cfg.to_dict())
        self.train_tokens = open_split(self.run_dir / rundir.DATA_DIR, "train")
        self.val_tokens = open_split(self.run_dir / rundir.DATA_DIR, "val")
        if resume:
            self.engine = make_engine(cfg)
        self.loader = BatchLoader(self.train_tokens, self.seq_len, cfg.train.seed)
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        if resume:
            self._restore()

    @property
    def seq_len(self) -> int:
        return self.cfg.train.seq_len or self.cfg.model.block_size

    def _make_tokenizer(self, text: str) -> Tokenizer:
        d = self.cfg.data
        if d.tokenizer == "bpe":  # trained on the training split only
            text = text[: len(text) - int(len(text) * d.val_fraction)]
        return build_tokenizer(d.tokenizer, text, d.vocab_size or None)

    # ---- checkpoints ---------------------------------------------------------------------
    def _restore(self) -> None:
        weights, optim, rng, state = checkpoint.load(self.run_dir)
        self.engine.load_state_dict({"model": weights, "optimizer": optim, "rng": rng})
        self.loader.set_state(state["loader_rng"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed_s"]
        rundir.truncate_logs(self.run_dir, self.step)

    def save(self) -> None:
        state = self.engine.state_dict()
        checkpoint.save(self.run_dir, state["model"], state["optimizer"], state["rng"],
                        {"step": self.step, "tokens": self.tokens, "elapsed_s": self.elapsed,
                         "loader_rng": self.loader.state()})

    # ---- evaluation ----------------------------------------------------------------------
    def _eval_split(self) -> tuple[np.ndarray, str]:
        return (self.val_tokens, "val") if len(self.val_tokens) > self.seq_len else (self.train_tokens, "train")

    def estimate_loss(self) -> float:
        """Mean loss on a fixed set of batches (the same ones at every evaluation)."""
        tokens, _ = self._eval_split()
        t = self.cfg.train
        total, count = 0.0, 0
        for x, y in fixed_batches(tokens, self.seq_len, t.batch_size, t.eval_batches, t.seed + 1):
            s, n = self.engine.eval_sums(x, y)
            total, count = total + s, count + n
        return total / count

    def final_evaluation(self) -> dict:
        tokens, split = self._eval_split()
        result = evaluate_tokens(self.engine.eval_sums, tokens, self.seq_len, self.cfg.train.batch_size,
                                 token_byte_lengths(self.tokenizer))
        return {"split": split, **result}

    # ---- the loop --------------------------------------------------------------------------
    def _log(self, record: dict, name: str = rundir.METRICS) -> None:
        rundir.append_record(self.run_dir / name, record)

    def _request_stop(self, signum, frame) -> None:
        if self.stop_requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.stop_requested = True

    def run(self) -> TrainResult:
        """Train until ``max_steps``, the time budget or Ctrl-C, then save, evaluate and sample.
        Torch and BLAS use ``train.threads`` threads during the run (0: chosen from the idle
        cores and adapted to contention, see ``glassgpt.threads``) and their earlier counts after it."""
        self.threads = plan_threads(self.cfg.train.threads)
        with thread_scope(self.threads.threads):
            watch = OtherLoad(self.threads.watch) if self.threads.watch else None
            self.governor = (ThreadGovernor(self.threads.threads, self.threads.most, others=watch)
                             if self.threads.adaptive else None)
            return self._run()

    def _timed_estimate(self) -> float:
        """``estimate_loss()``, its speed recorded for the time budget's prediction."""
        start = time.perf_counter()
        loss = self.estimate_loss()
        t = self.cfg.train
        self.eval_clock.record(t.eval_batches * t.batch_size * self.seq_len, time.perf_counter() - start)
        return loss

    def _calibrate(self) -> float:
        """Time four evaluation batches (the median of the last three counts: the first also
        warms up) so the final evaluation can be predicted, and a short sample; returns the
        predicted seconds of the end-of-run samples."""
        t = self.cfg.train
        tokens, _ = self._eval_split()
        seconds, size = [], 0
        for x, y in fixed_batches(tokens, self.seq_len, t.batch_size, 4, t.seed + 2):
            start = time.perf_counter()
            self.engine.eval_sums(x, y)
            seconds.append(time.perf_counter() - start)
            size = int(y.size)
        self.eval_clock.record(size, sorted(seconds[1:])[1])
        n = min(t.sample_tokens, self.seq_len + 16)  # past the context, so the cropped regime is timed too
        if not n:
            return 0.0
        start = time.perf_counter()
        generate(self.engine.sampling_model(), default_prompt_ids(self.tokenizer), n, temperature=t.sample_temperature,
                 seed=t.seed, max_context=self.seq_len)
        return (time.perf_counter() - start) / n * t.sample_tokens * max(1, len(t.sample_prompts))

    def _run(self) -> TrainResult:
        t = self.cfg.train
        decay_steps = t.decay_steps or t.max_steps
        tokens_per_step = t.batch_size * t.grad_accum * self.seq_len
        start_time, session_start = time.perf_counter() - self.elapsed, time.perf_counter()
        last_log_time, last_log_tokens = time.perf_counter(), self.tokens
        stopped_by = "max_steps"
        self.eval_clock = EvalClock()
        final_tokens = len(self._eval_split()[0])
        eval_tokens = t.eval_batches * t.batch_size * self.seq_len
        sampling = self._calibrate() if t.time_budget else 0.0
        old_handler = _install_sigint(self._request_stop)
        bar = Progress(t.max_steps, self.step, enabled=self.progress_enabled)
        try:
            while self.step < t.max_steps:
                step_start = time.perf_counter()
                position = self.step
                if t.schedule_clock == "time":  # the share of the training time this session can spend
                    horizon = t.time_budget - MARGIN * (self.eval_clock.predict(final_tokens) + sampling)
                    position = time_position(self.step, t.warmup_steps, decay_steps,
                                             (step_start - session_start) / max(horizon, 1e-9))
                lr = learning_rate(position, t.lr, t.warmup_steps, decay_steps, t.min_lr_ratio, t.schedule,
                                   t.decay_fraction)
                micro = split_micro_batches(*self.loader.next(t.batch_size * t.grad_accum), t.batch_size)
                capture = bool(t.diagnostics_every) and (self.step + 1) % t.diagnostics_every == 0
                result = self.engine.train_step(micro, lr, capture=capture)
                loss, grad_norm = result.loss, result.grad_norm
                self.step += 1
                self.tokens += tokens_per_step
                now = time.perf_counter()
                self.elapsed = now - start_time
                if self.governor is not None:
                    adapted = self.governor.observe(now - step_start)
                    if adapted:
                        bar.note(adapted)
                next_eval = bool(t.eval_every) and (self.step + 1) % t.eval_every == 0
                next_cost = (now - step_start) + (self.eval_clock.predict(eval_tokens) if next_eval else 0.0)
                stop_for_time = out_of_time(now - session_start, t.time_budget, next_cost,
                                            self.eval_clock.predict(final_tokens) + sampling)
                last = self.step == t.max_steps or stop_for_time or self.stop_requested
                record = None
                if self.step % t.log_every == 0 or last:
                    record = {"step": self.step, "tokens": self.tokens, "train_loss": loss, "lr": lr,
                              "grad_norm": grad_norm,
                              "tokens_per_sec": (self.tokens - last_log_tokens) / max(now - last_log_time, 1e-9),
                              "elapsed_s": self.elapsed}
                    last_log_time, last_log_tokens = now, self.tokens
                if t.eval_every and self.step % t.eval_every == 0:
                    record = record or {"step": self.step, "tokens": self.tokens, "lr": lr, "elapsed_s": self.elapsed}
                    record["val_loss"] = self._timed_estimate()
                    bar.note(f"step {self.step}: train {loss:.4f}  val {record['val_loss']:.4f}")
                if record:
                    self._log(record)
                if result.probe is not None:
                    self._log(result.probe.record(self.step, grad_norm), rundir.DIAGNOSTICS)
                bar.update(self.step, loss, tokens_per_step / max(now - step_start, 1e-9))
                if t.sample_every and self.step % t.sample_every == 0 and not last:
                    self._record_samples()  # their own generator: the training RNG is untouched
                if self.step % t.save_every == 0 and not last:
                    self.save()
                if stop_for_time:
                    stopped_by = "time_budget"
                    break
                if self.stop_requested:
                    stopped_by = "interrupted"
                    break
        finally:
            bar.close()
            _restore_sigint(old_handler)
        self.save()
        eval_start = time.perf_counter()
        predicted = self.eval_clock.predict(final_tokens)
        final = self.final_evaluation()
        done = time.perf_counter()
        samples = self._record_samples()
        finished = time.perf_counter()
        summary = {"steps": self.step, "tokens": self.tokens, "stopped_by": stopped_by, "elapsed_s": self.elapsed,
                   "final": final, "sample": samples[0], "samples": samples,
                   "budget": {"time_budget_s": t.time_budget, "training_s": eval_start - session_start,
                              "final_eval_s": done - eval_start, "predicted_final_eval_s": predicted,
                              "with_final_eval_s": done - session_start, "predicted_samples_s": sampling,
                              "samples_s": finished - done, "with_samples_s": finished - session_start,
                              "started_unix": time.time() - (finished - session_start)},
                   "threads": {"plan": self.threads.reason, "start": self.threads.threads,
                               "end": self.governor.current if self.governor else self.threads.threads,
                               "changes": self.governor.changes if self.governor else []}}
        write_json(self.run_dir / rundir.SUMMARY, summary)
        return TrainResult(self.run_dir, self.step, stopped_by, final, samples[0], samples)

    def sample_texts(self) -> list[str]:
        """One sample per ``train.sample_prompts`` entry (or one from a neutral start), each
        the prompt followed by its continuation, drawn with a generator seeded from the run's seed."""
        t = self.cfg.train
        model = self.engine.sampling_model()
        starts = [self.tokenizer.encode(p) for p in t.sample_prompts] or [default_prompt_ids(self.tokenizer)]
        return [self.tokenizer.decode(ids + generate(model, ids, t.sample_tokens, temperature=t.sample_temperature,
                                                     seed=t.seed + i, max_context=self.seq_len)[0])
                for i, ids in enumerate(starts)]

    def _record_samples(self) -> list[str]:
        texts = self.sample_texts()
        prompts = self.cfg.train.sample_prompts or [""]
        for prompt, text in zip(prompts, texts):
            self._log({"step": self.step, "prompt": prompt, "text": text}, rundir.SAMPLES)
        return texts


def _install_sigint(handler):
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        return None


def _restore_sigint(old) -> None:
    if old is not None:
        try:
            signal.signal(signal.SIGINT, old)
        except ValueError:
            pass


def train(out: str | Path, preset: str | None = None, config_file: str | Path | None = None,
          overrides: dict | list | None = None, config: RunConfig | None = None, resume: bool = False,
          overwrite: bool = False, progress: bool = False, text: str | None = None) -> TrainResult:
    """Train a GPT into the run directory ``out`` and return its result.

    New run: the configuration is ``config`` or is resolved from ``preset``, ``config_file``
    and ``overrides`` ({"train.lr": 3e-4, ...} or ["train.lr=3e-4", ...]).  ``text``
    replaces the configured corpus.  Resume: the stored configuration with ``overrides``
    (training settings such as ``train.max_steps`` only)."""
    out = Path(out)
    if resume:
        if preset or config_file or config:
            raise ConfigError("--resume continues the stored configuration; use --set to change training settings.")
        if not (out / rundir.CONFIG).is_file():
            raise RunDirError(f"nothing to resume in {out}: it holds no run (start one without --resume).")
        items = overrides if isinstance(overrides, dict) else dict(parse_override(o) for o in overrides or [])
        cfg = resume_config(out, items)
    else:
        cfg = config if config is not None else resolve(preset, config_file, overrides)
    return Trainer(cfg, out, resume=resume, overwrite=overwrite, progress=progress, text=text).run()

