"""Chat and the playground steered: every reply under a constraint matches it, a bad one is
refused (exit 2, or 422), and a calculator call is shown apart from the text and kept in the
conversation with its parts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import regex
import torch

from glassgpt.cli import main
from glassgpt.config import ModelConfig, RunConfig
from glassgpt.models.from_run import LoadedRun, load_run
from glassgpt.serve.session import ChatSession
from glassgpt.serve.terminal_chat import chat_loop
from glassgpt.tokenizers import ByteTokenizer, add_special_tokens
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, TOOL_SPECIALS, render

PATTERN = r"(the|a) (lazy|quick) (dog|fox)\."


def test_every_chat_reply_matches_the_constraint(chat, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("the quick\nhow vexingly\npack my\n"))
    assert (
        main(["chat", str(chat), "--regex", PATTERN, "--seed", "3", "--temperature", "1.2", "--max-tokens", "30"]) == 0
    )
    replies = [line[len("bot> ") :] for line in capsys.readouterr().out.splitlines() if line.startswith("bot> ")]
    assert len(replies) == 3 and all(regex.fullmatch(PATTERN, r) for r in replies), replies


def test_chat_refuses_a_bad_constraint(chat, capsys):
    assert main(["chat", str(chat), "--regex", "(the"]) == 2
    assert "is not a valid regular expression" in capsys.readouterr().err
    assert main(["chat", str(chat), "--choices", "ok", "--regex", "x"]) == 2
    assert "two constraints" in capsys.readouterr().err
    assert main(["chat", str(chat), "--regex", "a{40}", "--max-tokens", "10"]) == 2
    assert "takes 40 tokens, more than --max-new-tokens 10" in capsys.readouterr().err


class Scripted(torch.nn.Module):
    """Wants to write ``script[k]`` as its k-th new token after a prompt of ``prompt_len``."""

    def __init__(self, vocab: int, prompt_len: int, script: list[int]):
        super().__init__()
        self.config = ModelConfig(vocab_size=vocab, block_size=128, n_layer=1, n_head=1, n_embd=8)
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.prompt_len, self.script = prompt_len, script

    def forward(self, idx, targets=None, *, last_only=False, **_):
        k = max(0, idx.size(1) - self.prompt_len)
        logits = torch.zeros(idx.size(0), 1, self.config.vocab_size)
        logits[:, :, self.script[min(k, len(self.script) - 1)]] = 20.0
        return logits, None


@pytest.fixture
def tool_run():
    tok = add_special_tokens(ByteTokenizer(), CHAT_SPECIALS + TOOL_SPECIALS)
    s = tok.special_tokens
    prompt = render(tok, [{"role": "user", "content": "12+34="}], add_generation_start=True).ids
    script = [s["<|tool_start|>"], *tok.encode("12+34"), s["<|tool_end|>"], *tok.encode("0000"), *tok.encode("46")]
    script.append(s["<|assistant_end|>"])
    model = Scripted(tok.vocab_size, len(prompt), script)
    return LoadedRun(Path("tool-run"), RunConfig(), model, tok, 128)


def test_the_terminal_shows_a_tool_call_apart_and_keeps_its_parts(tool_run):
    out = io.StringIO()
    assert chat_loop(tool_run, stdin=io.StringIO("12+34=\n"), out=out) == 1
    bot = [line for line in out.getvalue().splitlines() if line.startswith("bot> ")][0]
    assert bot == "bot> ⟨calculator: 12+34 → 46⟩46"
    session = ChatSession(tool_run)
    list(session.reply("12+34="))
    assert session.messages[-1]["content"] == [
        {"type": "tool", "text": "12+34", "output": "46"},
        {"type": "text", "text": "46"},
    ]


def test_the_playground_streams_forced_tokens_and_the_replys_parts(tool_run):
    from glassgpt.serve.app import Playground  # the serve extra is not needed to build the events

    play = Playground(tool_run)
    stream = play.start_chat({"messages": [{"role": "user", "content": "12+34="}], "temperature": 0})
    events = [(e.split("\n")[0][7:], json.loads(e.split("\n")[1][6:])) for e in stream]
    tokens = [d for name, d in events if name == "token"]
    assert "".join(d["text"] for d in tokens if d["forced"]) == "46"
    assert sum(d["forced"] for d in tokens) == 4  # <|output_start|> 4 6 <|output_end|>
    done = events[-1][1]
    assert done["content"][0] == {"type": "tool", "text": "12+34", "output": "46"}


def test_the_playground_takes_a_constraint_and_refuses_a_bad_one(chat):
    from glassgpt.serve.app import Playground, RequestError

    play = Playground(load_run(chat))
    body = {"messages": [{"role": "user", "content": "the quick"}], "regex": PATTERN, "seed": 1, "max_tokens": 30}
    events = [(e.split("\n")[0][7:], json.loads(e.split("\n")[1][6:])) for e in play.start_chat(body)]
    assert regex.fullmatch(PATTERN, events[-1][1]["text"])
    for bad, message in (({"regex": "(x"}, "not a valid regular expression"), ({"json_schema": 3}, "schema object")):
        with pytest.raises(RequestError, match=message) as info:
            play.start_generate({"prompt": "the", **bad})
        assert info.value.status == 422
