"""Conversations for supervised fine-tuning: one JSON object per line (JSONL).

``qa`` names the set that ships with glassgpt (``glassgpt/data/texts/qa.jsonl``: 214 short
question-answer pairs written for the project, in the characters of the Shakespeare corpus).
Each non-blank line is ``{"messages": [{"role": "system" | "user" | "assistant", "content":
"..."}, ...]}`` with at least one assistant message (other keys are ignored).  An assistant
message may call the calculator: its content is then a list of parts, ``{"type": "text",
"text": "..."}`` and ``{"type": "tool", "text": "12+34"}``; the calculator
(``generation.calculator``) computes each call's output as the file is read, so the output
the model learns to read is the one generation will force (``tokenizers.chat_template``).  Every
problem is one ``DataError`` sentence that names the file and the line: a line that is not
JSON or not such an object, an unknown role, a content that is not text, a conversation
without an assistant message, an empty file, a tool call that is not arithmetic or divides by
zero.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from glassgpt.data.text import decode_text
from glassgpt.errors import DataError
from glassgpt.fileio import atomic_write_text
from glassgpt.generation.calculator import ToolError, calculate
from glassgpt.tasks import TASKS, arithmetic, task_spec
from glassgpt.tokenizers.chat_template import ROLES

#: conversation sets that ship with glassgpt, by name (``glassgpt finetune RUN --sft qa``)
BUILTIN = {"qa": "texts/qa.jsonl"}
EXAMPLE = '{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}'
TOOL_EXAMPLE = '[{"type": "tool", "text": "12+34"}, {"type": "text", "text": "46"}]'


@dataclass(frozen=True)
class Conversation:
    """One conversation and where it came from (``line``: 1-based line number, 0 if none)."""

    messages: tuple[dict, ...]
    line: int = 0


def parse_conversation(obj, where: str, line: int = 0, require_reply: bool = True) -> Conversation:
    """Check one decoded JSON value; ``where`` names it in errors ("chat.jsonl line 3").
    ``require_reply=False`` accepts a conversation without an assistant message (a chat prompt)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise DataError(f"{where} is not a conversation; write one object per line like {EXAMPLE}.")
    messages = obj["messages"]
    if not messages:
        raise DataError(f"{where} has an empty list of messages; give at least a user and an assistant message.")
    clean = []
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(f'{where}, message {i} is not an object with "role" and "content".')
        role, content = m["role"], m["content"]
        if role not in ROLES:
            raise DataError(f"{where}, message {i} has the unknown role {role!r}; roles are {', '.join(ROLES)}.")
        if isinstance(content, list) and role == "assistant":
            content = _parts(content, f"{where}, message {i}")
        elif not isinstance(content, str):
            raise DataError(f"{where}, message {i}: the content must be text, not {type(content).__name__}.")
        clean.append({"role": role, "content": content})
    if require_reply and not any(m["role"] == "assistant" for m in clean):
        raise DataError(f"{where} has no assistant message; every conversation needs a reply to learn from.")
    return Conversation(tuple(clean), line)


def _parts(parts: list, where: str) -> list[dict]:
    """An assistant's text and tool parts, each tool call with the calculator's output."""
    out = []
    for j, part in enumerate(parts, 1):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("text", "tool") or not isinstance(part.get("text"), str):
            raise DataError(
                f'{where}, part {j} is not {{"type": "text" or "tool", "text": "..."}}; write tool calls like '
                f"{TOOL_EXAMPLE}."
            )
        if kind == "text":
            out.append({"type": "text", "text": part["text"]})
            continue
        try:
            output = calculate(part["text"])
        except ToolError as exc:
            raise DataError(f"{where}, part {j}: {exc}") from None
        out.append({"type": "tool", "text": part["text"], "output": output})
    return out


def parse_conversation_text(text: str, where: str = "the conversation") -> Conversation:
    """One conversation written as JSON text (``glassgpt explain --chat``)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); write it like {EXAMPLE}."
        ) from None
    return parse_conversation(obj, where)


def conversations_path(spec: str | Path) -> Path:
    """The file ``spec`` names: a path, or when no such file exists the name of a built-in set
    (``BUILTIN``) or of a task (``arithmetic[:OPTIONS]``: its fine-tuning conversations,
    ``task_conversations``)."""
    path = Path(spec)
    if not path.exists() and str(spec) in BUILTIN:
        return Path(__file__).parent / BUILTIN[str(spec)]
    if not path.exists() and str(spec).partition(":")[0] in TASKS:
        return task_conversations(str(spec))
    return path


def task_conversations(spec: str) -> Path:
    """The task's fine-tuning conversations (``arithmetic.sft_lines``, the same on every machine;
    ``arithmetic-tools``: calling the calculator), written once to a file in the temporary folder."""
    tools = spec.partition(":")[0].strip() == arithmetic.TOOLS_NAME
    text = arithmetic.sft_lines(difficulty=task_spec(spec), tools=tools)
    path = Path(tempfile.gettempdir()) / "glassgpt" / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    return path


def read_conversations(path: str | Path) -> list[Conversation]:
    """Every conversation of a JSONL file (or built-in set), in file order (blank lines are skipped)."""
    path = conversations_path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a JSONL file of conversations.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc.strerror}); check its permissions.") from None
    text = decode_text(data, str(path))
    conversations = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where} is not valid JSON ({exc.msg} at column {exc.colno}); write one object "
                f"per line like {EXAMPLE}."
            ) from None
        conversations.append(parse_conversation(obj, where, number))
    if not conversations:
        raise DataError(f"{path} is empty; write one conversation per line like {EXAMPLE}.")
    return conversations
