"""The run configuration's schema: three frozen sections (model, data, train) and the run
around them, and the one way settings become values.

A ``RunConfig`` never changes once built (``dataclasses.FrozenInstanceError``).  It is
built in ``glassgpt.config``'s pipeline, resolve -> derive -> validate, from a ``Settings``:
the mutable, plain-value form a configuration has while presets, a TOML file and
``--set KEY=VALUE`` overrides are applied to it, each value checked and converted to its
field's type as it arrives.  ``config.json`` is ``RunConfig.to_dict()``, and
``RunConfig.from_dict`` reads it back equal.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from glassgpt.errors import ConfigError


@dataclass(frozen=True)
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
    # the stages after fine-tuning (docs/stages.md): a reward model's head, LoRA adapters
    reward_head: bool = False  # a reward model: a scalar head (``score``) reads the last position's state
    lora_rank: int = 0  # LoRA: the rank of the adapters (0: none); with adapters the GPT's own weights are frozen
    lora_alpha: float = 16.0  # LoRA: an adapter adds (lora_alpha / lora_rank) · B A x to its linear's output
    lora_targets: tuple[str, ...] = ("q", "k", "v", "o")  # LoRA: q, k, v, o (attention); fc, proj (the MLP's)
    lora_rows: int = 0  # LoRA: the vocabulary's last lora_rows ids (tokens the stage added) train their rows too
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


@dataclass(frozen=True)
class DataConfig:
    corpus: str = "shakespeare"  # a built-in corpus, used when ``path`` is empty
    path: str = ""  # the user's UTF-8 text file or folder of .txt files
    tokenizer: str = (
        "char"  # a tokenizer spec (tokenizers.spec): char | byte | word | bpe | cl100k | gpt2:FILE | bpe:FILE
    )
    vocab_size: int = 0  # for ``tokenizer = "bpe"``: size of the vocabulary to train
    val_fraction: float = 0.1  # the last fraction of the tokens is the validation split
    files: tuple[str, ...] = ()  # several files packed as documents, <|endoftext|> between ("|" in --set)
    jsonl_field: str = ""  # read path (or files) as JSONL; this field of each line is one packed document
    fingerprint: str = ""  # corpus: its index's fingerprint; conversations: the file's (derived by the run)
    kind: str = "text"  # text | words (one item per line, split 80/10/10) | corpus (prepared shards) | conversations
    split_seed: int = 42  # words: the shuffle before the split
    overflow: str = "error"  # conversations longer than the context: error | truncate (cut to fit)
    task: str = ""  # pairs, prompts: the task (glassgpt.tasks) whose problems they are, e.g. "arithmetic:digits=2"
    reward_model: str = ""  # prompts: the reward model run the rollouts are scored by (a copy lives in data/)


@dataclass(frozen=True)
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
    sample_prompts: tuple[str, ...] = ()  # prompts sampled at the end ("|"-separated in --set)
    sample_temperature: float = 0.8
    sample_tokens: int = 200  # new tokens per sample
    diagnostics_every: int = 0  # steps between diagnostics records (0: off)
    seed: int = 1337
    threads: int = 0  # CPU threads of the training steps (torch, and NumPy's BLAS for the glass engine); 0: the
    # usable cores, recorded in config.json and kept on resume (the same bytes whatever the load)
    adaptive_threads: bool = False  # --threads adaptive: threads follow the load (bytes reproduce at equal counts)
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
    # the training objective (training.objectives): what a run after fine-tuning optimises
    objective: str = "lm"  # lm (next-token cross-entropy) | reward (Bradley–Terry) | dpo | pg (policy gradient)
    reward_margin: float = 0.0  # reward: m in -log σ(r_chosen - r_rejected - m)
    dpo_beta: float = 0.1  # dpo: β in -log σ(β[(log π - log π_ref)(chosen) - (log π - log π_ref)(rejected)])
    dpo_nll: float = 0.0  # dpo: α, weight of the chosen replies' per-token NLL added to the loss (0: plain DPO)
    group_size: int = 8  # pg: G, completions sampled per prompt (a step's rows are prompts × G)
    rollout_tokens: int = 8  # pg: the most new tokens of a completion
    rollout_temperature: float = 1.0  # pg: the sampling temperature of the rollouts
    std_norm: bool = False  # pg: divide each advantage (reward - group mean) by the group's standard deviation
    kl_beta: float = 0.0  # pg: β of the KL penalty to the starting model (the k3 estimate, always measured)
    ppo_epochs: int = 1  # pg: optimizer steps on each batch of rollouts (> 1: PPO's ratio clipping matters)
    ppo_clip: float = 0.2  # pg: ε of the ratio clip, min(ρA, clip(ρ, 1-ε, 1+ε)A) (0: no clipping)


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = ""
    #: what the run is (``glassgpt.rundir.kinds``), derived from the rest
    kind: str = ""
    #: one record per ``--resume``: the step it resumed at and the settings it changed
    resumes: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists for tuples): what ``config.json`` holds."""
        plain: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(self)))
        return plain

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config") -> RunConfig:
        """The configuration ``data`` describes (a ``to_dict()``, e.g. a run's ``config.json``);
        keys it lacks keep their defaults."""
        return Settings.defaults().apply(data, source).build()

    def updated(self, settings: Mapping[str, Any], source: str = "settings") -> RunConfig:
        """A copy with ``{"section.key": value}`` set, each value checked as ``--set`` checks it."""
        values = Settings.of(self)
        for key, value in settings.items():
            values.set(key, value)
        return values.build()

    @property
    def seq_len(self) -> int:
        """Tokens per training window: ``train.seq_len``, else the block size."""
        return self.train.seq_len or self.model.block_size


SECTIONS = ("model", "data", "train")
SECTION_TYPES: dict[str, type] = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}

#: the largest seed (seeds are 32-bit, as in NumPy's legacy seeding; every RNG here takes them)
SEED_MAX = 2**32 - 1
#: no integer setting may exceed this (2**53: exact in JSON readers that use doubles)
INT_MAX = 2**53

#: settings a run fills in itself (``derive``), listed nowhere as something to set
DERIVED = frozenset({"model.vocab_size", "data.fingerprint"})

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

#: how a setting's type is named in messages
KIND_WORDS = {
    int: "a whole number",
    float: "a number",
    str: "text",
    bool: "true or false",
    tuple: "a list of strings",
}


def field_names(section: str) -> tuple[str, ...]:
    return tuple(f.name for f in fields(SECTION_TYPES[section]))


def name_in(section: str, name: str) -> bool:
    return name in field_names(section)


class Settings:
    """A configuration while it is being resolved: ``{"model": {...}, "data": {...},
    "train": {...}, "preset", "kind", "resumes"}`` of plain values, each set through ``set``
    (which knows every key and converts the value to its field's type)."""

    def __init__(self, values: dict[str, Any]):
        self.values = values

    @classmethod
    def defaults(cls) -> Settings:
        return cls.of(RunConfig())

    @classmethod
    def of(cls, cfg: RunConfig) -> Settings:
        values: dict[str, Any] = {s: dict(dataclasses.asdict(getattr(cfg, s))) for s in SECTIONS}
        values.update(preset=cfg.preset, kind=cfg.kind, resumes=[dict(r) for r in cfg.resumes])
        return cls(values)

    def get(self, key: str) -> Any:
        section, name = split_key(key)
        return self.values[section][name]

    def set(self, key: str, value: Any) -> Settings:
        """Set ``section.name`` (or a bare ``name`` that only one section has) to ``value``."""
        if key in ("preset", "kind"):
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be text, not {value!r}.")
            self.values[key] = value
            return self
        if key == "resumes":
            if not (isinstance(value, (list, tuple)) and all(isinstance(r, dict) for r in value)):
                raise ConfigError("resumes must be a list of records, one per resume.")
            self.values["resumes"] = [dict(r) for r in value]
            return self
        section, name = split_key(key)
        current = self.values[section][name]
        self.values[section][name] = _coerce(value, current, f"{section}.{name}")
        return self

    def apply(self, data: Mapping[str, Any], source: str) -> Settings:
        """Every setting of ``data`` (sections as tables, or dotted keys), in order."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source} must be a table of settings.")
        for key, value in data.items():
            if key in SECTIONS:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"[{key}] in {source} must be a table.")
                for name, v in value.items():
                    self.set(f"{key}.{name}", v)
            else:
                self.set(key, value)
        return self

    def build(self) -> RunConfig:
        """The frozen configuration (lists become tuples; resume records plain JSON)."""
        v = self.values
        parts = {s: SECTION_TYPES[s](**v[s]) for s in SECTIONS}
        resumes = tuple(json.loads(json.dumps(r)) for r in v["resumes"])
        return RunConfig(**parts, preset=v["preset"], kind=v["kind"], resumes=resumes)


def split_key(key: str) -> tuple[str, str]:
    """``("train", "lr")`` for ``train.lr`` or a bare ``lr``; one sentence for an unknown key."""
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
    if not name_in(section, name):
        raise ConfigError(_unknown_key_message(f"{section}.{name}"))
    return section, name


def _coerce(value: Any, current: Any, key: str) -> Any:
    """``value`` (maybe a string from --set) as the type of the field's current value."""
    kind = type(current)
    if kind is tuple:
        if isinstance(value, str):
            return tuple(v for v in value.split("|") if v)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
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


def _unknown_key_message(key: str) -> str:
    known = [f"{s}.{n}" for s in SECTIONS for n in field_names(s)]
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
        names = [n for n in field_names(section) if f"{section}.{n}" not in DERIVED]
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
