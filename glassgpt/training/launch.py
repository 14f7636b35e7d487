"""Starting a run: everything between a command line and the training loop, in one order.

A new run::

    cfg    = resolve(preset, config file, overrides)        # validated, frozen
    source = open_source(cfg)                               # reads and encodes the data
    cfg    = validate(derive(cfg, source.facts()))          # vocabulary size, grad accumulation ...
    engine = make_engine(cfg)                               # weights drawn from train.seed
    writer = RunWriter.create(out, ...)                     # the run directory, config.json last

A resumed run: the stored configuration with the command line's settings (``config.resume``),
its own data again (``reopen_source``), the checkpoint checked (``state_check``) and restored,
and ``config.json`` rewritten with one more record in ``resumes``.  Everything that can fail
on bad input fails before the run directory is touched, so bad input never costs a run.

Under torchrun rank 0 does all of that and sends the others what they need
(``parallel.ranks``: the configuration, the tokenizer, the token arrays of a text run, the
restored state); they never touch the run directory.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from glassgpt.config import RunConfig, derive, resolve, resume, validate
from glassgpt.config.resolve import Overrides, load_run_config
from glassgpt.config.validate import parallel_mode
from glassgpt.data.open import open_source, reopen_source, same_data, shared_source
from glassgpt.data.source import DataSource
from glassgpt.device import pick_device
from glassgpt.errors import ConfigError, RunDirError
from glassgpt.fileio import write_json
from glassgpt.models.footprint import inference_bytes, parameter_count, require_fits, training_bytes
from glassgpt.parallel.ranks import announce_failure, follow, lead, rank_loader, rank_rng
from glassgpt.parallel.world import World, current, session
from glassgpt.progress import task
from glassgpt.rundir import checkpoint, kinds, space
from glassgpt.rundir.layout import CONFIG, DATA_DIR, TOKENIZER
from glassgpt.rundir.records import truncate_logs
from glassgpt.rundir.writer import RunWriter
from glassgpt.threads import training_threads
from glassgpt.tokenizers import from_dict as tokenizer_from_dict
from glassgpt.tokenizers import load as load_tokenizer
from glassgpt.training import state_check
from glassgpt.training.callbacks import Listener
from glassgpt.training.engines import Engine, make_engine
from glassgpt.training.result import Start, TrainResult
from glassgpt.training.trainer import Trainer


def train(
    out: str | Path,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Overrides = None,
    config: RunConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    text: str | None = None,
    accept_truncated_logs: bool = False,
    callbacks: Sequence[Listener] = (),
) -> TrainResult:
    """Train a model into the run directory ``out`` and return its result.

    New run: the configuration is ``config`` or is resolved from ``preset``, ``config_file``
    and ``overrides`` ({"train.lr": 3e-4, ...} or ["train.lr=3e-4", ...]); ``text`` replaces
    the configured text.  Resume: the stored configuration with the settings given
    (``config.resume``: equal ones change nothing, training settings may change, a model or
    data setting that differs is refused); ``accept_truncated_logs`` resumes even when a step
    log lost records.  Another process writing ``out`` raises ``rundir.lock.RunInUseError``.
    ``callbacks`` (``training.callbacks``: objects, or functions of a metrics record) hear of
    the run's start, every metrics record, the samples and the end."""
    with session() as world:  # under torchrun: this process joins the others (rank 0 leads)
        trainer = build_trainer(
            out,
            preset,
            config_file,
            overrides,
            config,
            resume=resume,
            overwrite=overwrite,
            progress=progress,
            text=text,
            accept_truncated_logs=accept_truncated_logs,
            callbacks=callbacks,
            world=world,
        )
        return trainer.run()


def build_trainer(
    out: str | Path,
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Overrides = None,
    config: RunConfig | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    text: str | None = None,
    accept_truncated_logs: bool = False,
    source: DataSource | None = None,
    weights: Mapping[str, torch.Tensor] | None = None,
    callbacks: Sequence[Listener] = (),
    world: World | None = None,
) -> Trainer:
    """The ``Trainer`` of a new or resumed run, ready to ``run()`` (see ``train``).  ``source``:
    data the caller opened (a fine-tune's conversations); ``weights``: a new run's starting
    weights (None: drawn from ``train.seed``)."""
    out, world = Path(out), world or current()
    if not world.is_main:
        return _follow(world, progress, callbacks)
    try:
        if resume:
            if config is not None or source is not None or weights is not None:
                raise ConfigError("--resume continues the stored configuration; give changes with --set.")
            trainer = _resumed(out, preset, config_file, overrides, world, progress, accept_truncated_logs)
        else:
            cfg = config if config is not None else resolve(preset, config_file, overrides)
            trainer = _new(out, cfg, world, progress, text, overwrite, source, weights)
    except BaseException as exc:
        announce_failure(world, exc)  # the other ranks are waiting for the setup
        raise
    trainer.listen(callbacks)
    if world.active:
        _lead(trainer)
    _distribute(trainer)
    return trainer


def _device(cfg: RunConfig) -> torch.device:
    return pick_device(cfg.train.device) if cfg.train.engine == "torch" else torch.device("cpu")


def require_memory(cfg: RunConfig) -> None:
    """Refuse a model, batch or sample length that cannot fit in memory, before allocating it."""
    m, t, device = cfg.model, cfg.train, _device(cfg)
    require_fits(
        training_bytes(cfg, cfg.seq_len)["total"],
        device,
        f"training this model ({parameter_count(m):,} parameters, batches of {t.batch_size:,}×{cfg.seq_len:,} tokens)",
        "use a smaller model (model.n_layer, model.n_embd, model.d_ff) or batch (train.batch_size)",
    )
    samples = max(1, len(t.sample_prompts))
    require_fits(
        inference_bytes(m, samples, cfg.seq_len, t.sample_tokens),
        device,
        f"sampling {samples} × {t.sample_tokens:,} tokens at the end of the run",
        "use a smaller train.sample_tokens",
    )


def _weight_bytes(engine: Engine) -> int:
    return sum(t.numel() * t.element_size() for t in engine.state_dict()["model"].values())


def _attach(source: DataSource, engine: Engine) -> None:
    """A source that samples from the model being trained (RL's rollouts) is given the engine's model."""
    attach = getattr(source, "attach", None)
    if attach is not None:
        attach(engine.sampling_model)


def _new(
    out: Path,
    cfg: RunConfig,
    world: World,
    progress: bool,
    text: str | None,
    overwrite: bool,
    source: DataSource | None,
    weights: Mapping[str, torch.Tensor] | None,
) -> Trainer:
    """A new run: data, derived configuration, engine, then the run directory (absent or complete)."""
    parallel_mode(cfg, world.size)
    with task("preparing data", enabled=progress):
        source = source or open_source(cfg, text)
        cfg = validate(derive(cfg, source.facts(), world.size, cores=training_threads(world.local_size)))
        require_memory(cfg)
    engine = make_engine(cfg)
    if weights is not None:
        engine.load_state_dict({"model": dict(weights)})
    _attach(source, engine)

    def write(path: Path) -> None:
        source.tokenizer.save(path / TOKENIZER)
        source.save(path / DATA_DIR)
        write_json(path / CONFIG, cfg.to_dict())  # last: the run is complete

    writer = RunWriter.create(out, write, source.data_bytes(), _weight_bytes(engine), overwrite)
    for note in source.notes:  # shown even in a quiet run
        print(f"note: {note}", file=sys.stderr)
    batches = source.batches(cfg.train.seed, world.rank, world.size)
    return Trainer(cfg, source, engine, batches, writer, world, Start(), progress)


def _resumed(
    out: Path,
    preset: str | None,
    config_file: str | Path | None,
    overrides: Overrides,
    world: World,
    progress: bool,
    accept_truncated_logs: bool,
) -> Trainer:
    """A resumed run: its settings, its data, its checkpoint restored."""
    if (out / CONFIG).is_file():
        kinds.require(out, "train --resume")
    stored = load_run_config(out, resuming=True)
    cfg = resume(stored, str(out), preset, config_file, overrides, same_data(out))
    step = checkpoint.saved_step(out)
    if step is not None and step >= cfg.train.max_steps:
        raise ConfigError(
            f"{out} is already at step {step:,} and train.max_steps is {cfg.train.max_steps:,}; pass a larger "
            "--max-steps to train further."
        )
    parallel_mode(cfg, world.size)
    writer = RunWriter.reopen(out)  # before anything is read or changed
    try:
        tokenizer = load_tokenizer(out / TOKENIZER)
        require_memory(cfg)
        weights, optim, rng, state = checkpoint.load(out)
        source = reopen_source(cfg, out, tokenizer)
        facts = source.facts()
        cores = training_threads(world.local_size)
        cfg = validate(derive(cfg, facts, world.size, stored=stored, resumed_at=state.get("step", 0), cores=cores))
        engine = make_engine(cfg)
        _attach(source, engine)
        writer.weight_bytes = _weight_bytes(engine)
        space.require_room(out, space.resume_bytes(writer.weight_bytes), "a checkpoint", "run the same command again")
        batches = source.batches(cfg.train.seed, world.rank, world.size)
        start = _restore(out, engine, batches, writer, (weights, optim, rng, state), accept_truncated_logs)
        writer.write_config(cfg.to_dict())
    except BaseException:
        writer.close()
        raise
    trainer = Trainer(cfg, source, engine, batches, writer, world, start, progress)
    trainer.restored = (state, rng)
    return trainer


def _restore(
    out: Path,
    engine: Engine,
    batches: Any,
    writer: RunWriter,
    saved: tuple[dict, dict, dict, dict],
    accept_truncated_logs: bool,
) -> Start:
    """Check the checkpoint against what this run's engine holds, then load it."""
    weights, optim, rng, state = saved
    problems = state_check.problems(state_check.expected_state(engine), weights, optim, rng, state)
    if problems:
        raise RunDirError(
            f"cannot resume {out}: its checkpoint does not fit this run. "
            + " ".join(problems)
            + " Restore state/ from a backup, or start again with --overwrite."
        )
    lost = state_check.lost_records(out, state)
    if lost:
        text = "; ".join(lost)
        if not accept_truncated_logs:
            raise RunDirError(
                f"the logs of {out} lost records ({text}); pass --accept-truncated-logs "
                "to resume anyway (the lost records stay lost)."
            )
        print(f"note: resuming although the logs lost records ({text}).", file=sys.stderr)
    try:
        engine.load_state_dict({"model": weights, "optimizer": optim, "rng": rng})
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:  # what the schema cannot see
        raise RunDirError(
            f"cannot resume {out}: its checkpoint could not be loaded ({exc}); "
            "restore state/ from a backup, or start again with --overwrite."
        ) from None
    batches.set_state(state["loader_rng"])
    truncate_logs(out, state["step"])
    writer.log_counts = state_check.count_records(out, state["step"])
    return Start(state["step"], state["tokens"], state["elapsed_s"], resumed=True)


# ---- several processes: rank 0 leads, the others follow (see ``parallel.ranks``) ------------
def _lead(trainer: Trainer) -> None:
    """Rank 0: send the others the configuration, tokenizer, data and restored state."""
    state, rng = trainer.restored or (None, None)
    setup = {
        "config": trainer.cfg.to_dict(),
        "run_dir": str(trainer.writer.path),
        "tokenizer": trainer.source.tokenizer.to_dict(),
        "meta": getattr(trainer.source, "meta", {}),
        "trainer": state,
        "start": [trainer.step, trainer.tokens, trainer.elapsed, trainer.resumed],
    }
    tensors = None
    if state is not None:
        engine_state = trainer.engine.state_dict()
        tensors = [engine_state["model"], engine_state["optimizer"], rng]
    lead(trainer.world, setup, trainer.source.shared(), tensors)


def _follow(world: World, progress: bool, callbacks: Sequence[Listener]) -> Trainer:
    """Ranks 1…N-1: receive rank 0's setup, open this rank's share of the data, load the state."""
    setup, arrays, tensors = follow(world)
    cfg = RunConfig.from_dict(setup["config"])
    tokenizer = tokenizer_from_dict(setup["tokenizer"])
    source = shared_source(cfg, tokenizer, arrays, setup["meta"])
    engine = make_engine(cfg)
    batches = source.batches(cfg.train.seed, world.rank, world.size)
    rng = {}
    if setup["trainer"] is not None:
        model, optimizer, saved_rng = tensors
        rng = rank_rng(saved_rng, world.rank)
        engine.load_state_dict({"model": model, "optimizer": optimizer})
        batches.set_state(rank_loader(setup["trainer"], world.rank))
    if rng:
        engine.rng.load_state(rng)
    else:  # a rank the checkpoint has no stream for (or a new run): its own from seed + rank
        engine.reseed(cfg.train.seed + world.rank)
    step, tokens, elapsed, resumed = setup["start"]
    writer = RunWriter.silent(setup["run_dir"])
    trainer = Trainer(cfg, source, engine, batches, writer, world, Start(step, tokens, elapsed, resumed), progress)
    trainer.listen(callbacks)
    _distribute(trainer)
    return trainer


def _distribute(trainer: Trainer) -> None:
    """Every rank at once: wrap the engine for DDP/FSDP."""
    if trainer.mode != "none":
        trainer.engine.distribute(trainer.world, trainer.mode)


__all__ = ["TrainResult", "build_trainer", "require_memory", "train"]
