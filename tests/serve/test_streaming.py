"""Streaming generation (the library path chat and serve share) and the terminal chat."""

from __future__ import annotations

import io
import math

import pytest
import torch
from support.chatrun import QA

from glassgpt.generation.sampling import SamplingSettings, generate
from glassgpt.generation.streaming import TextStream, stream_tokens
from glassgpt.models.from_run import load_run
from glassgpt.serve.session import chat_prompt, completion_ids, prompt_budget
from glassgpt.serve.terminal_chat import chat_loop
from glassgpt.tokenizers import ByteTokenizer
from glassgpt.tokenizers.chat_template import render

SETTINGS = [
    dict(temperature=0.0),
    dict(temperature=1.0),
    dict(temperature=0.7, top_k=5),
    dict(temperature=1.3, top_p=0.8),
    dict(temperature=0.9, top_k=8, top_p=0.9),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_a_stream_gives_exactly_the_tokens_generate_gives(base, settings):
    run = load_run(base)
    prompt = run.tokenizer.encode("the quick brown fox")
    for seed in (0, 1, 7):
        expected = generate(run.model, prompt, 60, seed=seed, max_context=run.trained_context, **settings)[0]
        streamed = list(stream_tokens(run.model, prompt, 60, seed=seed, max_context=run.trained_context, **settings))
        assert [t.id for t in streamed] == expected  # 60 tokens: past the context of 48, so cropping is covered too


def test_each_token_carries_its_probability_and_the_top_alternatives(base):
    run = load_run(base)
    prompt = run.tokenizer.encode("the lazy")
    tokens = list(stream_tokens(run.model, prompt, 5, temperature=0.5, top_k=3, seed=2, top=10))
    ids = prompt[:]
    for t in tokens:
        with torch.no_grad():
            logits = run.model(torch.tensor(ids)[None])[0][0, -1]
        probs = logits.softmax(-1)
        assert t.prob == pytest.approx(float(probs[t.id]), rel=1e-5)
        assert len(t.top) == 10 and [p for _, p in t.top] == sorted((p for _, p in t.top), reverse=True)
        assert t.top[0][1] == pytest.approx(float(probs.max()), rel=1e-5)
        cut = (logits / 0.5).masked_fill(logits < logits.topk(3).values[-1], -math.inf).softmax(-1)
        assert t.sample_prob == pytest.approx(float(cut[t.id]), rel=1e-4)
        ids.append(t.id)
    greedy = list(stream_tokens(run.model, prompt, 3, temperature=0.0))
    assert all(t.sample_prob == 1.0 and t.id == t.top[0][0] for t in greedy)


def test_a_stop_token_ends_the_stream(chat):
    run = load_run(chat)
    prompt, stops = chat_prompt(run.tokenizer, [{"role": "user", "content": QA[0][0]}])
    assert stops[0] == run.tokenizer.special_tokens["<|assistant_end|>"] and len(stops) == 6
    tokens = list(stream_tokens(run.model, prompt, 40, temperature=0.0, stop_ids=stops))
    assert tokens[-1].id in stops and not any(t.id in stops for t in tokens[:-1])
    assert [t.id for t in tokens] == generate(run.model, prompt, 40, temperature=0.0, stop_ids=stops)[0]


def test_text_stream_holds_a_split_character_until_it_is_complete():
    stream = TextStream(ByteTokenizer())
    pieces = [stream.push(b) for b in "aé€".encode()]
    assert pieces == ["a", "", "é", "", "", "€"]
    assert stream.push(0xE2) == "" and stream.flush() == "\ufffd"


def test_terminal_chat_with_a_scripted_stdin(chat):
    run = load_run(chat)
    script = (
        "\n".join(
            [
                QA[0][0],
                "/probs",
                QA[1][0],
                "/temperature 0.5",
                "/top-k 3",
                "/top-p 0.9",
                "/top-k off",
                "/temperature -1",
                "/max-tokens x",
                "/bogus",
                "/clear",
                QA[0][0],
                "/quit",
                "never read",
            ]
        )
        + "\n"
    )
    out = io.StringIO()
    replies = chat_loop(run, SamplingSettings(max_new_tokens=30, temperature=0.0), stdin=io.StringIO(script), out=out)
    text = out.getvalue()
    assert replies == 3
    lines = text.split("\n")
    assert "chat template" in lines[0]
    # greedy reply 1 is what the library generates for the same conversation
    prompt, stops = chat_prompt(run.tokenizer, [{"role": "user", "content": QA[0][0]}])
    first = run.tokenizer.decode(
        [i for i in generate(run.model, prompt, 30, temperature=0.0, stop_ids=stops)[0] if i not in stops]
    )
    bot = [line.split("bot> ", 1)[1] for line in lines if "bot> " in line]
    assert bot[0] == first
    assert "probabilities on" in text and "[" in bot[1] and "]" in bot[1]  # /probs marks every token
    assert "temperature 0.5 · top-k 3 · top-p 0.9" in text and "temperature 0.5 · top-k off · top-p 0.9" in text
    assert "error: temperature must be a finite number, 0 or more (0 is greedy), got -1" in text
    assert "/max-tokens needs a number" in text and "unknown command /bogus" in text
    assert "conversation cleared" in text and "never read" not in text


def test_terminal_continues_text_for_a_run_without_chat_tokens(base):
    run = load_run(base)
    out = io.StringIO()
    chat_loop(run, SamplingSettings(max_new_tokens=12, temperature=0.0), stdin=io.StringIO("the quick\n"), out=out)
    text = out.getvalue()
    assert "text continuation" in text
    prompt, _ = completion_ids(run, "the quick\n")
    expected = run.tokenizer.decode(
        generate(run.model, prompt, 12, temperature=0.0, max_context=run.trained_context)[0]
    )
    assert "bot> " + expected in text


def test_a_long_chat_drops_its_oldest_turns_whole(chat):
    tok = load_run(chat).tokenizer
    system = {"role": "system", "content": "be brief."}
    turns = [{"role": r, "content": QA[i // 2][i % 2]} for i, r in enumerate(["user", "assistant"] * 3)]
    last = {"role": "user", "content": QA[3][0]}
    full, _ = chat_prompt(tok, [system, *turns, last])
    assert chat_prompt(tok, [system, *turns, last], budget=len(full))[0] == full  # fits: unchanged
    kept, _ = chat_prompt(tok, [system, *turns, last], budget=len(full) - 1)
    assert kept == render_ids(tok, [system, *turns[2:], last])  # the first exchange went, the system message stayed
    tight, _ = chat_prompt(tok, [system, *turns, last], budget=len(render_ids(tok, [system, last])))
    assert tight == render_ids(tok, [system, last])  # never a reply without the question before it
    assert chat_prompt(tok, [system, *turns, last], budget=3)[0] == render_ids(tok, [last])  # always the last message
    assert prompt_budget(64, 300) == 32 and prompt_budget(64, 10) == 54


def render_ids(tok, messages):
    return render(tok, messages, add_generation_start=True).ids
