"""``glassgpt chat``: a conversation in the terminal, streamed token by token.

Type a message and press Enter; the reply appears as it is sampled.  Commands:

    /temperature T   softmax temperature (0 = greedy)
    /top-k K         sample from the K most likely tokens (off: no cut)
    /top-p P         sample from the smallest set of probability P (off: no cut)
    /max-tokens N    most tokens per reply
    /probs           show each token's probability after it: to[0.93]
    /clear           forget the conversation
    /settings        print the current settings
    /help, /quit     (end of input quits too)

Ctrl-C during a reply stops it (what was written so far stays in the conversation) and
returns to the prompt; Ctrl-C at the prompt ends the chat, like /quit.

The loop reads lines from any text stream and writes to any other, so it runs the same
under a test with a scripted stdin as in a terminal (colour only when writing to one).  Input
that is not a terminal (a pipe, a file) is echoed after the prompt, so a piped transcript
reads ``you> question`` / ``bot> answer`` like a typed one.

A run fine-tuned on conversations that call the calculator shows each call apart from the
reply's text, as ``⟨calculator: 12+34 → 46⟩`` (cyan on a terminal): the model wrote the
expression, the program wrote the answer.  ``--regex``, ``--choices`` and ``--json-schema``
hold every reply to a constraint.
"""

from __future__ import annotations

import sys
from typing import TextIO

from glassgpt.errors import GlassError
from glassgpt.generation.constraints import Constraint
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings
from glassgpt.models.from_run import LoadedRun
from glassgpt.serve.session import ChatSession
from glassgpt.tokenizers.chat_template import TOOL_CALL, TOOL_OUTPUT

HELP = __doc__.split("Commands:")[1].split("The loop")[0].rstrip()
#: how the tool tokens are shown: a call and its output as one bracketed span
TOOL_MARKS = {
    TOOL_CALL[0]: "⟨calculator: ",
    TOOL_CALL[1]: " → ",
    TOOL_OUTPUT[0]: "",
    TOOL_OUTPUT[1]: "⟩",
}
CYAN, PLAIN = "\x1b[36m", "\x1b[0m"
OFF = ("off", "none", "0")


def chat_loop(
    run: LoadedRun,
    settings: SamplingSettings = DEFAULTS,
    *,
    seed: int | None = None,
    system: str = "",
    probs: bool = False,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    constraint: Constraint | None = None,
) -> int:
    """Talk to ``run`` until /quit, Ctrl-C at the prompt or end of input; returns the number of
    replies (a reply stopped by Ctrl-C counts).  With ``seed``, reply i is sampled with seed + i,
    so a scripted conversation is reproducible."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    session = ChatSession(run, settings, system, constraint)
    colour, echo = out.isatty(), not stdin.isatty()
    mode = (
        "chat template"
        if session.chat
        else "names (a word-list run: type the start of a name, or nothing)"
        if run.words
        else "text continuation (this run has no chat tokens)"
    )
    out.write(f"glassgpt chat · {run.run_dir} · {mode} · /help for commands\n")
    replies = 0
    while True:
        out.write("you> ")
        out.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:  # Ctrl-C at the prompt: the end of the chat
            line = ""
        if not line:
            out.write("\n")
            return replies
        line = line.rstrip("\n")
        if echo:
            out.write(line + "\n")
        if line.startswith("/"):
            if line.split()[0] in ("/quit", "/exit"):
                return replies
            probs = _command(session, line, probs, out)
            continue
        if not line.strip() and not run.words:
            continue
        out.write("bot> " + (line.strip() if run.words else ""))
        text = line.strip() if run.words else line if session.chat else line + "\n"
        stream = session.reply(text, None if seed is None else seed + replies)
        try:
            for piece in stream:
                if piece.token.id in session.stop_ids:  # the end of the reply: nothing to show
                    continue
                out.write(_shown(run.tokenizer.token_str(piece.token.id), colour) if piece.special else piece.text)
                if probs and piece.token.id >= 0:
                    mark = f"[{piece.token.prob:.2f}]"
                    out.write(f"\x1b[2m{mark}\x1b[0m" if colour else mark)
                out.flush()
        except GlassError as exc:
            out.write(f"\nerror: {exc}")
        except KeyboardInterrupt:  # Ctrl-C during a reply: stop it, back to the prompt
            out.write(" [stopped]")
        finally:
            stream.close()  # the session keeps what was streamed
        out.write("\n")
        replies += 1


def _shown(special: str, colour: bool) -> str:
    """A special token as the chat shows it: a tool call's marks (cyan from the call's start to
    its output's end), any other special in brackets."""
    mark = TOOL_MARKS.get(special)
    if mark is None:
        return f"[{special}]"
    if not colour:
        return mark
    if special == TOOL_CALL[0]:
        return CYAN + mark
    return mark + PLAIN if special == TOOL_OUTPUT[1] else mark


def _command(session: ChatSession, line: str, probs: bool, out: TextIO) -> bool:
    """Run one slash command; returns the new /probs state."""
    name, *rest = line.split()
    value = rest[0] if rest else ""
    try:
        if name == "/probs":
            probs = not probs
            out.write(f"probabilities {'on' if probs else 'off'}\n")
        elif name == "/clear":
            session.clear()
            out.write("conversation cleared\n")
        elif name in ("/settings", "/help"):
            out.write((HELP + "\n" if name == "/help" else "") + _settings(session.settings, probs) + "\n")
        elif name in SETTERS and value:
            key, parse = SETTERS[name]
            session.update(**{key: parse(value)})
            out.write(_settings(session.settings, probs) + "\n")
        elif name in SETTERS:
            out.write(f"{name} needs a value, e.g. {name} {EXAMPLES[name]}\n")
        else:
            out.write(f"unknown command {name}; /help lists the commands\n")
    except ValueError:
        out.write(f"{name} needs a number, e.g. {name} {EXAMPLES[name]}\n")
    except GlassError as exc:
        out.write(f"error: {exc}\n")
    return probs


def _settings(s: SamplingSettings, probs: bool) -> str:
    return (
        f"temperature {s.temperature:g} · top-k {s.top_k or 'off'} · top-p {s.top_p or 'off'} · "
        f"max tokens {s.max_new_tokens} · probabilities {'on' if probs else 'off'}"
    )


def _optional(kind):
    return lambda text: None if text.lower() in OFF else kind(text)


SETTERS = {
    "/temperature": ("temperature", float),
    "/top-k": ("top_k", _optional(int)),
    "/top-p": ("top_p", _optional(float)),
    "/max-tokens": ("max_new_tokens", int),
}
EXAMPLES = {"/temperature": "0.7", "/top-k": "40", "/top-p": "0.9", "/max-tokens": "200"}
