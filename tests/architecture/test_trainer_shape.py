"""The training loop stays the short, top-to-bottom loop the minimal trainers are: kinds of data,
models and stages plug in behind interfaces (DataSource, Engine, objectives, callbacks), never as
branches in the trainer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TRAINER = Path(__file__).resolve().parents[2] / "glassgpt" / "training" / "trainer.py"
#: words that would mean the loop knows which kind of data, model or stage it runs
KIND_WORDS = ("corpus", "prepared", "conversation", "makemore", "words", "ladder", "reward", "dpo", "lora", "kind")


def test_the_trainer_is_at_most_300_lines():
    assert len(TRAINER.read_text().splitlines()) <= 300


def test_the_trainer_never_names_a_kind_of_data_model_or_stage():
    code = TRAINER.read_text().lower()
    found = [w for w in KIND_WORDS if re.search(rf"\b{w}\b", code)]
    assert not found, f"the trainer names {found}: put the difference behind the DataSource or Engine interface"


def test_the_trainer_asks_no_object_what_type_it_is():
    tree = ast.parse(TRAINER.read_text())
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert "isinstance" not in calls and "type" not in calls
