"""A tiny pretrained char run and its chat fine-tune, built once per test session and shared by
tests/stages and tests/serve (importable as ``support.chatrun``; the fixtures ``base`` and
``chat`` are in tests/conftest.py).  Both runs are only read by the tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from glassgpt.config import RunConfig
from glassgpt.stages.finetune import finetune
from glassgpt.training.launch import train
from support.tinyrun import TINY_TEXT, tiny_config

#: short conversations in TINY_TEXT's characters (lowercase letters, space, ".", "!")
QA = [
    ("the quick", "brown fox."),
    ("pack my", "box with five dozen."),
    ("how vexingly", "quick daft zebras."),
    ("the lazy", "dog."),
    ("jumps over", "the lazy dog."),
    ("five dozen", "liquor jugs!"),
]
CONTEXT = 48
_BUILT: dict[str, Path] = {}


def chat_lines(n: int = 24) -> list[str]:
    return [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": QA[i % len(QA)][0]},
                    {"role": "assistant", "content": QA[i % len(QA)][1]},
                ]
            }
        )
        for i in range(n)
    ]


def write_sft(path: Path, lines: list[str] | None = None) -> Path:
    path.write_text("\n".join(chat_lines() if lines is None else lines) + "\n", encoding="utf-8")
    return path


def pretrain_config(**model) -> RunConfig:
    settings = {"model.block_size": CONTEXT, **{f"model.{k}": v for k, v in model.items()}}
    return tiny_config(settings, max_steps=30, eval_every=0)


def base_run(root: Path) -> Path:
    """The pretrained tiny run (char tokenizer, context 48, tied head)."""
    if "base" not in _BUILT:
        torch.set_num_threads(1)
        out = root / "chatrun-base"
        train(out, config=pretrain_config(), text=TINY_TEXT)
        _BUILT["base"] = out
    return _BUILT["base"]


def chat_run(root: Path) -> Path:
    """``base_run`` fine-tuned on ``chat_lines()`` for 40 steps."""
    if "chat" not in _BUILT:
        base = base_run(root)
        sft = write_sft(root / "chatrun.jsonl")
        finetune(
            base,
            sft,
            root / "chatrun-chat",
            max_steps=40,
            lr=3e-3,
            batch_size=4,
            warmup_steps=5,
            eval_every=20,
            transcript=2,
        )
        _BUILT["chat"] = root / "chatrun-chat"
    return _BUILT["chat"]


def tree_digest(path: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under ``path`` (to prove a run was not touched)."""
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    """The shared pretrained run (only read: tests that change a run copy it)."""
    return base_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def chat(tmp_path_factory) -> Path:
    """The shared chat fine-tune of ``base``."""
    return chat_run(tmp_path_factory.getbasetemp())
