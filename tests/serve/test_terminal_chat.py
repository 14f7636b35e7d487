"""``glassgpt chat`` as a person uses it: piped input reads like the docs' transcript, Ctrl-C
during a reply stops it and returns to the prompt (the conversation keeps what was said),
Ctrl-C at the prompt ends the chat with status 0, and the options that cannot work are one
sentence.  The last test does it to a real process with real signals."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading

import pytest
from support.chatrun import QA
from support.runs import cli, fails, wait_until

from glassgpt.generation.sampling import SamplingSettings, generate
from glassgpt.models.from_run import load_run
from glassgpt.serve import session
from glassgpt.serve.session import chat_prompt, prompt_budget
from glassgpt.serve.terminal_chat import chat_loop

GREEDY = SamplingSettings(max_new_tokens=30, temperature=0.0)


class Terminal(io.StringIO):
    """Typed input: a terminal shows what is typed, so the chat does not echo it."""

    def isatty(self) -> bool:
        return True


def reply_to(run, messages, max_tokens: int = 30) -> str:
    """The greedy reply the chat gives to ``messages`` (their oldest turns dropped to fit, as the chat does)."""
    prompt, stops = chat_prompt(run.tokenizer, messages, prompt_budget(run.trained_context, max_tokens))
    ids = generate(run.model, prompt, max_tokens, temperature=0.0, stop_ids=stops, max_context=run.trained_context)[0]
    return run.tokenizer.decode([i for i in ids if i not in stops])


def test_piped_input_is_echoed_so_the_transcript_reads_like_a_conversation(chat):
    run = load_run(chat)
    out = io.StringIO()
    chat_loop(run, GREEDY, stdin=io.StringIO(f"{QA[0][0]}\n{QA[3][0]}\n"), out=out)
    first = reply_to(run, [{"role": "user", "content": QA[0][0]}])
    lines = out.getvalue().split("\n")
    assert lines[1:4] == [f"you> {QA[0][0]}", f"bot> {first}", f"you> {QA[3][0]}"]
    typed = io.StringIO()
    chat_loop(run, GREEDY, stdin=Terminal(f"{QA[0][0]}\n"), out=typed)
    assert typed.getvalue().split("\n")[1] == f"you> bot> {first}"  # the terminal already shows the line


def test_ctrl_c_during_a_reply_stops_it_and_the_chat_goes_on(chat, monkeypatch):
    run = load_run(chat)
    real = session.stream_text

    def interrupted_after_4(*args, **kwargs):
        for i, piece in enumerate(real(*args, **kwargs)):
            if i == 4:
                raise KeyboardInterrupt  # what Ctrl-C does while the model is sampling
            yield piece

    monkeypatch.setattr(session, "stream_text", interrupted_after_4)
    out = io.StringIO()
    script = io.StringIO(f"{QA[0][0]}\n/probs\n/probs\n")
    try:
        assert chat_loop(run, GREEDY, stdin=script, out=out) == 1
    except KeyboardInterrupt:  # caught here, or it would stop the whole test session
        pytest.fail("Ctrl-C during a reply ended the chat instead of stopping the reply")
    partial = reply_to(run, [{"role": "user", "content": QA[0][0]}])[:4]
    assert f"bot> {partial} [stopped]\nyou> /probs\nprobabilities on" in out.getvalue()
    # the next reply sees the stopped one as said (10 tokens a reply leave room for all of it in the prompt)
    out = io.StringIO()
    replies = []

    def once_then_real(*args, **kwargs):
        replies.append(args[1])
        source = interrupted_after_4 if len(replies) == 1 else real
        yield from source(*args, **kwargs)

    monkeypatch.setattr(session, "stream_text", once_then_real)
    short = SamplingSettings(max_new_tokens=10, temperature=0.0)
    chat_loop(run, short, stdin=io.StringIO(f"{QA[0][0]}\n{QA[3][0]}\n"), out=out)
    said = [
        {"role": "user", "content": QA[0][0]},
        {"role": "assistant", "content": partial},
        {"role": "user", "content": QA[3][0]},
    ]
    assert replies[1] == chat_prompt(run.tokenizer, said)[0]  # the whole conversation, the stopped reply in it
    assert out.getvalue().split("\n")[-3] == f"bot> {reply_to(run, said, 10)}"


class CtrlCAtThePrompt(io.StringIO):
    def readline(self, *args):
        line = super().readline(*args)
        if not line:
            raise KeyboardInterrupt
        return line


def test_ctrl_c_at_the_prompt_ends_the_chat_with_status_0(chat, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", CtrlCAtThePrompt(f"{QA[0][0]}\n"))
    code, err = cli(capsys, "chat", chat, "--temperature", 0, "--max-tokens", 30, "--threads", 1)
    assert code == 0 and err == ""


@pytest.mark.parametrize(
    "args,sentence",
    [
        (["--max-tokens", 0], "--max-tokens must be at least 1 (a reply needs a token), got 0."),
        (["--max-tokens", -3], "--max-tokens must be at least 1 (a reply needs a token), got -3."),
        (["--seed", -1], "--seed must be a whole number from 0 to 4294967295, got -1."),
    ],
)
def test_settings_a_chat_cannot_use_are_one_sentence(base, capsys, monkeypatch, args, sentence):
    monkeypatch.setattr("sys.stdin", io.StringIO("never read\n"))
    assert fails(capsys, "chat", base, *args, match=sentence) == f"error: {sentence}"


def test_a_system_message_on_a_run_without_chat_tokens_is_said_to_be_left_out(base, chat, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("the quick\n"))
    code, err = cli(capsys, "chat", base, "--system", "be brief", "--max-tokens", 5, "--threads", 1)
    assert code == 0
    assert err == (
        "note: --system is left out: this run has no chat tokens (fine-tune it with `glassgpt finetune`), "
        "so it continues your text instead."
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{QA[0][0]}\n"))
    code, err = cli(capsys, "chat", chat, "--system", "be brief", "--max-tokens", 5, "--threads", 1)
    assert code == 0 and err == ""  # a chat run takes it


@pytest.mark.slow
def test_a_real_ctrl_c_stops_the_reply_and_a_second_one_ends_the_chat(base, processes):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassgpt", "chat", str(base), "--max-tokens", "100000", "--threads", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    processes.procs.append(proc)  # killed when the test ends, whatever happens
    shown = bytearray()

    def pump() -> None:  # what the terminal would show, as it comes
        while chunk := os.read(proc.stdout.fileno(), 4096):
            shown.extend(chunk)

    reader = threading.Thread(target=pump)
    reader.start()
    proc.stdin.write(b"the quick\n")
    proc.stdin.flush()
    wait_until(lambda: len(shown.split(b"bot> ", 1)[-1]) > 20 and b"bot> " in shown, proc, what="a reply")
    proc.send_signal(signal.SIGINT)  # during a reply of 100,000 tokens
    wait_until(lambda: shown.endswith(b" [stopped]\nyou> "), proc, what="the prompt again")
    proc.send_signal(signal.SIGINT)  # at the prompt
    assert proc.wait(timeout=60) == 0
    reader.join(10)
    assert proc.stderr.read() == b""
    assert shown.startswith(b"glassgpt chat") and shown.endswith(b" [stopped]\nyou> \n")
