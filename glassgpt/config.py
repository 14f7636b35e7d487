"""Run configuration: three dataclasses (model, data, train), presets, TOML files and
``--set section.key=value`` overrides, resolved in that order and validated once.

The fully resolved configuration is what a run writes to ``config.json``; loading it
back gives an equal ``RunConfig``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import textwrap
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from glassgpt.errors import ConfigError
from glassgpt.ladder_config import PRESETS as LADDER_PRESETS
from glassgpt.ladder_config import validate_ladder


@dataclass
class ModelConfig:
    """Shape of the GPT.  ``vocab_size`` is filled in from the tokenizer."""

    vocab_size: int = 0
    block_size: int = 64  # context length: the most tokens the model sees at once
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    d_ff: int = 0  # MLP hidden width; 0 means 4 * n_embd
    dropout: float = 0.0  # embeddings, attention and MLP outputs (and the attention weights, unless attn_dropout)
    attn_dropout: float = -1.0  # dropout on the attention weights; -1: the same as model.dropout
    bias: bool = True  # biases in LayerNorms, attention output and MLP
    qkv_bias: bool = True  # bias in the fused q/k/v projection
    activation: str = "gelu"  # "gelu" (tanh approximation, as GPT-2), "relu" or "relu2" (ReLU squared)
    tie_weights: bool = True  # LM head shares the token embedding matrix
    head_bias: bool = False  # bias on the LM head (only when untied)
    pad_vocab_to: int = 1  # round the embedding rows up to a multiple (64 for GPT-2 speed)
    # options beyond GPT-2 (the defaults are GPT-2's; a config.json without these keys gets them)
    pos: str = "learned"  # position information: "learned" table (wpe) or "rope" (rotary q/k, no table)
    rope_base: float = 10000.0  # rotary embeddings: the wavelength base of the frequencies
    norm: str = "layernorm"  # "layernorm" or "rmsnorm" (a gain only: no mean, no bias)
    qk_norm: bool = False  # scale each head's query and key rows to unit RMS before q·k
    zero_init_proj: bool = False  # start every block's output projections (attn and MLP c_proj) at zero
    logit_softcap: float = 0.0  # logits = cap·tanh(logits/cap) when > 0 (0: off)
    ensemble: int = 1  # GPTs of this shape trained side by side, their probabilities averaged
    # the makemore ladder (docs: README "The makemore ladder"); ``arch`` picks the model.  The GPT
    # reads the fields above; each ladder model reads the fields LADDER_FIELDS lists for it
    arch: str = "gpt"  # gpt | bigram | neural-bigram | mlp | wavenet
    n_hidden: int = 200  # mlp, wavenet: width of the tanh layers
    smoothing: float = 1.0  # bigram: add-k smoothing of the counts
    l2: float = 0.01  # neural-bigram: weight of mean(W²) in the training loss
    small_output: bool = False  # mlp: output layer x 0.01, bias 0 (initial loss ~ ln V)
    hidden_init: str = "randn"  # mlp: randn | small (x 0.2) | kaiming ((5/3)/sqrt(fan_in))
    batchnorm: bool = False  # mlp, wavenet: BatchNorm1d after each hidden Linear (then bias-free)
    bn_momentum: float = 0.1  # BatchNorm running statistics: running += momentum (batch - running)
    group: int = 2  # wavenet: neighbours fused per level (block_size is a power of it)
    last_layer_scale: float = 0.1  # wavenet: the output layer's weights start this small

    @property
    def ffn_width(self) -> int:
        return self.d_ff or 4 * self.n_embd

    @property
    def attention_dropout(self) -> float:
        return self.dropout if self.attn_dropout < 0 else self.attn_dropout

    @property
    def padded_vocab_size(self) -> int:
        m = max(1, self.pad_vocab_to)
        return (self.vocab_size + m - 1) // m * m


@dataclass
class DataConfig:
    corpus: str = "shakespeare"  # a built-in corpus, used when ``path`` is empty
    path: str = ""  # the user's UTF-8 text file or folder of .txt files
    tokenizer: str = "char"  # char | byte | word | bpe | bpe:FILE
    vocab_size: int = 0  # for ``tokenizer = "bpe"``: size of the vocabulary to train
    val_fraction: float = 0.1  # the last fraction of the tokens is the validation split
    files: list = field(
        default_factory=list
    )  # several files packed as documents, <|endoftext|> between ("|"-separated in --set)
    jsonl_field: str = ""  # read path (or files) as JSONL; this field of each line is one packed document
    fingerprint: str = ""  # a prepared corpus (``path`` holds index.json): its index's fingerprint, set by the run
    kind: str = "text"  # text | words: one item per line, split 80/10/10 into train/dev/test words
    split_seed: int = 42  # words: the shuffle before the split


@dataclass
class TrainConfig:
    batch_size: int = 32  # sequences per micro-batch
    seq_len: int = 0  # tokens per training sequence; 0 means block_size
    grad_accum: int = 1  # micro-batches per optimizer step
    tokens_per_step: int = 0  # when set: grad_accum = tokens_per_step / (batch_size × seq_len × processes)
    max_steps: int = 2000  # total optimizer steps of the run (counted across resumes)
    time_budget: float = 0.0  # seconds; stop cleanly when spent (0: no limit)
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # floor of the decay, as a fraction of lr
    warmup_steps: int = 100
    decay_steps: int = 0  # length of warmup + decay; 0 means max_steps
    schedule: str = "cosine"  # cosine | linear | constant | wsd | step (after warmup)
    decay_fraction: float = 0.2  # wsd: the last fraction of decay_steps, where the rate decays linearly to the
    # floor; step: where it sits at the floor (lr x min_lr_ratio)
    schedule_clock: str = (
        "steps"  # steps | time: the schedule follows the share of the time budget spent (needs time_budget)
    )
    weight_decay: float = 0.1  # applied to weights with >= 2 dims only
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    grad_clip: float = 1.0  # clip the global gradient norm (0: off); the norm is logged before
    eval_every: int = 250  # steps between validation estimates (0: only at the end)
    eval_batches: int = 20  # fixed validation batches per estimate
    log_every: int = 10  # steps between metrics.jsonl lines
    save_every: int = 500  # steps between checkpoints (always saved at the end)
    sample_every: int = 0  # steps between samples recorded in samples.jsonl (0: only at the end)
    sample_prompts: list = field(default_factory=list)  # prompts sampled at the end ("|"-separated in --set)
    sample_temperature: float = 0.8
    sample_tokens: int = 200  # new tokens per sample
    diagnostics_every: int = 0  # steps between diagnostics records (0: off)
    seed: int = 1337
    threads: int = 0  # CPU threads for torch (and NumPy's BLAS with the glass engine); 0: auto (idle cores, adapted)
    device: str = "auto"  # auto | cpu | cuda | mps
    dtype: str = "float32"  # float32 | bfloat16 (autocast: CUDA, or a CPU with native bfloat16; else float32)
    compile: bool = False  # torch.compile the model (CUDA only: off on the CPU)
    tf32: bool = False  # TensorFloat-32 matmuls (CUDA only)
    flash: bool = False  # attention only through SDPA's flash kernel (CUDA with bfloat16 only)
    peak_flops: float = 0.0  # one device's peak FLOP/s for MFU (0: from the table of known GPUs)
    parallel: str = "auto"  # auto | none | ddp | fsdp (auto: ddp when torchrun starts several processes)
    engine: str = "torch"  # torch | glass (the NumPy engine)
    doc_mask: bool = (
        False  # packed documents: attention and positions restart at each <|endoftext|> (each word of a word list)
    )
    # optimizer options (defaults: one AdamW at train.lr for everything)
    optimizer: str = "adamw"  # adamw | muon (Muon for the blocks' 2-D weights, AdamW for the rest) | sgd
    momentum: float = 0.0  # sgd: momentum (0: plain gradient descent, the makemore lectures')
    lr_embed: float = 0.0  # peak rate of the token/position embeddings (and a tied head); 0: train.lr
    lr_head: float = 0.0  # peak rate of an untied LM head; 0: train.lr
    lr_matrix: float = 0.0  # peak rate of the blocks' 2-D weights (Muon's rate with muon); 0: train.lr
    lr_scalar: float = 0.0  # peak rate of norm gains and biases; 0: train.lr
    muon_momentum: float = 0.95
    muon_nesterov: bool = True
    muon_ns_steps: int = 5  # Newton–Schulz iterations per update
    muon_scale: str = "adamw"  # adamw: update RMS matched to AdamW's (same lr works) | aspect: sqrt(max(1, rows/cols))


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = ""
    #: one record per ``--resume``: the step it resumed at and the settings it changed
    resumes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        cfg = cls()
        apply_dict(cfg, data, source="config")
        return cfg


SECTIONS = ("model", "data", "train")
ACTIVATIONS = ("gelu", "relu", "relu2")
SCHEDULES = ("cosine", "linear", "constant", "wsd", "step")
OPTIMIZERS = ("adamw", "muon", "sgd")

#: the largest seed (seeds are 32-bit, as in NumPy's legacy seeding; every RNG here takes them)
SEED_MAX = 2**32 - 1
#: no integer setting may exceed this (2**53: exact in JSON readers that use doubles)
INT_MAX = 2**53

#: settings a run fills in itself (listed nowhere as something to set)
DERIVED = {"model.vocab_size", "data.fingerprint"}

#: names people reach for from other trainers -> this project's key
ALIASES = {
    "learning_rate": "lr",
    "max_lr": "lr",
    "min_lr": "min_lr_ratio",
    "max_iters": "max_steps",
    "iters": "max_steps",
    "steps": "max_steps",
    "num_steps": "max_steps",
    "warmup": "warmup_steps",
    "warmup_iters": "warmup_steps",
    "lr_decay_iters": "decay_steps",
    "context": "block_size",
    "context_length": "block_size",
    "ctx_len": "block_size",
    "n_ctx": "block_size",
    "n_positions": "block_size",
    "seq_length": "seq_len",
    "batch": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "wd": "weight_decay",
    "n_embed": "n_embd",
    "d_model": "n_embd",
    "hidden_size": "n_embd",
    "n_heads": "n_head",
    "num_heads": "n_head",
    "n_layers": "n_layer",
    "num_layers": "n_layer",
    "vocab": "vocab_size",
    "eval_interval": "eval_every",
    "eval_iters": "eval_batches",
    "log_interval": "log_every",
    "clip": "grad_clip",
    "val_split": "val_fraction",
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "baby": {
        "model": dict(n_layer=4, n_head=4, n_embd=128, block_size=64),
        # `glassgpt train` with no arguments: at most ~4 minutes on 2 CPU cores, final evaluation included
        "train": dict(batch_size=32, lr=2e-3, max_steps=900, warmup_steps=100, eval_every=250, time_budget=210.0),
    },
    # the laptop speedrun: the best Tiny Shakespeare model 100 s of 2 CPU cores could buy in the
    # search of benchmarks/speedrun_search.py (the README's table): 3 layers with rotary positions,
    # RMSNorm, QK-norm, ReLU², zero-initialised projections, no biases and an untied head; Muon
    # (3 Newton–Schulz steps) for the blocks' matrices; warmup-stable-decay on the time clock, so
    # the decay ends when the 94 s budget (final evaluation included) runs out
    "cpu-speedrun": {
        "model": dict(
            n_layer=3,
            n_head=4,
            n_embd=128,
            block_size=128,
            pos="rope",
            norm="rmsnorm",
            activation="relu2",
            qk_norm=True,
            zero_init_proj=True,
            bias=False,
            qkv_bias=False,
            tie_weights=False,
        ),
        "train": dict(
            batch_size=16,
            lr=2e-3,
            optimizer="muon",
            muon_ns_steps=3,
            schedule="wsd",
            decay_fraction=0.5,
            min_lr_ratio=0.0,
            schedule_clock="time",
            max_steps=1_000_000,
            warmup_steps=100,
            eval_every=250,
            time_budget=94.0,
        ),
    },
    "small": {
        "model": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2),
        "train": dict(batch_size=64, lr=1e-3, max_steps=5000, warmup_steps=100),
    },
    # the curriculum's last lecture: GPT-2 (124M) on ~0.5M tokens per step (10B tokens in 19,073 steps);
    # its tokenizer comes from a prepared corpus (glassgpt data prepare --tokenizer gpt2:r50k_base.tiktoken)
    "gpt2": {
        "model": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, pad_vocab_to=64),
        "data": dict(tokenizer="prepared"),
        "train": dict(
            batch_size=32,
            tokens_per_step=524288,
            lr=6e-4,
            beta2=0.95,
            warmup_steps=715,
            max_steps=19073,
            weight_decay=0.1,
            grad_clip=1.0,
            min_lr_ratio=0.1,
            eval_every=250,
            eval_batches=20,
            save_every=1000,
            dtype="bfloat16",
            compile=True,
            tf32=True,
            flash=True,
        ),
    },
    # docs/curriculum.md, B2: exactly 27,747 parameters on the 35-word nursery vocabulary.
    "nursery": {
        "model": dict(
            n_layer=2,
            n_head=2,
            n_embd=32,
            block_size=6,
            d_ff=128,
            activation="relu",
            qkv_bias=False,
            bias=True,
            tie_weights=False,
            head_bias=True,
        ),
        "data": dict(corpus="nursery", tokenizer="word", val_fraction=0.0),
        "train": dict(
            batch_size=16,
            lr=1e-3,
            beta2=0.999,
            weight_decay=0.01,
            max_steps=1500,
            warmup_steps=0,
            schedule="constant",
            grad_clip=0.0,
            eval_every=0,
            save_every=500,
        ),
    },
    # docs/curriculum.md, A9: the byte-level poem model, about 241k parameters.
    "poem": {
        "model": dict(n_layer=4, n_head=4, n_embd=64, block_size=128, tie_weights=False, head_bias=False),
        "data": dict(corpus="poem", tokenizer="byte", val_fraction=0.0),
        "train": dict(
            batch_size=16,
            seq_len=64,
            lr=3e-4,
            beta2=0.999,
            weight_decay=0.01,
            max_steps=1500,
            warmup_steps=0,
            schedule="constant",
            grad_clip=0.0,
            log_every=10,
            eval_every=0,
            sample_prompts=["All that ", "Young in ", "Gilded "],
            sample_tokens=80,
        ),
    },
}


PRESETS.update(LADDER_PRESETS)


def _coerce(value: Any, current: Any, key: str) -> Any:
    """Turn ``value`` (maybe a string from --set) into the type of the field's default."""
    kind = type(current)
    if kind is list:
        if isinstance(value, str):
            return [v for v in value.split("|") if v]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{key} must be a list of strings, not {value!r}.")
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{key} must be true or false, not {value!r}.")
        try:
            if kind is int and "e" in text.lower():  # 1e6
                number = float(text)
                if number.is_integer():
                    return int(number)
                raise ValueError
            return kind(text)
        except (ValueError, OverflowError):
            raise ConfigError(f"{key} must be {KIND_WORDS[kind]}, not {value!r}.") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind is not type(value) and not (kind is str and value is None):
        raise ConfigError(f"{key} must be {KIND_WORDS.get(kind, 'a ' + kind.__name__)}, not {value!r}.")
    return value


#: how a setting's type is named in messages
KIND_WORDS = {int: "a whole number", float: "a number", str: "text", bool: "true or false", list: "a list of strings"}


def set_value(cfg: RunConfig, key: str, value: Any) -> None:
    """Set ``section.name`` (or a bare ``name`` that only one section has) to ``value``."""
    if key == "preset":
        cfg.preset = str(value)
        return
    if key == "resumes":
        if not (isinstance(value, list) and all(isinstance(r, dict) for r in value)):
            raise ConfigError("resumes must be a list of records, one per resume.")
        cfg.resumes = [dict(r) for r in value]
        return
    if "." in key:
        section, name = key.split(".", 1)
        if section not in SECTIONS:
            raise ConfigError(f"unknown config section {section!r} in {key!r}; sections are {', '.join(SECTIONS)}.")
    else:
        owners = [s for s in SECTIONS if name_in(s, key)]
        if len(owners) != 1:
            raise ConfigError(
                _unknown_key_message(key)
                if not owners
                else f"{key!r} is ambiguous; write {' or '.join(o + '.' + key for o in owners)}."
            )
        section, name = owners[0], key
    target = getattr(cfg, section)
    if not name_in(section, name):
        raise ConfigError(_unknown_key_message(f"{section}.{name}"))
    setattr(target, name, _coerce(value, getattr(target, name), f"{section}.{name}"))


def name_in(section: str, name: str) -> bool:
    return name in {f.name for f in fields(getattr(RunConfig(), section))}


def _unknown_key_message(key: str) -> str:
    known = [f"{s}.{f.name}" for s in SECTIONS for f in fields(getattr(RunConfig(), s))]
    section, _, name = key.rpartition(".")
    alias = ALIASES.get(name.lower())
    if alias:
        owners = [s for s in SECTIONS if name_in(s, alias)]
        near = [f"{section if section in owners else owners[0]}.{alias}"]
    else:
        near = difflib.get_close_matches(key, known, n=1) or difflib.get_close_matches(
            name, [k.split(".")[1] for k in known], n=1
        )
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"unknown config key {key!r}{hint}; see `glassgpt train --help` for the keys."


def settings_help(width: int = 80) -> str:
    """The keys ``--set`` accepts, grouped by section and wrapped to ``width`` columns
    (generated from the dataclasses, so the list never goes stale)."""
    lines = [
        "Keys for --set SECTION.KEY=VALUE (a bare KEY works when one section has it;",
        "lists take values separated by |, e.g. train.sample_prompts='To be|Once'):",
    ]
    for section in SECTIONS:
        names = [f.name for f in fields(getattr(RunConfig(), section)) if f"{section}.{f.name}" not in DERIVED]
        lines.append(
            textwrap.fill(
                " ".join(names),
                width,
                initial_indent=f"  {section + ':':<7}",
                subsequent_indent=" " * 9,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def apply_dict(cfg: RunConfig, data: dict, source: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a table of settings.")
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}] in {source} must be a table.")
            for name, v in value.items():
                set_value(cfg, f"{key}.{name}", v)
        else:
            set_value(cfg, key, value)


def apply_preset(cfg: RunConfig, name: str) -> None:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    cfg.preset = name
    apply_dict(cfg, PRESETS[name], source=f"preset {name}")


def load_toml(path: str | Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}).") from None


def resolve(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> RunConfig:
    """Defaults, then the preset, then the TOML file, then each override, then validation."""
    cfg = RunConfig()
    file_data = load_toml(config_file) if config_file else {}
    preset = preset or file_data.pop("preset", None) or "baby"
    apply_preset(cfg, preset)
    if file_data:
        apply_dict(cfg, file_data, source=str(config_file))
    items = overrides.items() if isinstance(overrides, dict) else [parse_override(o) for o in overrides or []]
    for key, value in items:
        set_value(cfg, key, value)
    validate(cfg)
    return cfg


def parse_override(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"--set expects key=value, got {text!r}.")
    key, value = text.split("=", 1)
    return key.strip(), value


def validate(cfg: RunConfig) -> None:
    """Refuse impossible settings with one sentence each."""
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
    nonneg = {
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
    for key, v in nonneg.items():
        if v < 0:
            raise ConfigError(f"{key} must not be negative, got {v}.")
    check_seed(d.split_seed, "data.split_seed")
    validate_ladder(cfg)  # model.arch, data.kind and what the ladder's models need
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


def _check_types(cfg: RunConfig) -> None:
    """Every number is finite and every whole number within ``INT_MAX``; names the key and value."""
    for section in SECTIONS:
        part = getattr(cfg, section)
        for f in fields(part):
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


#: the most GPTs an ensemble trains side by side
MAX_ENSEMBLE = 16


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


def glass_refusal(cfg: RunConfig) -> str:
    """The one sentence refusing a setting the glass engine does not implement ("" if none).

    The glass engine supports RMSNorm, ReLU², logit soft-capping, zero-initialised
    projections, bias-free layers, every schedule and the per-group learning rates; rotary
    embeddings and QK-norm would need new hand-written attention backward passes, and its
    optimizer is AdamW only, so those and Muon are torch-only."""
    if cfg.train.engine != "glass":
        return ""
    m = cfg.model
    if m.arch != "gpt":
        return ""  # the ladder's engines: see ladder_config.validate_ladder
    missing = [
        k
        for k, on in (
            ("model.pos=rope", m.pos == "rope"),
            ("model.qk_norm", m.qk_norm),
            ("model.attn_dropout", m.attention_dropout != m.dropout),
            ("model.ensemble", m.ensemble > 1),
            ("train.optimizer=muon", cfg.train.optimizer == "muon"),
            ("train.optimizer=sgd", cfg.train.optimizer == "sgd"),
        )
        if on
    ]
    if missing:
        return (
            f"the glass engine has no hand-written gradients for {' or '.join(missing)}; use --engine torch for them."
        )
    return ""


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


PARALLEL = ("auto", "none", "ddp", "fsdp")


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
