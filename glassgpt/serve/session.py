"""A conversation with a run, shared by the terminal chat and the web playground.

Runs fine-tuned for chat (their tokenizer holds the chat tokens) talk through the chat
template: the messages so far, then ``<|assistant_start|>``; the reply streams until
``<|assistant_end|>``.  A run trained on a word list (the makemore ladder) *completes
names*: what you type is the start of a name (nothing: any name), and the reply is the
rest of it, up to the ``.`` that ends it.  Other runs *continue text*: what you type is
appended to the running text and the model writes on from there.

A ``Constraint`` (``--regex``, ``--choices``, ``--json-schema``) holds every reply to it (for a
name, the rest of the name); a chat run with the tool tokens runs the calculator calls its
model writes, and the reply is kept with its tool parts, so the next prompt renders them as
the model wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from glassgpt.generation.constraints import ConstrainedRow, Constraint, automaton_for, require_room
from glassgpt.generation.sampling import DEFAULTS, SamplingSettings, default_prompt_ids
from glassgpt.generation.steering import RowSteer
from glassgpt.generation.streaming import StreamedToken, TextStream, stream_tokens
from glassgpt.generation.tools import reply_content, tool_rows
from glassgpt.makemore.models.sequence import START
from glassgpt.makemore.words import encode_word
from glassgpt.models.from_run import LoadedRun
from glassgpt.tokenizers import Tokenizer
from glassgpt.tokenizers.chat_template import is_chat_tokenizer, render, reply_stop_ids, tool_tokens


def completion_ids(run: LoadedRun, text: str) -> tuple[list[int], tuple[int, ...]]:
    """(prompt ids, stop ids) to continue ``text``: a neutral start when it is empty; for a
    word-list run, ``.`` and the start of a name, stopping at the ``.`` that ends it."""
    if run.words:
        return [START, *encode_word(run.tokenizer, text)], (START,)
    return (run.tokenizer.encode(text) if text else default_prompt_ids(run.tokenizer)), ()


def chat_prompt(
    tokenizer: Tokenizer, messages: Sequence[dict], budget: int | None = None
) -> tuple[list[int], tuple[int, ...]]:
    """(prompt ids, the ids that end the reply: ``tokenizers.chat.reply_stop_ids``) for the
    model's next reply to ``messages``.

    ``budget``: the most prompt tokens (leave the rest of the context for the reply).  The
    oldest turns are left out, whole (the kept part starts at a user message), until the
    prompt fits (a leading system message is kept while it fits); the last message is always
    kept.  A model trained on single
    conversations of at most its context never saw a conversation cut mid-turn, so whole
    turns are dropped rather than letting the sampler crop the prompt's start."""
    end = reply_stop_ids(tokenizer)
    ids = render(tokenizer, messages, add_generation_start=True).ids
    if budget is None or len(ids) <= budget:
        return ids, end
    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = list(messages[len(system) :])
    for start in [i for i in range(1, len(rest)) if rest[i]["role"] != "assistant"]:  # begin at a user turn
        for head in (system, []):
            ids = render(tokenizer, head + rest[start:], add_generation_start=True).ids
            if len(ids) <= budget:
                return ids, end
    return render(tokenizer, rest[-1:], add_generation_start=True).ids, end


def prompt_budget(context: int, max_new_tokens: int) -> int:
    """Prompt tokens a chat keeps: the context minus room for the reply (at most half the context)."""
    return max(1, context - min(max_new_tokens, context // 2))


@dataclass(frozen=True)
class Piece:
    """One streamed token and the text it adds: "" while a character is incomplete, and "" for
    a special token (``special``), which is never part of a message's text."""

    token: StreamedToken
    text: str
    special: bool = False

    @property
    def forced(self) -> bool:
        """Written by the program (a tool's output), not drawn."""
        return self.token.forced


def stream_text(
    run: LoadedRun,
    prompt: list[int],
    settings: SamplingSettings,
    seed: int | None = None,
    stop_ids: Sequence[int] = (),
    top: int = 10,
    lock=None,
    steer: RowSteer | None = None,
) -> Iterator[Piece]:
    """Stream a continuation of ``prompt`` as ``Piece``s; a stop token ends it.  Special tokens
    (stop tokens among them) add no text.  ``steer``: a constraint or a tool loop (``stream_tokens``)."""
    text = TextStream(run.tokenizer)
    specials = set(run.tokenizer.special_tokens.values())
    for token in stream_tokens(
        run.language_model,
        prompt,
        settings.max_new_tokens,
        settings.temperature,
        settings.top_k,
        settings.top_p,
        seed,
        stop_ids,
        run.trained_context,
        top,
        lock,
        steer,
    ):
        special = token.id in specials
        yield Piece(token, "" if special else text.push(token.id), special)
    tail = text.flush()
    if tail:
        yield Piece(StreamedToken(-1, 1.0, 1.0, ()), tail)


def row_steer(
    run: LoadedRun, constraint: Constraint | None, max_new_tokens: int
) -> Callable[[SamplingSettings], RowSteer | None]:
    """What steers each reply: a fresh ``ConstrainedRow`` (compiled once, here, and refused now
    when no reply within ``max_new_tokens`` can match), else a ``ToolRow`` when the run has the
    tool tokens, else nothing.  Called with the settings of the reply."""
    if constraint is not None:
        automaton = automaton_for(constraint, run.tokenizer, excluded=(START,) if run.words else ())
        require_room(automaton, max_new_tokens)

        def constrained(settings: SamplingSettings) -> RowSteer:
            require_room(automaton, settings.max_new_tokens)
            return ConstrainedRow(automaton)

        return constrained
    tools = tool_rows(run.tokenizer) if not run.words else None
    return lambda settings: tools(0) if tools is not None else None


class ChatSession:
    """The state of one terminal conversation: the messages (chat runs) or the running text."""

    def __init__(
        self,
        run: LoadedRun,
        settings: SamplingSettings = DEFAULTS,
        system: str = "",
        constraint: Constraint | None = None,
    ):
        self.run, self.settings, self.system = run, settings, system
        self.chat = is_chat_tokenizer(run.tokenizer)
        self.steer = row_steer(run, constraint, settings.max_new_tokens)
        self.stop_ids = reply_stop_ids(run.tokenizer) if self.chat else (START,) if run.words else ()
        self.messages: list[dict] = []
        self.text = ""

    def clear(self) -> None:
        self.messages, self.text = [], ""

    def update(self, **changes) -> SamplingSettings:
        """Change sampling settings (checked: a bad value raises and changes nothing)."""
        settings = replace(self.settings, **changes)
        settings.check()
        self.settings = settings
        return settings

    def reply(self, user_text: str, seed: int | None = None) -> Iterator[Piece]:
        """Stream the model's answer to ``user_text`` and remember both (the part streamed so
        far when the stream is stopped early, e.g. by Ctrl-C)."""
        if self.chat:
            history = [{"role": "system", "content": self.system}] if self.system and not self.messages else []
            messages = self.messages + history + [{"role": "user", "content": user_text}]
            budget = prompt_budget(self.run.trained_context, self.settings.max_new_tokens)
            prompt, stop = chat_prompt(self.run.tokenizer, messages, budget)
        else:
            messages = []
            prompt, stop = completion_ids(self.run, user_text if self.run.words else self.text + user_text)
        out, ids = [], []
        try:
            for piece in stream_text(self.run, prompt, self.settings, seed, stop, steer=self.steer(self.settings)):
                out.append(piece.text)
                if piece.token.id >= 0 and piece.token.id not in stop:
                    ids.append(piece.token.id)
                yield piece
        finally:
            if self.chat:
                content = reply_content(self.run.tokenizer, ids) if tool_tokens(self.run.tokenizer) else "".join(out)
                self.messages = messages + [{"role": "assistant", "content": content}]
            elif not self.run.words:  # a name is complete in itself: nothing runs on
                self.text += user_text + "".join(out)
