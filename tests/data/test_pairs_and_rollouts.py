"""The data of the stages after fine-tuning: pairs and prompts read from JSONL, sequences as arrays
whose targets are the reply only, group-mean advantages, and rollout batches whose state is plain
JSON that rebuilds a reused batch exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassgpt.data.pairs import encode_sides, read_pairs, read_prompts, reward_sides
from glassgpt.data.rollouts import DTYPES, ROLLOUT_FIELDS, RolloutBatches, group_advantages
from glassgpt.errors import DataError


def test_pairs_and_prompts_are_read_with_their_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [
        {"prompt": "12+34=", "chosen": "46", "rejected": "47"},
        {
            "messages": [{"role": "system", "content": "be right"}, {"role": "user", "content": "1+1="}],
            "chosen": "2",
            "rejected": "3",
        },
    ]
    path.write_text(json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n", encoding="utf-8")
    pairs = read_pairs(path)
    assert [p.line for p in pairs] == [1, 3]
    assert pairs[0].messages == ({"role": "user", "content": "12+34="},) and pairs[1].messages[0]["role"] == "system"
    path.write_text(json.dumps({"prompt": "5-9=", "answer": "-4"}) + "\n" + json.dumps({"prompt": "1+2="}) + "\n")
    prompts = read_prompts(path)
    assert [(p.question, p.answer) for p in prompts] == [("5-9=", "-4"), ("1+2=", None)]
    path.write_text(json.dumps({"prompt": "1+2=", "answer": 3}) + "\n")
    with pytest.raises(DataError, match='line 1: "answer" must be text, not int'):
        read_prompts(path)


def test_the_targets_are_the_reply_and_the_readout_is_never_predicted():
    sides = encode_sides([([5, 6, 7], [8, 9]), ([5], [8])])
    assert sides.ids.tolist() == [[5, 6, 7, 8, 9], [5, 8, 0, 0, 0]]
    assert sides.targets.tolist() == [[-1, -1, 8, 9, -1], [8, -1, -1, -1, -1]]
    assert sides.ends.tolist() == [4, 1]
    scored = reward_sides([([5, 6], [8, 9])], readout=99)
    assert scored.ids.tolist() == [[5, 6, 8, 9, 99]] and scored.ends.tolist() == [4]
    assert scored.targets.tolist() == [[-1, 8, 9, -1, -1]]


def test_group_advantages():
    rewards = np.array([1, 0, 0, 0, 1, 1, 1, 1], dtype=np.float32)
    adv = group_advantages(rewards, 4, std_norm=False)
    np.testing.assert_allclose(adv, [0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0])
    normed = group_advantages(rewards, 4, std_norm=True)
    np.testing.assert_allclose(normed[:4], np.array([0.75, -0.25, -0.25, -0.25]) / (np.sqrt(0.1875) + 1e-6), rtol=1e-6)
    assert not normed[4:].any()  # a group that agrees teaches nothing


def test_a_reused_batch_survives_the_checkpoint_as_json():
    class Source:
        class cfg:
            class train:
                ppo_epochs, group_size = 3, 2

        calls = 0

        def draw(self, n, batches):
            return [None] * n

    batches = RolloutBatches(Source(), seed=5)
    batch = (
        np.array([[1, 2, 3]]),
        np.array([[-1, 2, 3]]),
        np.array([0.5], dtype=np.float32),
        np.array([[0.0, -0.1234567, -2.5]], dtype=np.float32),
        np.array([[0.0, -0.2, -1e-8]], dtype=np.float32),
        np.array([1.0], dtype=np.float32),
        np.array([-1.0], dtype=np.float32),
        np.array([123.4], dtype=np.float32),
    )
    assert len(batch) == len(ROLLOUT_FIELDS) == len(DTYPES)
    batches.pending, batches.uses = batch, 1
    batches.rng.integers(10)
    state = json.loads(json.dumps(batches.state()))
    again = RolloutBatches(Source(), seed=0)
    again.set_state(state)
    assert again.uses == 1 and again.rng.integers(1 << 30) == batches.rng.integers(1 << 30)
    for a, b in zip(again.next(2), batch):  # the reused batch, bit for bit and of the same dtype
        assert a.dtype == b.dtype and np.array_equal(a, b)
