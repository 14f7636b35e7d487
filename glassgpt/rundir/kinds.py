"""Run kinds: what a run *is*, named in its ``config.json``, and which commands serve which kinds.

Every run directory's ``config.json`` has a top-level ``"kind"``, derived when the run is
made (``glassgpt.config.derive``) from its model and data:

==================  ================================================================
``gpt``             a GPT trained on text (any tokenizer, either engine, a prepared corpus)
``gpt-words``       a GPT trained on a word list (the makemore ladder's transformer)
``ensemble``        several GPTs trained side by side, predicting together
``bigram``          the makemore ladder's counting bigram
``neural-bigram``   the makemore ladder's neural bigram
``mlp``             the makemore ladder's MLP (Bengio 2003, the fixes, BatchNorm)
``wavenet``         the makemore ladder's WaveNet-style hierarchy
``chat``            a GPT fine-tuned on conversations (its tokenizer has the chat tokens), or
                    trained further from one by DPO or RL (``train.objective`` says which)
``imported``        a GPT-2 imported from a Hugging Face folder
``reward``          a reward model: a chat GPT whose scalar head scores a completion
==================  ================================================================

``SERVES`` is the command x kind table: every command that reads a run names the kinds it
serves, and ``require`` refuses any other kind in one sentence that says what does work,
reading nothing but ``config.json`` (no model, no torch).  The finer limits inside a kind
(a tokenizer that cannot spell free text, an architecture GPT-2 cannot represent) are
refused by the command itself, also in one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glassgpt.errors import RunDirError
from glassgpt.rundir.directory import require_run
from glassgpt.rundir.layout import CONFIG, FINETUNE
from glassgpt.rundir.records import read_config_dict


@dataclass(frozen=True)
class Kind:
    name: str
    what: str  # "a GPT trained on text": completes "RUN is ..."


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("gpt", "a GPT trained on text"),
        Kind("gpt-words", "a GPT trained on a word list"),
        Kind("ensemble", "an ensemble of GPTs"),
        Kind("bigram", "the makemore ladder's counting bigram"),
        Kind("neural-bigram", "the makemore ladder's neural bigram"),
        Kind("mlp", "the makemore ladder's MLP"),
        Kind("wavenet", "the makemore ladder's WaveNet"),
        Kind("chat", "a GPT fine-tuned on conversations"),
        Kind("imported", "a GPT-2 imported from a Hugging Face folder"),
        Kind("reward", "a reward model (a chat GPT with a scalar head)"),
    )
}

#: the rungs of the makemore ladder below the transformer (a window of characters in, one out)
LADDER: tuple[str, ...] = ("bigram", "neural-bigram", "mlp", "wavenet")
#: every kind
ALL: tuple[str, ...] = tuple(KINDS)
#: one GPT with the GPT-2 block's tensors
ONE_GPT: tuple[str, ...] = ("gpt", "gpt-words", "chat", "imported")


@dataclass(frozen=True)
class Serves:
    """The kinds a command serves, and for the others what to do instead (kind -> sentence
    ending; ``"*"`` for any kind not named)."""

    kinds: tuple[str, ...]
    instead: Mapping[str, str]


#: the stages after fine-tuning start from a chat run
AFTER_SFT = (
    "the stages after fine-tuning start from a chat run; fine-tune this run first with "
    "`glassgpt finetune RUN --sft FILE.jsonl --out CHAT`"
)

#: command -> what it serves.  The names are what ``glassgpt`` prints in its messages.
SERVES: dict[str, Serves] = {
    "sample": Serves(ALL, {}),
    "eval": Serves(
        tuple(k for k in ALL if k != "reward"),
        {
            "reward": "a reward model scores replies instead of predicting text; its held-out pair accuracy is in "
            "its stage.json, and `glassgpt reward-score` scores replies"
        },
    ),
    "eval --splits": Serves(
        ("gpt-words", "ensemble", *LADDER),
        {"*": "--splits scores the train/dev/test words of a word-list run; use `glassgpt eval RUN` for its loss"},
    ),
    "eval --multiple-choice": Serves(
        ("gpt", "ensemble", "chat", "imported"),
        {
            "reward": "multiple choice compares a language model's losses, and a reward model scores replies",
            "*": "multiple choice compares endings of a text, and this run models single words; "
            "use `glassgpt eval RUN --splits` for its loss",
        },
    ),
    "explain": Serves(ALL, {}),
    "export --hf": Serves(
        ONE_GPT,
        {
            "ensemble": "a GPT-2 folder holds one GPT; train one member alone to export it",
            "reward": "a GPT-2 folder has no place for a reward model's scalar head",
            "*": "a GPT-2 folder holds a GPT, and this model has no GPT-2 form; its run directory "
            "(safetensors + JSON) is already portable",
        },
    ),
    "finetune": Serves(
        ("gpt", "chat", "imported"),
        {
            "gpt-words": "its vocabulary is the letters of a word list, which cannot spell a conversation",
            "ensemble": "fine-tuning grows the vocabulary of one GPT; fine-tune a single GPT",
            "reward": "a reward model scores replies; fine-tune the chat run it was trained from",
            "*": "fine-tuning continues a GPT trained on text; the makemore ladder's models read a "
            "window of letters, not a conversation",
        },
    ),
    "chat": Serves(ALL, {}),
    "serve": Serves(ALL, {}),
    "gradcheck": Serves(
        ("gpt", "gpt-words", "chat", "imported", "mlp"),
        {
            "reward": "the glass engine's GPT has no reward head (the Bradley–Terry gradient is checked on its own, "
            "in glass.stage_gradcheck)",
            "*": "gradcheck proves hand-written gradients, and this model has none (only the GPT and the "
            "MLP are written by hand); `glassgpt gradcheck --preset NAME` checks the GPT's",
        },
    ),
    "plot": Serves(ALL, {}),
    "report": Serves(ALL, {}),
    "train --resume": Serves(
        tuple(k for k in ALL if k not in ("imported", "bigram")),
        {
            "imported": "an imported run has no training state to continue; fine-tune it with `glassgpt finetune`",
            "bigram": "the counting bigram is finished after its one pass of counting; there is nothing to resume",
        },
    ),
    "reward": Serves(("chat",), {"*": AFTER_SFT}),
    "reward-score": Serves(("reward",), {"*": "only a reward model scores replies; train one with `glassgpt reward`"}),
    "rl": Serves(("chat",), {"reward": "a reward model is what --reward takes; RL trains a chat run", "*": AFTER_SFT}),
    "rl --reward": Serves(
        ("reward",), {"*": "--reward takes a reward model run (`glassgpt reward RUN --pairs FILE --out RM` makes one)"}
    ),
    "dpo": Serves(("chat",), {"*": AFTER_SFT}),
    "merge": Serves(
        ("chat",),
        {"*": "merge folds LoRA adapters into a GPT, and only fine-tune, DPO and RL runs train them (with --lora)"},
    ),
}


def kind_of(config: Mapping[str, Any], finetuned: bool = False) -> str:
    """The kind a configuration (a ``config.json`` as a dict) describes: its own ``"kind"``,
    or for a run made before kinds were recorded, the kind its settings imply
    (``finetuned``: the run has a ``finetune.json``)."""
    named = config.get("kind")
    if isinstance(named, str) and named:
        return named
    model = config.get("model") or {}
    data = config.get("data") or {}
    arch = model.get("arch", "gpt")
    if config.get("preset") == "import-hf":
        return "imported"
    if model.get("reward_head"):
        return "reward"
    if data.get("kind") in ("conversations", "pairs", "prompts") or finetuned:
        return "chat"
    if arch != "gpt":
        return str(arch)
    if int(model.get("ensemble", 1) or 1) > 1:
        return "ensemble"
    return "gpt-words" if data.get("kind") == "words" else "gpt"


#: commands that read word lists only, and commands that read text only: an ensemble may have
#: been trained on either, so for these the run's data decides too
WORDS_ONLY = ("eval --splits",)
TEXT_ONLY = ("eval --multiple-choice",)


def run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of the run in ``run_dir`` as a dict (one sentence when there is none)."""
    path = Path(run_dir)
    if not (path / CONFIG).is_file():
        require_run(path)  # says what is wrong with the folder
    config = read_config_dict(path)
    if not isinstance(config, dict):
        raise RunDirError(f"{path / CONFIG} is not a run configuration (it holds no settings).")
    return config


def run_kind(run_dir: str | Path) -> str:
    """The kind of the run in ``run_dir``, from its ``config.json`` alone."""
    path = Path(run_dir)
    kind = kind_of(run_config(path), finetuned=(path / FINETUNE).is_file())
    if kind not in KINDS:
        raise RunDirError(f"{path / CONFIG} names the kind {kind!r}, which this glassgpt does not know.")
    return kind


def refusal(command: str, kind: str, run: str, words: bool = False) -> str:
    """The one sentence for ``command`` on a run of ``kind`` ("" when the command serves it);
    ``words``: the run was trained on a word list."""
    serves = SERVES[command]
    served = kind in serves.kinds
    served = served and not (command in WORDS_ONLY and not words) and not (command in TEXT_ONLY and words)
    if served:
        return ""
    why = serves.instead.get(kind) or serves.instead.get("*", "")
    works = ", ".join(serves.kinds)
    what = KINDS[kind].what + (" on a word list" if kind == "ensemble" and words else "")
    return f"`glassgpt {command}` does not work on {run}, {what}: {why} (it works on {works} runs)."


def require(run_dir: str | Path, command: str) -> str:
    """The run's kind when ``command`` serves it; else one sentence (``RunDirError``)."""
    kind = run_kind(run_dir)
    words = (run_config(run_dir).get("data") or {}).get("kind") == "words"
    sentence = refusal(command, kind, str(run_dir), words)
    if sentence:
        raise RunDirError(sentence)
    return kind
