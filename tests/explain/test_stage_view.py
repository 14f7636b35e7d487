"""``explain --chat`` after fine-tuning: every reply token coloured by its RL push A·(1 − P) or its
DPO contribution β (ln P − ln P_ref); the prompt's tokens get neither."""

from __future__ import annotations

import json
import math

import pytest

from glassgpt.cli import main
from glassgpt.explain import add_stage_view

CONVERSATION = json.dumps(
    {"messages": [{"role": "user", "content": "the quick"}, {"role": "assistant", "content": "brown fox."}]}
)


def rows(*losses_and_counts):
    return {"tokens": [{"loss": loss, "p_target": math.exp(-loss), "counts": c} for loss, c in losses_and_counts]}


def test_the_push_and_the_dpo_contribution_of_each_reply_token():
    result = rows((2.0, False), (0.5, True), (0.1, True))
    reference = rows((2.0, False), (1.5, True), (0.1, True))
    add_stage_view(result, advantage=-2.0, reference=reference, beta=0.1)
    prompt, first, second = result["tokens"]
    assert "push" not in prompt and "dpo" not in prompt
    assert first["push"] == pytest.approx(-2.0 * (1 - math.exp(-0.5)))
    assert first["dpo"] == pytest.approx(0.1 * (1.5 - 0.5))  # likelier than under the reference: positive
    assert second["dpo"] == pytest.approx(0.0)
    assert result["implicit_reward"] == pytest.approx(0.1) and result["advantage"] == -2.0


def test_the_cli_shows_the_column_and_the_sums(chat, capsys):
    assert main(["explain", str(chat), CONVERSATION, "--chat", "--advantage", "0.5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    counted = [r for r in result["tokens"] if r["counts"]]
    assert counted and all(r["push"] == pytest.approx(0.5 * (1 - r["p_target"])) for r in counted)
    assert main(["explain", str(chat), CONVERSATION, "--chat", "--reference", str(chat), "--wide"]) == 0
    out = capsys.readouterr().out
    assert "β·Δln P" in out and "implicit reward β(log π − log π_ref) of the reply +0.0000" in out


def test_a_stage_view_needs_a_conversation(chat, capsys):
    assert main(["explain", str(chat), "the quick", "--advantage", "1"]) == 2
    assert "add --chat" in capsys.readouterr().err
