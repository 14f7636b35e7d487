"""Few-shot prompts: a base model shown a few solved examples continues the pattern.

A shots file is JSONL, one example per line: ``{"input": "12+34=", "output": "46"}`` (other
keys are ignored).  ``few_shot_prompt(shots, prompt)`` writes every example as its input
followed by its output, one example per line, then the prompt::

    12+34=46
    7+8=15
    305-48=

so the model's most likely continuation is the answer, followed by a newline where the next
example would start: ``glassgpt sample --shots FILE`` therefore stops at the first newline
unless ``--stop`` says otherwise.  Put any separator you want (``Q: … A: ``) in the inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from glassgpt.errors import DataError

SEPARATOR = "\n"
EXAMPLE = '{"input": "12+34=", "output": "46"}'


@dataclass(frozen=True)
class Shot:
    input: str
    output: str

    @property
    def text(self) -> str:
        return self.input + self.output


def read_shots(path: str | Path) -> list[Shot]:
    """Every example of a shots file, in order (blank lines skipped); one sentence for a problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--shots {path} does not exist or is not a file; give a JSONL file of examples.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"--shots {path} is not UTF-8 text; save it as UTF-8 JSONL.") from None
    except OSError as exc:
        raise DataError(f"cannot read --shots {path} ({exc.strerror}); check its permissions.") from None
    shots = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where} is not valid JSON ({exc.msg}); write one example per line like {EXAMPLE}."
            ) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("input"), str) or not isinstance(obj.get("output"), str):
            raise DataError(f'{where} is not an example with text "input" and "output"; write it like {EXAMPLE}.')
        if SEPARATOR in obj["input"] + obj["output"]:
            raise DataError(f"{where} has a line break inside an example; each example is one line of the prompt.")
        shots.append(Shot(obj["input"], obj["output"]))
    if not shots:
        raise DataError(f"--shots {path} has no examples; write one per line like {EXAMPLE}.")
    return shots


def few_shot_prompt(shots: list[Shot], prompt: str = "") -> str:
    """The examples, one per line, then ``prompt`` (see the module docstring)."""
    return "".join(s.text + SEPARATOR for s in shots) + prompt
