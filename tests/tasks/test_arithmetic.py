"""The arithmetic task: seeded problems, a held-out split fixed by the problems' text, exact-match
reward, the chat and plain formats, the corpus and the preset that pretrains on it."""

from __future__ import annotations

import random

import pytest

from glassgpt.config import PRESETS, resolve
from glassgpt.data import load_corpus
from glassgpt.errors import ConfigError, DataError
from glassgpt.tasks import arithmetic as A
from glassgpt.tasks import task_spec
from glassgpt.training.launch import train


def test_problems_are_seeded_and_the_same_everywhere():
    first = A.problems(5, seed=1)
    assert [p.line for p in first] == ["9+4=13", "93-67=26", "13-1=12", "87-7=80", "921+9=930"]
    assert A.problems(5, seed=1) == first and A.problems(5, seed=2) != first


def test_the_held_out_split_is_fixed_by_the_text_and_never_drawn_for_training():
    held = A.held_out(200)
    assert [p.line for p in held[:3]] == ["40-21=19", "535-2=533", "87+7=94"]  # frozen: every run is scored on these
    assert all(A.is_held_out(p) for p in held)
    train = A.problems(5000, seed=7)
    assert not any(A.is_held_out(p) for p in train)
    assert not {p.question for p in held} & {p.question for p in train}
    drawn = [p for p, _ in zip(A._stream(3, A.Difficulty()), range(20000))]
    assert 0.08 < sum(map(A.is_held_out, drawn)) / len(drawn) < 0.12  # about one in ten


def test_difficulty_options_shape_the_problems():
    easy = A.problems(500, 0, A.Difficulty(digits=1, ops="+"))
    assert all(p.op == "+" and 0 <= p.a <= 9 and 0 <= p.b <= 9 for p in easy)
    signed = A.problems(500, 0, A.Difficulty(ops="-", negative=True))
    assert any(p.value < 0 for p in signed)
    assert all(p.value >= 0 for p in A.problems(500, 0, A.Difficulty(ops="-")))
    assert A.Difficulty.parse("digits=2,ops=+").spec() == "digits=2,ops=+,negative=false"
    assert task_spec("arithmetic:ops=-,negative=true") == A.Difficulty(ops="-", negative=True)
    assert task_spec("arithmetic") == A.Difficulty()


@pytest.mark.parametrize("spec", ["arithmetic:digits=4", "arithmetic:ops=*", "arithmetic:level=3", "algebra"])
def test_impossible_options_are_one_sentence(spec):
    with pytest.raises(ConfigError) as err:
        task_spec(spec)
    assert str(err.value).count(".") >= 1 and "\n" not in str(err.value)


def test_the_reward_is_exact_match_on_the_answer():
    assert A.reward("12+34=", "46") == 1.0
    assert A.reward("12+34", " 46\n") == 1.0
    assert A.reward("12+34=", "47") == 0.0
    assert A.reward("12+34=", "046") == 0.0
    assert A.reward("12+34=", "46 46") == 0.0
    assert A.reward("5-9=", "-4") == 1.0
    assert A.reward(A.Problem(5, "-", 9), "") == 0.0
    with pytest.raises(DataError, match="is not an arithmetic problem"):
        A.reward("twelve plus two", "14")


def test_the_chat_and_plain_formats():
    p = A.Problem(12, "+", 34)
    assert p.question == "12+34=" and p.answer == "46" and p.line == "12+34=46"
    assert A.conversation(p) == {
        "messages": [{"role": "user", "content": "12+34="}, {"role": "assistant", "content": "46"}]
    }
    assert A.conversation(p, "47")["messages"][1]["content"] == "47"
    assert A.parse(" 305 - 48 = ") == A.Problem(305, "-", 48)


def test_wrong_answers_are_plausible_and_never_right():
    rng = random.Random(0)
    for p in A.problems(2000, 3):
        wrong = A.wrong_answer(p, rng)
        assert wrong != p.answer and A.reward(p, wrong) == 0.0 and wrong == str(int(wrong))


def test_the_corpus_and_the_preset():
    text = load_corpus("arithmetic")
    lines = text.splitlines()
    assert len(lines) == A.CORPUS_PROBLEMS and set(text) <= set(A.ALPHABET + "\n")
    assert all(A.reward(line.split("=")[0] + "=", line.split("=")[1]) == 1.0 for line in lines[:2000])
    assert not any(A.is_held_out(A.parse(line.split("=")[0])) for line in lines[:20000])
    cfg = resolve("arithmetic")
    assert "arithmetic" in PRESETS and cfg.data.corpus == "arithmetic" and cfg.data.tokenizer == "char"
    assert cfg.model.block_size >= 17  # a chat turn of the largest problem plus the reward readout token


def test_the_preset_pretrains_on_the_corpus(tmp_path):
    settings = {"train.max_steps": 3, "train.eval_every": 0, "train.eval_batches": 1, "train.threads": 1}
    result = train(tmp_path / "run", config=resolve("arithmetic", overrides=settings))
    assert result.steps == 3 and result.config.kind == "gpt" and result.config.model.vocab_size == 14
    assert len(result.samples) == 2 and all(set(s) <= set(A.ALPHABET + "\n") for s in result.samples)
