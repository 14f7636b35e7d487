"""Tool use: the calculator (exact, bounded, arithmetic only), the tool tokens of the chat
template and their loss mask, the loop that forces a call's output into the stream, and
fine-tuning on conversations that call the calculator."""

import pytest
import torch

from glassgpt.config import ModelConfig
from glassgpt.data.conversations import parse_conversation
from glassgpt.errors import DataError
from glassgpt.generation.calculator import ToolError, calculate
from glassgpt.generation.sampling import generate
from glassgpt.generation.tools import parts, text_of, tool_rows
from glassgpt.tokenizers import ByteTokenizer, add_special_tokens
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, TOOL_SPECIALS, render


@pytest.mark.parametrize(
    "expression, value",
    [
        ("12+34", "46"),
        ("12*(3+4)", "84"),
        ("7 - 10", "-3"),
        ("-(2+3)*4", "-20"),
        ("1/3", "0.333333"),
        ("10/4", "2.5"),
        ("6÷3×2", "4"),
        ("0.1+0.2", "0.3"),  # exact: fractions, not floats
        ("999999999*999999999", "999999998000000001"),
    ],
)
def test_the_calculator_is_exact(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize(
    "expression, message",
    [
        ("__import__('os').system('echo hi')", "is not arithmetic"),
        ("2**100", "is not arithmetic"),
        ("abs(-3)", "is not arithmetic"),
        ("x+1", "is not arithmetic"),
        ("1 < 2", "is not arithmetic"),
        ("'a'*3", "is not arithmetic"),
        ("1e5", "a number written in a way"),
        ("0x10", "a number written in a way"),
        ("1/0", "divides by zero"),
        ("5/(3-3)", "divides by zero"),
        ("9" * 31, "more than 30 digits"),
        ("99999999999*" * 4 + "9", "more than 30 digits"),
        ("1+" * 150 + "1", "more than the 200 allowed"),
        ("", "empty"),
    ],
)
def test_the_calculator_refuses_what_is_not_bounded_arithmetic(expression, message):
    with pytest.raises(ToolError, match=message) as info:
        calculate(expression)
    assert str(info.value).endswith(".")


@pytest.fixture(scope="module")
def tok():
    return add_special_tokens(ByteTokenizer(), CHAT_SPECIALS + TOOL_SPECIALS)


def tool_reply():
    return [{"type": "tool", "text": "12+34"}, {"type": "text", "text": "46"}]


def test_tool_outputs_are_masked_out_of_the_loss(tok):
    conv = parse_conversation(
        {"messages": [{"role": "user", "content": "12+34="}, {"role": "assistant", "content": tool_reply()}]}, "x"
    )
    assert conv.messages[1]["content"][0]["output"] == "46"  # computed by the calculator as the file is read
    rendered = render(tok, conv.messages)
    names = {v: k for k, v in tok.special_tokens.items()}
    shown = [(names.get(i, tok.decode([i])), c) for i, c in zip(rendered.ids, rendered.counted)]
    reply = shown[shown.index(("<|assistant_start|>", False)) + 1 :]
    assert reply == [
        ("<|tool_start|>", True),
        *[(ch, True) for ch in "12+34"],
        ("<|tool_end|>", True),
        ("<|output_start|>", False),
        ("4", False),
        ("6", False),
        ("<|output_end|>", False),
        ("4", True),
        ("6", True),
        ("<|assistant_end|>", True),
    ]
    x, y = rendered.training_pair()
    masked = [
        tok.decode([int(t)]) if t < 256 else names[int(t)] for t, target in zip(rendered.ids[1:], y) if target < 0
    ]
    assert masked[-4:] == ["<|output_start|>", "4", "6", "<|output_end|>"]


@pytest.mark.parametrize(
    "part, message",
    [
        ({"type": "tool", "text": "open('x')"}, "is not arithmetic"),
        ({"type": "tool", "text": "4/0"}, "divides by zero"),
        ({"type": "image", "text": "x"}, 'is not {"type": "text" or "tool"'),
    ],
)
def test_a_bad_tool_call_in_the_data_is_one_sentence(part, message):
    with pytest.raises(DataError, match=message):
        parse_conversation(
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [part]}]}, "f.jsonl line 3"
        )


class Scripted(torch.nn.Module):
    """A 'model' that wants to write ``script[k]`` as its k-th new token, whatever came before."""

    def __init__(self, vocab: int, prompt_len: int, script: list[int]):
        super().__init__()
        self.config = ModelConfig(vocab_size=vocab, block_size=64, n_layer=1, n_head=1, n_embd=8)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.prompt_len, self.script = prompt_len, script

    def forward(self, idx, targets=None, *, last_only=False, **_):
        k = idx.size(1) - self.prompt_len
        logits = torch.zeros(idx.size(0), 1, self.config.vocab_size)
        logits[:, :, self.script[min(k, len(self.script) - 1)]] = 20.0
        return logits, None


def scripted_reply(tok, expression: str, wrong: str, answer: str):
    s = tok.special_tokens
    call = [s["<|tool_start|>"], *tok.encode(expression), s["<|tool_end|>"]]
    return call, [*call, *[tok.encode("9")[0]] * (len(wrong) + 2), *tok.encode(answer), s["<|assistant_end|>"]]


def test_the_loop_runs_the_call_and_forces_its_output(tok):
    """The model writes a call, then 'wants' 9s where the output goes: the calculator's 46 is
    forced in instead, and the model goes on after it."""
    call, script = scripted_reply(tok, "12+34", "46", "46")
    model = Scripted(tok.vocab_size, 3, script)
    end = tok.special_tokens["<|assistant_end|>"]
    out = generate(model, [1, 2, 3], 30, temperature=0, stop_ids=(end,), steer=tool_rows(tok))[0]
    assert parts(tok, out[:-1]) == [
        {"type": "tool", "text": "12+34"},
        {"type": "output", "text": "46"},
        {"type": "text", "text": "46"},
    ]
    assert text_of(tok, out[:-1]) == "46"
    free = generate(model, [1, 2, 3], 30, temperature=0, stop_ids=(end,))[0]
    assert tok.decode([i for i in free if i < 256]) == "12+34" + "9999" + "46"  # without the loop the 9s stay


def test_a_division_by_zero_is_an_error_shown_to_the_model(tok):
    call, script = scripted_reply(tok, "1/0", "", "ok")
    model = Scripted(
        tok.vocab_size, 1, script[: len(call)] + [tok.encode("o")[0]] * 60 + [tok.special_tokens["<|assistant_end|>"]]
    )
    steer = tool_rows(tok)
    rows = []
    out = generate(model, [1], 80, temperature=0, steer=lambda i: rows.append(steer(i)) or rows[-1])[0]
    assert rows[0].calls[0].error and rows[0].calls[0].expression == "1/0"
    shown = parts(tok, out)
    assert shown[1] == {"type": "output", "text": "error: the tool call '1/0' divides by zero."}


def test_a_stream_marks_the_forced_tool_output(tok):
    from glassgpt.generation.streaming import stream_tokens

    call, script = scripted_reply(tok, "2*21", "42", "42")
    model = Scripted(tok.vocab_size, 1, script)
    streamed = list(stream_tokens(model, [1], len(script), temperature=0, steer=tool_rows(tok)(0)))
    forced = [t for t in streamed if t.forced]
    assert tok.decode([t.id for t in forced if t.id < 256]) == "42" and len(forced) == 4
    assert all(t.sample_prob == 1.0 for t in forced)


def test_the_arithmetic_task_has_a_tool_use_variant(tok):
    from glassgpt.data.conversations import conversations_path, read_conversations
    from glassgpt.tasks import arithmetic

    problem = arithmetic.Problem(305, "-", 48)
    conv = parse_conversation(arithmetic.tool_conversation(problem), "x")
    reply = conv.messages[1]["content"]
    assert reply == [{"type": "tool", "text": "305-48", "output": "257"}, {"type": "text", "text": "257"}]
    rendered = render(tok, conv.messages)
    assert tok.decode([i for i, c in zip(rendered.ids, rendered.counted) if c and i < 256]) == "305-48257"
    conversations = read_conversations(conversations_path("arithmetic-tools:digits=2"))
    assert len(conversations) == arithmetic.SFT_PROBLEMS
    for c in conversations[:50]:
        call, answer = c.messages[1]["content"]
        assert call["output"] == answer["text"] == arithmetic.parse(c.messages[0]["content"]).answer
