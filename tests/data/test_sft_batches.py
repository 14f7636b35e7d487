"""SFT rows (best-fit packing, padding, segments, overflow) and growing the vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.data.conversation_rows import SFTBatches, best_fit, encode_conversations, eval_batches, fill_rows
from glassgpt.data.conversations import Conversation, conversations_path, read_conversations
from glassgpt.errors import DataError
from glassgpt.models import GPT
from glassgpt.stages.grow import NOISE, grow_vocabulary
from glassgpt.tokenizers import CharTokenizer, add_special_tokens
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, render

TOK = add_special_tokens(CharTokenizer.train("abcdefghijklmnopqrstuvwxyz .?!"), CHAT_SPECIALS)


def conv(user: str, reply: str, line: int = 1) -> Conversation:
    return Conversation(({"role": "user", "content": user}, {"role": "assistant", "content": reply}), line)


def test_best_fit_puts_each_example_in_the_fullest_row_that_has_room():
    rows = best_fit([6, 5, 4, 3, 2, 2], capacity=8)
    # 6 -> new row A (room 2); 5 -> new B (room 3); 4 -> new C (room 4); 3 -> B (room 3 is the best fit);
    # 2 -> A (room 2); 2 -> C (room 4 is the only one left)
    assert rows == [[0, 4], [1, 3], [2, 5]]
    lengths = np.random.default_rng(0).integers(1, 20, 300).tolist()
    rows = best_fit(lengths, 24)
    assert sorted(i for r in rows for i in r) == list(range(300))
    assert all(sum(lengths[i] for i in r) <= 24 for r in rows)
    assert len(rows) <= 1.3 * sum(lengths) / 24 + 1  # near the lower bound


def test_rows_are_filled_in_order_then_padded():
    ex = [(np.array([1, 2, 3]), np.array([-1, 5, 6])), (np.array([7, 8]), np.array([9, -1]))]
    x, y, seg = fill_rows(ex, [[0, 1], [1]], capacity=6)
    assert x.tolist() == [[1, 2, 3, 7, 8, 0], [7, 8, 0, 0, 0, 0]]
    assert y.tolist() == [[-1, 5, 6, 9, -1, -1], [9, -1, -1, -1, -1, -1]]
    assert seg.tolist() == [[0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 1, 1]]


def test_a_conversation_longer_than_the_context_is_refused_or_truncated():
    convs = [conv("hi", "ok"), conv("tell me a long story please", "once upon a time there was a fox.", line=7)]
    long_len = len(render(TOK, convs[1].messages).ids)
    with pytest.raises(
        DataError,
        match=rf"sft.jsonl line 7: the conversation is {long_len} tokens, more than the "
        r"model's context of 40 \+ 1; shorten it or pass --overflow truncate",
    ):
        encode_conversations(convs, TOK, 40, "error", "sft.jsonl")
    out = encode_conversations(convs, TOK, 40, "truncate", "sft.jsonl")
    assert out.report["truncated"] == 1 and out.report["dropped"] == 0 and out.report["conversations"] == 2
    assert len(out.examples[1][0]) == 40 and out.lines == [1, 7]
    # cut before the reply begins: nothing is left to learn, so it is dropped and counted
    out = encode_conversations(convs, TOK, 20, "truncate", "sft.jsonl")
    assert out.report["dropped"] == 1 and len(out.examples) == 1


def test_a_character_the_tokenizer_lacks_names_the_line():
    with pytest.raises(DataError, match=r"f.jsonl line 3: the character 'Z'"):
        encode_conversations([conv("Zed", "ok", line=3)], TOK, 64, "error", "f.jsonl")


def test_training_rows_cover_every_conversation_each_epoch_and_resume_exactly():
    convs = [conv("q" * (i % 5 + 1), "a" * (i % 7 + 1), i + 1) for i in range(20)]
    examples = encode_conversations(convs, TOK, 32, "error").examples
    source = SFTBatches(examples, capacity=32, seed=3)
    epoch_rows = len(source._rows[0])
    x, y, seg = source.next(epoch_rows)
    assert source.state() == {"epoch": 0, "row": epoch_rows}
    assert all(seg[i, j] <= seg[i, j + 1] for i in range(len(x)) for j in range(31))  # segments in order
    counted = int((y >= 0).sum())
    assert counted == sum(int((e[1] >= 0).sum()) for e in examples)  # every conversation once per epoch
    state = source.state()
    after = source.next(5)  # crosses into epoch 1: reshuffled and repacked
    assert source.state()["epoch"] == 1
    source.set_state(state)
    again = source.next(5)
    assert all(np.array_equal(a, b) for a, b in zip(after, again))
    assert not np.array_equal(SFTBatches(examples, 32, seed=4).next(3)[0], SFTBatches(examples, 32, seed=3).next(3)[0])


def test_eval_batches_keep_file_order_and_cut_into_batches():
    examples = encode_conversations([conv("q" * 8, "a" * 8, i) for i in range(1, 6)], TOK, 24, "error").examples
    batches = eval_batches(examples, 24, batch_size=2)
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    assert sum(int((b[1] >= 0).sum()) for b in batches) == 5 * 9


@pytest.mark.parametrize("tied,pad", [(True, 1), (False, 1), (False, 16)])
def test_growing_keeps_old_logits_and_starts_new_rows_at_the_mean(tied, pad):
    cfg = ModelConfig(
        vocab_size=30,
        block_size=16,
        n_layer=1,
        n_head=2,
        n_embd=16,
        tie_weights=tied,
        head_bias=not tied,
        pad_vocab_to=pad,
    )
    torch.manual_seed(0)
    old = GPT(cfg).eval()
    new_cfg, weights = grow_vocabulary(cfg, old.weights(), 36, seed=5)
    new = GPT(new_cfg).eval()
    new.load_weights(weights)
    x = torch.randint(0, 30, (2, 10))
    with torch.no_grad():
        before, after = old(x)[0], new(x)[0]
    assert after.shape[-1] == 36 and torch.equal(after[..., :30], before)  # old tokens: exactly the same logits
    mean_logit = before.mean(-1)
    assert torch.allclose(after[..., 30:], mean_logit[..., None].expand(-1, -1, 6), atol=0.05 * before.std())
    wte = weights["transformer.wte.weight"]
    rows = old.transformer.wte.weight.detach()[:30]
    noise = wte[30:36] - rows.mean(0)
    assert noise.abs().max() > 0 and float(noise.std()) == pytest.approx(NOISE * float(rows.std()), rel=0.35)
    assert torch.count_nonzero(wte[36:]) == 0  # padding rows
    again = grow_vocabulary(cfg, old.weights(), 36, seed=5)[1]
    assert all(torch.equal(again[k], weights[k]) for k in weights)  # seeded
    if not tied:
        assert torch.allclose(weights["lm_head.bias"][30:36], old.lm_head.bias.detach()[:30].mean().expand(6))


#: the 75 characters of the built-in Shakespeare corpus (the baby model's vocabulary)
SHAKESPEARE_CHARS = set("\n !\"$&',-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def test_the_shipped_qa_set_fits_the_shakespeare_baby_model():
    convs = read_conversations("qa")  # a built-in name when no such file exists
    assert len(convs) == 214 and conversations_path("qa").name == "qa.jsonl"
    for c in convs:
        user, reply = (m["content"] for m in c.messages)
        assert set(user + reply) <= SHAKESPEARE_CHARS, c.line
        assert len(user) + len(reply) + 4 - 1 <= 64, c.line  # positions with the four role tokens: the context
    assert len({c.messages[0]["content"] for c in convs}) == 214  # no question twice
