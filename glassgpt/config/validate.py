"""Validation: every setting of a run checked in one place, one sentence per problem.

``validate(cfg)`` refuses impossible values and combinations, before anything is read or
written; the pipeline runs it on the resolved configuration and again on the derived one
(``derive`` fills in the vocabulary size, the gradient accumulation ...).
``parallel_mode`` checks the configuration against the processes torchrun started.
"""

from __future__ import annotations

import dataclasses
import math

from glassgpt.config.schema import INT_MAX, SECTIONS, SEED_MAX, ModelConfig, RunConfig, TrainConfig
from glassgpt.errors import ConfigError
from glassgpt.makemore.presets import ARCHS, GLASS_ARCHS, HIDDEN_INITS
from glassgpt.threads import check_thread_count

ACTIVATIONS = ("gelu", "relu", "relu2")
SCHEDULES = ("cosine", "linear", "constant", "wsd", "step")
OPTIMIZERS = ("adamw", "muon", "sgd")
PARALLEL = ("auto", "none", "ddp", "fsdp")
#: data.kind: a text (split by a fraction of its tokens), a word list (split 80/10/10 by words),
#: a prepared corpus (shards, split when prepared), conversations (fine-tuning), preference
#: pairs (a reward model, DPO) or prompts (RL's rollouts)
DATA_KINDS = ("text", "words", "corpus", "conversations", "pairs", "prompts")
#: train.objective -> the data.kind it trains on (the language-model loss reads any but pairs and prompts)
OBJECTIVES = {"lm": None, "reward": "pairs", "dpo": "pairs", "pg": "prompts"}
#: model.lora_targets: the attention's query, key, value and output projections, the MLP's two linears
LORA_TARGETS = ("q", "k", "v", "o", "fc", "proj")
#: the most GPTs an ensemble trains side by side
MAX_ENSEMBLE = 16


def validate(cfg: RunConfig) -> RunConfig:
    """Refuse impossible settings with one sentence each; returns ``cfg`` unchanged."""
    m, d, t = cfg.model, cfg.data, cfg.train
    check_seed(t.seed, "train.seed")
    _check_types(cfg)
    positive = {
        "model.block_size": m.block_size,
        "model.n_layer": m.n_layer,
        "model.n_head": m.n_head,
        "model.n_embd": m.n_embd,
        "train.batch_size": t.batch_size,
        "train.grad_accum": t.grad_accum,
        "train.max_steps": t.max_steps,
        "train.eval_batches": t.eval_batches,
        "train.log_every": t.log_every,
        "train.save_every": t.save_every,
    }
    for key, v in positive.items():
        if v <= 0:
            raise ConfigError(f"{key} must be positive, got {v}.")
    nonneg: dict[str, float] = {
        "model.d_ff": m.d_ff,
        "train.seq_len": t.seq_len,
        "train.warmup_steps": t.warmup_steps,
        "train.decay_steps": t.decay_steps,
        "train.eval_every": t.eval_every,
        "train.time_budget": t.time_budget,
        "train.weight_decay": t.weight_decay,
        "train.grad_clip": t.grad_clip,
        "train.sample_every": t.sample_every,
        "train.diagnostics_every": t.diagnostics_every,
        "data.vocab_size": d.vocab_size,
        "train.threads": t.threads,
        "train.sample_tokens": t.sample_tokens,
        "train.sample_temperature": t.sample_temperature,
    }
    for key, number in nonneg.items():
        if number < 0:
            raise ConfigError(f"{key} must not be negative, got {number}.")
    check_seed(d.split_seed, "data.split_seed")
    check_thread_count(t.threads)
    if t.adaptive_threads and t.threads:
        raise ConfigError(
            f"--threads adaptive chooses the count from the machine's load, so it cannot also be {t.threads}; "
            "give one of them (train.adaptive_threads=true with train.threads=0)."
        )
    _validate_ladder(cfg)  # model.arch, data.kind and what the ladder's models need
    if m.arch == "gpt":
        if m.n_embd % m.n_head:
            raise ConfigError(f"model.n_head ({m.n_head}) must divide model.n_embd ({m.n_embd}).")
        if not 0.0 <= m.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {m.dropout}.")
        if not (m.attn_dropout == -1.0 or 0.0 <= m.attn_dropout < 1.0):
            raise ConfigError(f"model.attn_dropout must be in [0, 1), or -1 for model.dropout, got {m.attn_dropout}.")
        if m.activation not in ACTIVATIONS:
            raise ConfigError(f"model.activation must be {', '.join(ACTIVATIONS)}, got {m.activation!r}.")
        validate_architecture(m)
    validate_ensemble(cfg)
    validate_stages(cfg)
    if not (t.lr > 0 and math.isfinite(t.lr)):
        raise ConfigError(f"train.lr must be a positive number, got {t.lr}.")
    if not 0.0 <= t.min_lr_ratio <= 1.0:
        raise ConfigError(f"train.min_lr_ratio must be in [0, 1], got {t.min_lr_ratio}.")
    for key, beta in (("train.beta1", t.beta1), ("train.beta2", t.beta2)):
        if not 0.0 <= beta < 1.0:
            raise ConfigError(f"{key} must be in [0, 1), got {beta}.")
    if t.eps <= 0:
        raise ConfigError(f"train.eps must be positive, got {t.eps}.")

    if t.seq_len > m.block_size:
        raise ConfigError(f"train.seq_len ({t.seq_len}) cannot exceed model.block_size ({m.block_size}).")
    if t.schedule not in SCHEDULES:
        raise ConfigError(f"train.schedule must be {', '.join(SCHEDULES)}, got {t.schedule!r}.")
    validate_optimizer(t)
    if t.device not in ("auto", "cpu", "cuda", "mps") and not t.device.startswith("cuda:"):
        raise ConfigError(f"train.device must be auto, cpu, cuda or mps, got {t.device!r}.")
    if t.dtype not in ("float32", "bfloat16"):
        raise ConfigError(f"train.dtype must be float32 or bfloat16, got {t.dtype!r}.")
    if t.engine not in ("torch", "glass"):
        raise ConfigError(f"train.engine must be torch or glass, got {t.engine!r}.")
    validate_scale(cfg)
    refusal = glass_refusal(cfg)  # first: what the glass engine cannot compute at all
    if refusal:
        raise ConfigError(refusal)
    if t.engine == "glass" and (t.dtype != "float32" or t.device not in ("auto", "cpu") or t.compile):
        raise ConfigError(
            "the glass engine runs in float32 NumPy on the CPU; drop --dtype, --device and --compile "
            "or use --engine torch."
        )
    if not 0.0 <= d.val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {d.val_fraction}.")
    if t.doc_mask and d.kind != "words" and not (d.files or d.jsonl_field):
        raise ConfigError("train.doc_mask needs packed documents: give --data with several files or --jsonl-field.")
    if t.doc_mask and t.engine != "torch":
        raise ConfigError("train.doc_mask needs the torch engine; the glass engine has no document masking.")
    if m.arch == "gpt" and m.tie_weights and m.head_bias:
        raise ConfigError("model.head_bias needs an untied head; set model.tie_weights=false.")
    if m.pad_vocab_to < 0:
        raise ConfigError(f"model.pad_vocab_to must not be negative, got {m.pad_vocab_to}.")
    if d.overflow not in ("error", "truncate"):
        raise ConfigError(f"data.overflow (--overflow) must be error or truncate, not {d.overflow!r}.")
    if d.vocab_size and d.tokenizer != "bpe":
        raise ConfigError(
            f"data.vocab_size (--vocab-size) sizes a BPE tokenizer trained for the run; the {d.tokenizer} "
            "tokenizer's vocabulary comes from its own definition, so drop it."
        )
    return cfg


def _check_types(cfg: RunConfig) -> None:
    """Every number is finite and every whole number within ``INT_MAX``; names the key and value."""
    for section in SECTIONS:
        part = getattr(cfg, section)
        for f in dataclasses.fields(part):
            v, key = getattr(part, f.name), f"{section}.{f.name}"
            if isinstance(v, float) and not math.isfinite(v):
                hint = " (0 means no limit)" if key == "train.time_budget" else ""
                raise ConfigError(f"{key} must be a finite number{hint}, got {v}.")
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > INT_MAX:
                raise ConfigError(f"{key} is too large ({v:.3g}); it must be at most {INT_MAX:,}.")


def check_seed(seed: int | None, name: str = "--seed") -> None:
    """Refuse a seed outside 0..SEED_MAX (None: no seed, allowed)."""
    if seed is not None and not (isinstance(seed, int) and 0 <= seed <= SEED_MAX):
        raise ConfigError(f"{name} must be a whole number from 0 to {SEED_MAX}, got {seed}.")


def validate_architecture(m: ModelConfig) -> None:
    """The options beyond GPT-2: known names and usable values."""
    if m.pos not in ("learned", "rope"):
        raise ConfigError(f"model.pos must be learned or rope, got {m.pos!r}.")
    if m.pos == "rope" and (m.n_embd // m.n_head) % 2:
        raise ConfigError(
            f"rotary embeddings rotate pairs of channels, so the head size n_embd/n_head "
            f"({m.n_embd // m.n_head}) must be even."
        )
    if not (m.rope_base > 1 and math.isfinite(m.rope_base)):
        raise ConfigError(f"model.rope_base must be a number above 1, got {m.rope_base}.")
    if m.norm not in ("layernorm", "rmsnorm"):
        raise ConfigError(f"model.norm must be layernorm or rmsnorm, got {m.norm!r}.")
    if not (m.logit_softcap >= 0 and math.isfinite(m.logit_softcap)):
        raise ConfigError(f"model.logit_softcap must be 0 (off) or a positive number, got {m.logit_softcap}.")


def validate_ensemble(cfg: RunConfig) -> None:
    """``model.ensemble``: a count of GPTs, and none of the features that look inside one GPT."""
    m, t = cfg.model, cfg.train
    if not 1 <= m.ensemble <= MAX_ENSEMBLE:
        raise ConfigError(
            f"model.ensemble must be a whole number from 1 to {MAX_ENSEMBLE} (GPTs trained side "
            f"by side), got {m.ensemble}."
        )
    if m.ensemble == 1:
        return
    if m.arch != "gpt":
        raise ConfigError(f"model.ensemble trains several GPTs; the {m.arch} model is one model, so leave it at 1.")
    if t.diagnostics_every:
        raise ConfigError(
            "the diagnostics watch the layers of one GPT; drop --diagnostics-every for an "
            "ensemble, or train its members one at a time."
        )
    if t.parallel == "fsdp":
        raise ConfigError("FSDP shards the blocks of one GPT; train an ensemble with train.parallel=ddp or none.")


def validate_stages(cfg: RunConfig) -> None:
    """The stages after fine-tuning: the objective and its data, its numbers, the reward head, LoRA."""
    m, d, t = cfg.model, cfg.data, cfg.train
    if t.objective not in OBJECTIVES:
        raise ConfigError(f"train.objective must be {', '.join(OBJECTIVES)}, got {t.objective!r}.")
    wants = OBJECTIVES[t.objective]
    if wants is not None and d.kind != wants or wants is None and d.kind in ("pairs", "prompts"):
        raise ConfigError(
            f"train.objective={t.objective} does not train on data.kind={d.kind}; a reward model and DPO read "
            "pairs (`glassgpt reward`, `glassgpt dpo`), RL reads prompts (`glassgpt rl`)."
        )
    if m.reward_head != (t.objective == "reward"):
        raise ConfigError("a reward model (model.reward_head) trains with train.objective=reward, and only it does.")
    for key, value in (("train.dpo_beta", t.dpo_beta), ("train.kl_beta", t.kl_beta)):
        if not value >= 0:  # NaN too
            raise ConfigError(f"{key} (β) must be 0 or more, got {value}.")
    if not t.dpo_nll >= 0:  # NaN too
        raise ConfigError(f"train.dpo_nll (α) must be 0 or more, got {t.dpo_nll}.")
    if t.objective == "pg" and t.group_size < 2:
        raise ConfigError(
            f"train.group_size (G) must be at least 2, got {t.group_size}: each completion's advantage is its "
            "reward minus the mean of its group."
        )
    if t.objective == "pg" and t.batch_size % t.group_size:
        raise ConfigError(
            f"train.batch_size ({t.batch_size}) must be a multiple of train.group_size ({t.group_size}): "
            "a step's rows are prompts × G completions."
        )
    if t.rollout_tokens < 1 or t.ppo_epochs < 1:
        raise ConfigError(
            f"train.rollout_tokens and train.ppo_epochs must be at least 1, got {t.rollout_tokens} and {t.ppo_epochs}."
        )
    if not (t.rollout_temperature > 0 and 0 <= t.ppo_clip < 1):
        raise ConfigError(
            f"train.rollout_temperature must be positive and train.ppo_clip in [0, 1), got "
            f"{t.rollout_temperature} and {t.ppo_clip}."
        )
    if not 0 <= m.lora_rank <= m.n_embd:
        raise ConfigError(
            f"model.lora_rank (--lora) must be from 1 to the width model.n_embd ({m.n_embd}), or 0 for no adapters; "
            f"got {m.lora_rank}."
        )
    if m.lora_rank and (not m.lora_alpha > 0 or not m.lora_targets or set(m.lora_targets) - set(LORA_TARGETS)):
        raise ConfigError(
            f"LoRA needs model.lora_alpha > 0 and model.lora_targets among {', '.join(LORA_TARGETS)}; got "
            f"{m.lora_alpha} and {'|'.join(m.lora_targets) or 'none'}."
        )
    if m.lora_rows < 0 or (m.lora_rows and not m.lora_rank) or (m.vocab_size and m.lora_rows > m.vocab_size):
        raise ConfigError(
            f"model.lora_rows (the added tokens' rows that LoRA trains) must be from 0 to model.vocab_size "
            f"({m.vocab_size}), and needs model.lora_rank; got {m.lora_rows}."
        )
    if (m.lora_rank or m.reward_head) and (m.arch != "gpt" or m.ensemble > 1):
        raise ConfigError("LoRA adapters and a reward head go on one GPT; drop them for an ensemble or a ladder model.")
    if m.lora_rank and m.reward_head:
        raise ConfigError("a reward model trains all its weights; drop --lora for `glassgpt reward`.")


def glass_refusal(cfg: RunConfig) -> str:
    """The one sentence refusing a setting the glass engine does not implement ("" if none).

    The glass engine supports RMSNorm, ReLU², logit soft-capping, zero-initialised
    projections, bias-free layers, every schedule and the per-group learning rates; rotary
    embeddings and QK-norm would need new hand-written attention backward passes, and its
    optimizer is AdamW only, so those and Muon are torch-only."""
    if cfg.train.engine != "glass" or cfg.model.arch != "gpt":  # the ladder's engines: _validate_ladder
        return ""
    optimizer = [
        ("train.optimizer=muon", cfg.train.optimizer == "muon"),
        ("train.optimizer=sgd", cfg.train.optimizer == "sgd"),
    ]
    objective = [(f"train.objective={cfg.train.objective}", cfg.train.objective != "lm")]
    missing = glass_missing(cfg.model) + [k for k, on in optimizer + objective if on]
    if missing:
        return (
            f"the glass engine has no hand-written gradients for {' or '.join(missing)}; use --engine torch for them."
        )
    return ""


def glass_missing(m: ModelConfig) -> list[str]:
    """The settings of a GPT the glass engine's hand-written gradients do not cover."""
    features = (
        ("model.lora_rank (LoRA adapters)", m.lora_rank > 0),
        ("model.reward_head", m.reward_head),
        ("model.pos=rope", m.pos == "rope"),
        ("model.qk_norm", m.qk_norm),
        ("model.attn_dropout", m.attention_dropout != m.dropout),
        ("model.ensemble", m.ensemble > 1),
    )
    return [k for k, on in features if on]


def validate_optimizer(t: TrainConfig) -> None:
    """The optimizer options: known names and usable values."""
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train.optimizer must be {', '.join(OPTIMIZERS)}, got {t.optimizer!r}.")
    for key in ("lr_embed", "lr_head", "lr_matrix", "lr_scalar"):
        v = getattr(t, key)
        if not (v >= 0 and math.isfinite(v)):
            raise ConfigError(f"train.{key} must be 0 (= train.lr) or a positive number, got {v}.")
    if not 0.0 <= t.muon_momentum < 1.0:
        raise ConfigError(f"train.muon_momentum must be in [0, 1), got {t.muon_momentum}.")
    if not 0.0 <= t.momentum < 1.0:
        raise ConfigError(f"train.momentum must be in [0, 1), got {t.momentum}.")
    if not 1 <= t.muon_ns_steps <= 20:
        raise ConfigError(f"train.muon_ns_steps must be between 1 and 20, got {t.muon_ns_steps}.")
    if t.muon_scale not in ("adamw", "aspect"):
        raise ConfigError(f"train.muon_scale must be adamw or aspect, got {t.muon_scale!r}.")
    if t.schedule_clock not in ("steps", "time"):
        raise ConfigError(f"train.schedule_clock must be steps or time, got {t.schedule_clock!r}.")
    if t.schedule_clock == "time" and not t.time_budget:
        raise ConfigError("train.schedule_clock=time follows the time budget; set --time-budget too.")
    if not 0.0 < t.decay_fraction <= 1.0:
        raise ConfigError(f"train.decay_fraction must be in (0, 1], got {t.decay_fraction}.")


def validate_scale(cfg: RunConfig) -> None:
    """Settings for scaling out: tokens per step, data parallelism, the GPU switches."""
    t = cfg.train
    if t.tokens_per_step < 0:
        raise ConfigError(f"train.tokens_per_step must not be negative, got {t.tokens_per_step}.")
    if not (t.peak_flops >= 0 and math.isfinite(t.peak_flops)):
        raise ConfigError(
            f"train.peak_flops must be 0 (from the table of known GPUs) or a positive number, got {t.peak_flops}."
        )
    if t.parallel not in PARALLEL:
        raise ConfigError(f"train.parallel must be {', '.join(PARALLEL)}, got {t.parallel!r}.")
    if t.parallel in ("ddp", "fsdp") and t.engine != "torch":
        raise ConfigError(f"train.parallel={t.parallel} needs the torch engine; the glass engine runs in one process.")
    if t.parallel == "fsdp" and t.optimizer == "muon":
        raise ConfigError(
            "Muon orthogonalises whole matrices, which FSDP splits across processes; use "
            "train.optimizer=adamw with train.parallel=fsdp, or train.parallel=ddp."
        )
    if t.parallel == "fsdp" and t.diagnostics_every:
        raise ConfigError(
            "diagnostics read whole gradients, which FSDP splits across processes; drop "
            "--diagnostics-every or use train.parallel=ddp."
        )


def _fail(text: str) -> None:
    raise ConfigError(text)


def _validate_ladder(cfg: RunConfig) -> None:
    """Refuse, one sentence each, a ``model.arch`` / ``data.kind`` combination or a ladder
    setting that cannot work (the GPT's own settings are checked by ``validate``)."""
    m, d, t = cfg.model, cfg.data, cfg.train
    if m.arch not in ARCHS:
        _fail(f"model.arch must be {', '.join(ARCHS)}, got {m.arch!r}.")
    if d.kind not in DATA_KINDS:
        _fail(f"data.kind must be {', '.join(DATA_KINDS)}, got {d.kind!r}.")
    if d.kind == "words":
        if d.files or d.jsonl_field:
            _fail(
                "a word list is one file with one item per line; give --data FILE (not several files or --jsonl-field)."
            )
        if d.tokenizer != "char":
            _fail(
                f"a word list is read one character at a time; drop --tokenizer {d.tokenizer} (the vocabulary "
                "is '.' plus the characters of the list)."
            )
        if t.doc_mask and m.arch != "gpt":
            _fail(
                f"train.doc_mask packs whole words into the GPT's rows; the {m.arch} reads fixed windows, so drop it."
            )
        if t.doc_mask and t.grad_accum != 1:
            _fail(
                "train.doc_mask packs each step's words into one batch of rows; it cannot be split into "
                f"train.grad_accum={t.grad_accum} micro-batches: raise train.batch_size instead."
            )
    if m.arch == "gpt":
        return
    if d.kind != "words":
        _fail(
            f"the {m.arch} model learns from a word list; add --set data.kind=words (and --data FILE with one "
            "item per line, or --corpus names), or use a makemore-* preset."
        )
    if t.engine == "glass" and m.arch not in GLASS_ARCHS:
        _fail(
            f"the glass engine has hand-written gradients for the gpt and the mlp, not the {m.arch}; "
            "use --engine torch."
        )
    if t.optimizer == "muon":
        _fail("Muon is for the GPT's block matrices; train the ladder's models with sgd or adamw.")
    if t.seq_len:
        _fail("train.seq_len does not apply to the ladder's models; their context is model.block_size.")
    if m.arch in ("bigram", "neural-bigram") and m.block_size != 1:
        _fail(f"the {m.arch} reads one previous character; set model.block_size=1 (it is {m.block_size}).")
    if m.arch == "bigram" and t.max_steps != 1:
        _fail(
            "the counting bigram trains in one step that counts the whole training split once; "
            f"set train.max_steps=1 (it is {t.max_steps})."
        )
    if m.smoothing < 0 or m.l2 < 0:
        _fail(f"model.smoothing and model.l2 must be 0 or more, got {m.smoothing} and {m.l2}.")
    if m.n_hidden < 1:
        _fail(f"model.n_hidden must be at least 1, got {m.n_hidden}.")
    if m.hidden_init not in HIDDEN_INITS:
        _fail(f"model.hidden_init must be {', '.join(HIDDEN_INITS)}, got {m.hidden_init!r}.")
    if not 0.0 <= m.bn_momentum <= 1.0:
        _fail(f"model.bn_momentum must be between 0 and 1, got {m.bn_momentum}.")
    if m.arch == "wavenet":
        if m.group < 2:
            _fail(f"model.group must be at least 2, got {m.group}.")
        size = 1
        while size < m.block_size:
            size *= m.group
        if size != m.block_size:
            _fail(
                f"the wavenet's model.block_size ({m.block_size}) must be a power of model.group ({m.group}), "
                f"e.g. {size}."
            )


def parallel_mode(cfg: RunConfig, processes: int) -> str:
    """ "none", "ddp" or "fsdp" for this run in ``processes`` processes ("auto": ddp when
    torchrun started several)."""
    active = processes > 1
    mode = cfg.train.parallel
    if mode == "auto":
        mode = "ddp" if active else "none"
    if active and cfg.train.engine != "torch":
        raise ConfigError("the glass engine runs in one process; drop torchrun or use --engine torch.")
    if active and cfg.data.kind in ("words", "conversations", "pairs", "prompts"):
        what = {"words": "word lists", "pairs": "preference pairs", "prompts": "RL's rollouts"}
        raise ConfigError(
            f"{what.get(cfg.data.kind, cfg.data.kind)} train in one process; start the run without torchrun."
        )
    if active and mode == "none":
        raise ConfigError(
            f"train.parallel=none but torchrun started {processes} processes, which would all train "
            "the same run; use train.parallel=ddp or fsdp, or start one process."
        )
    if not active and mode != "none":
        raise ConfigError(
            f"train.parallel={mode} needs several processes: start them with "
            "torchrun --nproc_per_node=N -m glassgpt train ..."
        )
    return mode
