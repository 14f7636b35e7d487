"""The training loop: data → engine steps → metrics, evaluation, checkpoints, a final sample.

Everything a run needs is checked before the run directory is touched, so bad input
never costs a user an earlier run.  One process at a time writes a run directory (its
writer lock is held from before the first write until the run returns); a new run is
absent or complete (``rundir.NewRun``); a resume checks the checkpoint against what this
configuration's engine holds (``state_check``); a full disk gets one sentence and leaves
the last checkpoint intact; Ctrl-C, SIGTERM and SIGUSR1 stop after a step and save
(``stopping``).  Under torchrun rank 0 does all of that and the other ranks train beside
it (``distributed``: they get the setup from rank 0 and never touch the run directory).
"""

from __future__ import annotations

import copy
import datetime
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from glassgpt import rundir
from glassgpt.config import RunConfig, parse_override, resolve, validate
from glassgpt.data.documents import DocumentBatches, document_segments, load_training_corpus
from glassgpt.data.loader import BatchLoader, fixed_batches
from glassgpt.data.shards import ShardLoader
from glassgpt.data.tokens import open_split, read_meta, write_splits
from glassgpt.device import pick_device
from glassgpt.distributed import current as current_world
from glassgpt.distributed import session
from glassgpt.errors import ConfigError, DiskError, FileError, RunDirError
from glassgpt.evaluation import evaluate_tokens, named, token_byte_lengths
from glassgpt.fileio import atomic_write_text, check_writable, write_json
from glassgpt.models.footprint import inference_bytes, parameter_count, require_fits, training_bytes
from glassgpt.progress import duration, message, task
from glassgpt.rundir import checkpoint, lock, space
from glassgpt.sample import default_prompt_ids, generate
from glassgpt.threads import OtherLoad, ThreadGovernor, check_thread_count, plan_threads, thread_scope
from glassgpt.tokenizers import END_OF_TEXT, Tokenizer
from glassgpt.tokenizers import from_dict as tokenizer_from_dict
from glassgpt.tokenizers import load as load_tokenizer
from glassgpt.tokenizers.spec import build_tokenizer
from glassgpt.training import corpus as corpora
from glassgpt.training import state_check
from glassgpt.training.budget import MARGIN, EvalClock, out_of_time
from glassgpt.training.distributed import (
    RankShare,
    announce_failure,
    derive_grad_accum,
    gather_state,
    parallel_mode,
    rank_loader,
    rank_rng,
    receive_setup,
    share_arrays,
    stop_agreement,
    threads_per_rank,
)
from glassgpt.training.engines import make_engine, split_micro_batches
from glassgpt.training.flops import Throughput
from glassgpt.training.header import header_lines, plan_warnings, scale_lines
from glassgpt.training.prepared import PreparedData
from glassgpt.training.progress import Progress
from glassgpt.training.resume import changed_settings, resume_config
from glassgpt.training.schedule import learning_rate, time_position
from glassgpt.training.stopping import StopSignals, Terminated
from glassgpt.training.words import prepared_words


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    stopped_by: str
    final: dict = field(default_factory=dict)
    sample: str = ""  # the first of ``samples``
    samples: list[str] = field(default_factory=list)  # one per prompt in train.sample_prompts
    rank: int = 0  # under torchrun: this process's rank (0 writes)


class Trainer:
    """One run: prepares data and engine, then ``run()`` trains, evaluates, saves and samples.

    The configuration is copied: the caller's ``cfg`` is never changed (the copy gets the
    tokenizer's vocabulary size).  ``prepared``: data the caller prepared (tokenizer, batch
    source, evaluation set, starting weights; see ``prepared.PreparedData``) instead of the
    text ``cfg.data`` names."""

    #: how the processes of one run agree when to stop (``stopping.StopSignals``' ``agree``):
    #: None for a single process; a distributed run sets a function every rank calls once per step
    stop_agreement = None

    def __init__(
        self,
        cfg: RunConfig | None,
        run_dir: str | Path,
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = True,
        text: str | None = None,
        prepared: PreparedData | None = None,
        accept_truncated_logs: bool = False,
    ):
        self.world = current_world()  # a world of one outside torchrun
        cfg = copy.deepcopy(cfg)
        self.cfg, self.run_dir, self.resume, self.prepared = cfg, Path(run_dir), resume, prepared
        self.progress_enabled = progress and self.world.is_main
        self.log_counts = dict.fromkeys(rundir.layout.STEP_LOGS, 0)
        self.step, self.tokens, self.elapsed = 0, 0, 0.0
        self.corpus, self._saved = None, None
        if not self.world.is_main:  # everything comes from rank 0
            self._follow()
            return
        try:
            self._lead(resume, overwrite, text, accept_truncated_logs)
        except BaseException as exc:
            announce_failure(self.world, exc)  # the other ranks are waiting for the setup
            raise
        if self.world.active:
            self._share()
        self._distribute()

    def _lead(self, resume: bool, overwrite: bool, text: str | None, accept_truncated_logs: bool) -> None:
        """Rank 0 (or the only process): check everything, build or reopen the run, restore its state."""
        cfg, prepared = self.cfg, self.prepared
        check_thread_count(cfg.train.threads)
        parallel_mode(cfg, self.world)
        if prepared is not None and self.world.active:
            raise ConfigError("fine-tuning and other prepared data train in one process; start it without torchrun.")
        derive_grad_accum(cfg, self.seq_len, self.world.size)
        if prepared is None:
            self.corpus = corpora.open_corpus(cfg.data, cfg.preset)
        if resume:
            rundir.require_resumable(self.run_dir)
            try:  # nothing is written until every check has passed
                check_writable(
                    self.run_dir, "the run directory", "make it writable, or copy the run and resume the copy"
                )
            except FileError as exc:
                raise RunDirError(f"cannot resume: {exc}") from None
            step = checkpoint.saved_step(self.run_dir)
            if step is not None and step >= cfg.train.max_steps:
                raise ConfigError(
                    f"{self.run_dir} is already at step {step:,} and train.max_steps is "
                    f"{cfg.train.max_steps:,}; pass a larger --max-steps to train further."
                )
            self.lock = lock.acquire(self.run_dir, "train --resume")  # before anything is read or changed
        else:
            self.lock = self._build(text, overwrite)
        try:
            if resume:
                rundir.require_resumable(self.run_dir)
                self.tokenizer = load_tokenizer(self.run_dir / rundir.TOKENIZER)
                self._check_memory()
                saved = checkpoint.load(self.run_dir)
                self.engine = make_engine(cfg)
            if prepared is None and self.corpus is None:
                self.train_tokens = open_split(self.run_dir / rundir.DATA_DIR, "train")
                self.val_tokens = open_split(self.run_dir / rundir.DATA_DIR, "val")
            self._open_data()
            if resume:
                space.require_room(
                    self.run_dir, space.resume_bytes(self._weight_bytes()), "a checkpoint", "run the same command again"
                )
                self._restore(*saved, accept_truncated_logs=accept_truncated_logs)
                self._record_resume()
        except BaseException:
            self.close()
            raise

    def _open_data(self) -> None:
        """The token splits and the training batch source, this rank's share of them."""
        cfg, rank, size = self.cfg, self.world.rank, self.world.size
        if self.corpus is not None:  # streamed from the shards where they are
            self.train_tokens, self.val_tokens = self.corpus.split("train"), self.corpus.split("val")
        # train.doc_mask: batches carry per-token document ids (segments)
        self.eot_id = self.tokenizer.special_tokens.get(END_OF_TEXT) if cfg.train.doc_mask else None
        if self.prepared is not None:
            self.loader = self.prepared.train
        elif self.corpus is not None:
            self.loader = ShardLoader(self.train_tokens, self.seq_len, cfg.train.seed, rank, size)
        else:
            self.loader = BatchLoader(self.train_tokens, self.seq_len, cfg.train.seed, rank, size)
        if self.eot_id is not None and self.prepared is None:
            self.loader = DocumentBatches(self.loader, self.eot_id)

    # ---- several processes: rank 0 shares, the others follow (see ``distributed``) ------------
    def _share(self) -> None:
        """Rank 0: send the others the configuration, tokenizer, data and restored state."""
        w = self.world
        w.broadcast(
            {
                "config": self.cfg.to_dict(),
                "run_dir": str(self.run_dir),
                "tokenizer": self.tokenizer.to_dict(),
                "trainer": self._saved,
                "step": self.step,
                "tokens": self.tokens,
                "elapsed": self.elapsed,
            }
        )
        if self.corpus is None:
            share_arrays(w, [self.train_tokens, self.val_tokens], 2)
        if self._saved is not None:
            state = self.engine.state_dict()
            for part in ("model", "optimizer"):
                w.broadcast_tensors(state[part])
            w.broadcast_tensors(self._saved_rng)

    def _follow(self) -> None:
        """Ranks 1…N-1: receive rank 0's setup, open this rank's share of the data, load the state."""
        w = self.world
        setup = receive_setup(w)
        self.cfg = RunConfig.from_dict(setup["config"])
        self.run_dir, self.lock = Path(setup["run_dir"]), lock.NoLock()
        self.tokenizer = tokenizer_from_dict(setup["tokenizer"])
        self.step, self.tokens, self.elapsed = setup["step"], setup["tokens"], setup["elapsed"]
        self.corpus = corpora.open_corpus(self.cfg.data, self.cfg.preset)
        if self.corpus is None:
            self.train_tokens, self.val_tokens = share_arrays(w, None, 2)
        self.engine = make_engine(self.cfg)
        self._open_data()
        rng = {}
        if setup["trainer"] is not None:
            model, optimizer = w.broadcast_tensors(None), w.broadcast_tensors(None)
            rng = rank_rng(w.broadcast_tensors(None), w.rank)
            self.engine.load_state_dict({"model": model, "optimizer": optimizer})
            self.loader.set_state(rank_loader(setup["trainer"], w.rank))
        if rng:
            self.engine.rng.load_state(rng)
        else:  # a rank the checkpoint has no stream for (or a new run): its own from seed + rank
            self.engine.reseed(self.cfg.train.seed + w.rank)
        self._distribute()

    def _distribute(self) -> None:
        """Every rank at once: wrap the engine for DDP/FSDP and agree on stops."""
        mode = parallel_mode(self.cfg, self.world)
        if mode != "none":
            self.engine.distribute(self.world, mode)
            self.stop_agreement = stop_agreement(self.world)

    def _build(self, text: str | None, overwrite: bool) -> lock.WriterLock:
        """Check everything, then write the new run (absent or complete); returns its writer lock."""
        cfg, prepared = self.cfg, self.prepared
        # everything that can fail on bad input happens before the directory is claimed
        with task("preparing data", enabled=self.progress_enabled):
            splits = None
            if prepared is not None:
                self.tokenizer = prepared.tokenizer
            elif self.corpus is not None:  # a prepared corpus: its tokenizer, no token cache
                self.tokenizer = self.corpus.tokenizer
                corpora.adopt(cfg.data, self.corpus)
            else:
                corpus = load_training_corpus(cfg.data, text)  # packed documents get <|endoftext|>
                self.tokenizer = corpus.adapt(self._make_tokenizer(corpus.text))
            cfg.model.vocab_size = self.tokenizer.vocab_size
            validate(cfg)
            for prompt in cfg.train.sample_prompts:  # a prompt the vocabulary cannot encode fails now
                self.tokenizer.encode(prompt)
            self._check_memory()
            if prepared is None and self.corpus is None:
                splits = corpus.encode_splits(self.tokenizer, cfg.data.val_fraction, self.seq_len + 1)
        self.engine = make_engine(cfg)
        if prepared is not None and prepared.weights is not None:
            self.engine.load_state_dict({"model": prepared.weights})
        cache = sum(len(split) for split in splits[:2]) * np.dtype(splits[2]["dtype"]).itemsize if splits else 0
        files = prepared.data_files if prepared is not None else {}
        cache += sum(len(text.encode("utf-8")) for text in files.values())
        needed = space.new_run_bytes(self._weight_bytes(), cache)
        rundir.check_new(self.run_dir, overwrite)
        what, then = "the token cache and two checkpoints", "run the same command again"
        space.require_room(
            self.run_dir, needed, what, then, freed=rundir.directory.own_bytes(self.run_dir) if overwrite else 0
        )
        setup = rundir.NewRun(self.run_dir, overwrite, "train --overwrite" if overwrite else "train")
        try:
            with setup:
                self.tokenizer.save(self.run_dir / rundir.TOKENIZER)
                if splits is not None:
                    write_splits(self.run_dir / rundir.DATA_DIR, *splits)
                for name, text in files.items():
                    (self.run_dir / rundir.DATA_DIR).mkdir(exist_ok=True)
                    atomic_write_text(self.run_dir / rundir.DATA_DIR / name, text)
                write_json(self.run_dir / rundir.CONFIG, cfg.to_dict())  # last: the run is complete
        except DiskError as exc:
            raise space.disk_message(exc, self.run_dir, needed, what, then) from None
        return setup.lock

    def close(self) -> None:
        """Release the run directory's writer lock (``run()`` does it when it returns)."""
        self.lock.release()

    def _weight_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.engine.state_dict()["model"].values())

    @property
    def seq_len(self) -> int:
        return self.cfg.train.seq_len or self.cfg.model.block_size

    def device(self) -> torch.device:
        t = self.cfg.train
        return pick_device(t.device) if t.engine == "torch" else torch.device("cpu")

    def _check_memory(self) -> None:
        """Refuse a model, batch or sample length that cannot fit in memory, before allocating it."""
        m, t = self.cfg.model, self.cfg.train
        device = self.device()
        require_fits(
            training_bytes(self.cfg, self.seq_len)["total"],
            device,
            f"training this model ({parameter_count(m):,} parameters, batches of "
            f"{t.batch_size:,}×{self.seq_len:,} tokens)",
            "use a smaller model (model.n_layer, model.n_embd, model.d_ff) or batch (train.batch_size)",
        )
        samples = max(1, len(t.sample_prompts))
        require_fits(
            inference_bytes(m, samples, self.seq_len, t.sample_tokens),
            device,
            f"sampling {samples} × {t.sample_tokens:,} tokens at the end of the run",
            "use a smaller train.sample_tokens",
        )

    def _make_tokenizer(self, text: str) -> Tokenizer:
        d = self.cfg.data
        if d.tokenizer == "bpe":  # trained on the training split only
            text = text[: len(text) - int(len(text) * d.val_fraction)]
        return build_tokenizer(d.tokenizer, text, d.vocab_size or None)

    # ---- checkpoints ---------------------------------------------------------------------
    def _restore(self, weights: dict, optim: dict, rng: dict, state: dict, accept_truncated_logs: bool = False) -> None:
        problems = state_check.problems(state_check.expected_state(self.engine), weights, optim, rng, state)
        if problems:
            raise RunDirError(
                f"cannot resume {self.run_dir}: its checkpoint does not fit this run. "
                + " ".join(problems)
                + " Restore state/ from a backup, or start again with --overwrite."
            )
        lost = state_check.lost_records(self.run_dir, state)
        if lost:
            text = "; ".join(lost)
            if not accept_truncated_logs:
                raise RunDirError(
                    f"the logs of {self.run_dir} lost records ({text}); pass --accept-truncated-logs "
                    "to resume anyway (the lost records stay lost)."
                )
            print(f"note: resuming although the logs lost records ({text}).", file=sys.stderr)
        try:
            self.engine.load_state_dict({"model": weights, "optimizer": optim, "rng": rng})
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:  # what the schema cannot see
            raise RunDirError(
                f"cannot resume {self.run_dir}: its checkpoint could not be loaded ({exc}); "
                "restore state/ from a backup, or start again with --overwrite."
            ) from None
        self.loader.set_state(state["loader_rng"])
        self.step, self.tokens, self.elapsed = state["step"], state["tokens"], state["elapsed_s"]
        self._saved, self._saved_rng = state, rng  # for the other ranks of a distributed run
        rundir.truncate_logs(self.run_dir, self.step)
        self.log_counts = state_check.count_records(self.run_dir, self.step)

    def _record_resume(self) -> None:
        """Rewrite config.json with the settings this resume runs with, and append to its
        ``resumes`` list the step it resumed at and what it changed."""
        stored = RunConfig.from_dict(rundir.read_config_dict(self.run_dir))
        self.cfg.resumes = list(stored.resumes) + [
            {
                "step": self.step,
                "changed": changed_settings(stored, self.cfg),
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
        ]
        write_json(self.run_dir / rundir.CONFIG, self.cfg.to_dict())

    def save(self) -> None:
        """A checkpoint (every rank takes part: RNGs and loader positions are gathered; rank 0 writes)."""
        state, loaders = gather_state(self.engine, self.loader.state(), self.world)
        if state is None:
            return
        try:
            checkpoint.save(
                self.run_dir,
                state["model"],
                state["optimizer"],
                state["rng"],
                {
                    "step": self.step,
                    "tokens": self.tokens,
                    "elapsed_s": self.elapsed,
                    "loader_rng": loaders[0],
                    "world_size": self.world.size,
                    "loader_ranks": loaders,
                    state_check.LOG_RECORDS: dict(self.log_counts),
                },
            )
        except DiskError as exc:
            raise self._disk_full(exc) from None

    def _disk_full(self, exc: DiskError) -> DiskError:
        """The sentence for a write the disk refused during training: the last checkpoint is intact."""
        needed = space.checkpoint_bytes(self._weight_bytes())
        return space.disk_message(exc, self.run_dir, needed, "a checkpoint", "run the same command with --resume")

    # ---- evaluation ----------------------------------------------------------------------
    def _eval_split(self) -> tuple[np.ndarray, str]:
        return (self.val_tokens, "val") if len(self.val_tokens) > self.seq_len else (self.train_tokens, "train")

    @property
    def eval_split(self) -> str:
        """The name of the split evaluations measure: "val", or "train" when there is no validation split."""
        return self.prepared.split if self.prepared is not None else self._eval_split()[1]

    def _eval_sums(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        if self.eot_id is None:
            return self.engine.eval_sums(x, y)
        return self.engine.eval_sums(x, y, document_segments(x, self.eot_id))

    def estimate_loss(self) -> float:
        """Mean loss on a fixed set of batches (the same ones at every evaluation)."""
        t = self.cfg.train
        if self.prepared is not None:
            return self.prepared.eval.evaluate(self.engine.eval_sums, t.eval_batches)["loss"]
        tokens, _ = self._eval_split()
        total, count = 0.0, 0
        share = self._rank_share()
        with task(f"{self.eval_split} estimate", t.eval_batches, enabled=self.progress_enabled) as bar:
            for x, y in fixed_batches(tokens, self.seq_len, t.batch_size, t.eval_batches, t.seed + 1):
                s, n = share(x, y)
                total, count = total + s, count + n
                bar.advance()
        total, count = share.reduce(total, count)
        return total / count

    def _rank_share(self) -> RankShare:
        """This rank's share of an evaluation's batches (all of them in one process, or under FSDP)."""
        return RankShare(self._eval_sums, self.world, lockstep=getattr(self.engine, "collective", False))

    def final_evaluation(self, stop: StopSignals | None = None) -> dict:
        """Every token of the validation split (of the training split when there is none; the
        prepared data's whole evaluation set), the loss named after the split it measured; with
        ``stop``, a SIGTERM cuts it short (``Terminated``)."""

        def guarded(sums):
            def checked(*batch):
                if stop is not None:
                    stop.raise_if_terminated()
                return sums(*batch)

            return checked

        if self.prepared is not None:
            result = named(self.prepared.split, self.prepared.eval.evaluate(guarded(self.engine.eval_sums)))
            reports = {name: ev.evaluate(guarded(self.engine.eval_sums)) for name, ev in self.prepared.reports.items()}
            return {**result, "splits": reports} if reports else result
        tokens, split = self._eval_split()
        share = self._rank_share()
        result = evaluate_tokens(
            guarded(share),
            tokens,
            self.seq_len,
            self.cfg.train.batch_size,
            token_byte_lengths(self.tokenizer),
            progress=self.progress_enabled,
            label=f"final {split} evaluation",
            reduce=share.reduce,
        )
        return named(split, result)

    # ---- the loop --------------------------------------------------------------------------
    def _log(self, record: dict, name: str = rundir.METRICS) -> None:
        if not self.world.is_main:
            return
        try:
            rundir.append_record(self.run_dir / name, record)
        except DiskError as exc:
            raise self._disk_full(exc) from None
        self.log_counts[name] += 1

    def run(self) -> TrainResult:
        """Train until ``max_steps``, the time budget, Ctrl-C, SIGTERM or SIGUSR1, then save,
        evaluate and sample (after SIGTERM/SIGUSR1: save and return; see ``stopping``).
        Torch and BLAS use ``train.threads`` threads during the run (0: chosen from the idle
        cores and adapted to contention, see ``glassgpt.threads``) and their earlier counts
        after it; the run directory's writer lock is released when it returns."""
        try:
            self.threads = plan_threads(threads_per_rank(self.cfg.train.threads, self.world, self.device()))
            self.throughput = Throughput.of(
                self.cfg, self.seq_len, self.world.size, getattr(self.engine, "speed", None), self.device()
            )
            with thread_scope(self.threads.threads), StopSignals(self.stop_agreement) as stop, self.world.guard():
                watch = OtherLoad(self.threads.watch) if self.threads.watch else None
                self.governor = (
                    ThreadGovernor(self.threads.threads, self.threads.most, others=watch)
                    if self.threads.adaptive
                    else None
                )
                if self.progress_enabled:
                    self.print_header()
                return self._run(stop)
        finally:
            self.close()

    def print_header(self) -> None:
        """The start-up header and the plan's warnings, on stderr (see ``training.header``)."""
        device = "cpu (NumPy)" if self.cfg.train.engine == "glass" else str(self.device())
        meta = corpora.meta(self.corpus) if self.corpus is not None else {}
        if self.prepared is None and self.corpus is None:
            meta = read_meta(self.run_dir / rundir.DATA_DIR)
        speed = getattr(self.engine, "speed", None)
        lines = header_lines(
            self.cfg,
            self.run_dir,
            meta,
            self.tokenizer,
            device,
            torch.get_num_threads(),
            self.step,
            self.resume,
            speed.dtype if speed else None,
            self.prepared.description if self.prepared is not None else "",
        )
        lines += scale_lines(self.cfg, self.world.size, parallel_mode(self.cfg, self.world), speed, self.throughput)
        for line in lines + plan_warnings(self.cfg, self.step):
            message(line)

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
            self._eval_sums(x, y)
            seconds.append(time.perf_counter() - start)
            size = int(y.size)
        ranks = self.world.size if self._rank_share().split else 1  # evaluations are split over the ranks
        self.eval_clock.record(size * ranks, sorted(seconds[1:])[1])
        n = min(t.sample_tokens, self.seq_len + 16)  # past the context, so the cropped regime is timed too
        if not n:
            return 0.0
        start = time.perf_counter()
        generate(
            self.engine.sampling_model(),
            default_prompt_ids(self.tokenizer),
            n,
            temperature=t.sample_temperature,
            seed=t.seed,
            max_context=self.seq_len,
        )
        return (time.perf_counter() - start) / n * t.sample_tokens * max(1, len(t.sample_prompts))

    def _run(self, stop: StopSignals) -> TrainResult:
        t = self.cfg.train
        decay_steps = t.decay_steps or t.max_steps
        start_time, session_start = time.perf_counter() - self.elapsed, time.perf_counter()
        last_log_time, last_log_tokens = time.perf_counter(), self.tokens
        stopped_by = "max_steps"
        self.eval_clock = EvalClock()
        final_tokens = len(self._eval_split()[0]) if self.prepared is None else 0
        eval_tokens = t.eval_batches * t.batch_size * self.seq_len
        sampling = self._calibrate() if t.time_budget and self.prepared is None else 0.0
        bar = Progress(t.max_steps, self.step, enabled=self.progress_enabled, time_budget=t.time_budget)
        try:
            while self.step < t.max_steps:
                step_start = time.perf_counter()
                position = self.step
                if t.schedule_clock == "time":  # the share of the training time this session can spend
                    horizon = t.time_budget - MARGIN * (self.eval_clock.predict(final_tokens) + sampling)
                    position = time_position(
                        self.step, t.warmup_steps, decay_steps, (step_start - session_start) / max(horizon, 1e-9)
                    )
                lr = learning_rate(
                    position, t.lr, t.warmup_steps, decay_steps, t.min_lr_ratio, t.schedule, t.decay_fraction
                )
                micro = split_micro_batches(*self.loader.next(t.batch_size * t.grad_accum), t.batch_size)
                # target positions, over every process
                tokens_per_step = sum(int(np.asarray(batch[1]).size) for batch in micro) * self.world.size
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
                stop_for_time = out_of_time(
                    now - session_start, t.time_budget, next_cost, self.eval_clock.predict(final_tokens) + sampling
                )
                # read once per step: the point where distributed ranks agree (the budget is rank 0's)
                reason = stop.check(stop_for_time)
                last = self.step == t.max_steps or reason is not None
                record = None
                if self.step % t.log_every == 0 or last:
                    speed = (self.tokens - last_log_tokens) / max(now - last_log_time, 1e-9)
                    record = {
                        "step": self.step,
                        "tokens": self.tokens,
                        "train_loss": loss,
                        "lr": lr,
                        "grad_norm": grad_norm,
                        "tokens_per_sec": speed,
                        **self.throughput.record(speed),
                        "elapsed_s": self.elapsed,
                    }
                    last_log_time, last_log_tokens = now, self.tokens
                if t.eval_every and self.step % t.eval_every == 0:
                    record = record or {"step": self.step, "tokens": self.tokens, "lr": lr, "elapsed_s": self.elapsed}
                    split = self.eval_split
                    key = "val_loss" if split != "train" else "train_eval_loss"  # no validation split: say so
                    record[key] = self._timed_estimate()
                    bar.note(f"step {self.step}: train {loss:.4f}  {split} (fixed batches) {record[key]:.4f}")
                if record:
                    self._log(record)
                if result.probe is not None:
                    self._log(result.probe.record(self.step, grad_norm), rundir.DIAGNOSTICS)
                bar.update(self.step, loss, tokens_per_step / max(now - step_start, 1e-9))
                if t.sample_every and self.step % t.sample_every == 0 and not last:
                    self._record_samples()  # their own generator: the training RNG is untouched
                if self.step % t.save_every == 0 and not last:
                    self.save()
                if reason is not None:
                    stopped_by = reason
                    break
        finally:
            bar.close()
        if self.progress_enabled:
            message(
                f"trained to step {self.step:,} in {duration(time.perf_counter() - session_start)} "
                f"({stopped_by.replace('_', ' ')})"
            )
        self.save()  # first: whatever comes after may be cut short
        final, samples = {}, []
        eval_start = time.perf_counter()
        predicted = self.eval_clock.predict(final_tokens)
        done = finished = eval_start
        try:  # after SIGTERM/SIGUSR1 the full evaluation and the samples are skipped
            stop.raise_if_terminated()
            final = self.final_evaluation(stop)
            done = time.perf_counter()
            stop.raise_if_terminated()
            samples = self._record_samples()
            finished = time.perf_counter()
        except Terminated:
            pass
        sample = samples[0] if samples else ""
        summary = {
            "steps": self.step,
            "tokens": self.tokens,
            "stopped_by": stopped_by,
            "elapsed_s": self.elapsed,
            "final": final,
            "sample": sample,
            "samples": samples,
            "budget": {
                "time_budget_s": t.time_budget,
                "training_s": eval_start - session_start,
                "final_eval_s": done - eval_start,
                "predicted_final_eval_s": predicted,
                "with_final_eval_s": done - session_start,
                "predicted_samples_s": sampling,
                "samples_s": finished - done,
                "with_samples_s": finished - session_start,
                "started_unix": time.time() - (finished - session_start),
            },
            "threads": {
                "plan": self.threads.reason,
                "start": self.threads.threads,
                "end": self.governor.current if self.governor else self.threads.threads,
                "changes": self.governor.changes if self.governor else [],
            },
        }
        try:
            if self.world.is_main:
                write_json(self.run_dir / rundir.SUMMARY, summary)
        except DiskError as exc:
            raise self._disk_full(exc) from None
        return TrainResult(self.run_dir, self.step, stopped_by, final, sample, samples, self.world.rank)

    def sample_texts(self) -> list[str]:
        """One sample per ``train.sample_prompts`` entry (or one from a neutral start), each
        the prompt followed by its continuation, drawn with a generator seeded from the run's seed."""
        t = self.cfg.train
        model = self.engine.sampling_model()  # under FSDP every rank gathers the weights
        if not self.world.is_main:
            return []
        if self.prepared is not None and self.prepared.sample is not None:
            return self.prepared.sample(model, t.seed)
        starts = [self.tokenizer.encode(p) for p in t.sample_prompts] or [default_prompt_ids(self.tokenizer)]
        with task("sampling", len(starts) * t.sample_tokens, enabled=self.progress_enabled) as bar:
            return [
                self.tokenizer.decode(
                    ids
                    + generate(
                        model,
                        ids,
                        t.sample_tokens,
                        temperature=t.sample_temperature,
                        seed=t.seed + i,
                        max_context=self.seq_len,
                        on_token=bar.advance,
                    )[0]
                )
                for i, ids in enumerate(starts)
            ]

    def _record_samples(self) -> list[str]:
        texts = self.sample_texts()
        prompts = self.cfg.train.sample_prompts if self.prepared is None or self.prepared.sample is None else []
        prompts = prompts or [""] * len(texts)
        for prompt, text in zip(prompts, texts):
            self._log({"step": self.step, "prompt": prompt, "text": text}, rundir.SAMPLES)
        return texts


def train(
    out: str | Path,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict | list | None = None,
    config: RunConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    text: str | None = None,
    accept_truncated_logs: bool = False,
) -> TrainResult:
    """Train a model into the run directory ``out`` and return its result.

    New run: the configuration is ``config`` or is resolved from ``preset``, ``config_file``
    and ``overrides`` ({"train.lr": 3e-4, ...} or ["train.lr=3e-4", ...]).  ``text``
    replaces the configured corpus.  Resume: the stored configuration with ``overrides``
    (training settings such as ``train.max_steps`` only); ``accept_truncated_logs`` resumes
    even when a step log lost records.  Another process writing ``out`` raises
    ``rundir.lock.RunInUseError``.  A word-list configuration (``data.kind = "words"``: the
    makemore ladder) reads its words and trains on them through ``PreparedData``
    (``training.words``)."""
    out = Path(out)
    with session() as world:  # under torchrun: this process joins the others (rank 0 leads)
        if not world.is_main:
            return Trainer(None, out, resume=resume, overwrite=overwrite, progress=progress, text=text).run()
        try:
            cfg = _resolve_config(out, preset, config_file, overrides, config, resume)
            prepared = _prepare_words(cfg, out, resume, progress, text)
        except BaseException as exc:
            announce_failure(world, exc)
            raise
        return Trainer(
            cfg,
            out,
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            text=text,
            prepared=prepared,
            accept_truncated_logs=accept_truncated_logs,
        ).run()


def _resolve_config(out: Path, preset, config_file, overrides, config, resume: bool) -> RunConfig:
    if resume:
        if preset or config_file or config:
            raise ConfigError("--resume continues the stored configuration; use --set to change training settings.")
        rundir.require_resumable(out)
        items = overrides if isinstance(overrides, dict) else dict(parse_override(o) for o in overrides or [])
        cfg = resume_config(out, items)
    else:
        cfg = config if config is not None else resolve(preset, config_file, overrides)
    return cfg


def _prepare_words(cfg: RunConfig, out: Path, resume: bool, progress: bool, text: str | None) -> PreparedData | None:
    """A word list (``data.kind = "words"``: the makemore ladder's data) read and split for the
    trainer's prepared seam; None for text."""
    if cfg.data.kind != "words":
        return None
    if text is not None:
        raise ConfigError("a word-list run reads its words from --data FILE or --corpus; it takes no text.")
    with task("reading the word list", enabled=progress):
        prepared = prepared_words(cfg, out, resume)
    for note in prepared.notes if not resume else []:  # shown even in a quiet run
        print(f"note: {note}", file=sys.stderr)
    return prepared
