"""Constrained decoding: the output must match a regular expression, one of a few choices, or
a JSON schema.

``Constraint`` names what the output must be; all three forms become one regular
expression (choices are escaped and joined with ``|``, a schema becomes the regex of its
JSON, ``json_schema.schema_regex``).  ``automaton_for(constraint, tokenizer)`` compiles it once
into a ``TokenAutomaton`` (which tokens may follow each state) and keeps the last few in a
small cache, so a chat or a playground that asks again pays nothing.

At every step of a constrained row (``ConstrainedRow.adjust``):

* the logits of every token the automaton does not allow become −inf: tokens that would
  leave the language, and tokens after which the match could not be finished within the
  tokens that are left (so a match always ends in time);
* when the text so far is already a whole match, one more choice is added, **end**: its
  logit is the log of the probability the model gives all the tokens that were masked,
  i.e. the output ends where the model wanted to write something the constraint does not
  allow (with no end-of-text token needed);
* temperature, top-k and top-p then apply to what is left, as without a constraint.

``require_room`` refuses, before anything is sampled, a constraint no text of the
vocabulary can meet, or one that needs more tokens than ``max_new_tokens``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import regex
import torch

from glassgpt.errors import ConfigError
from glassgpt.generation.automaton import NEVER, State, TokenAutomaton
from glassgpt.generation.json_schema import read_schema, schema_regex
from glassgpt.generation.steering import END
from glassgpt.tokenizers import Tokenizer

#: compiled automata kept for reuse, most recent last
CACHE_SIZE = 16
_cache: OrderedDict[tuple[str, int, tuple[int, ...]], tuple[Tokenizer, TokenAutomaton]] = OrderedDict()


@dataclass(frozen=True)
class Constraint:
    """What the output must match: ``pattern`` (a regular expression, whole output), and
    ``what``, how the user wrote it (for messages: ``--regex '[0-9]+'``)."""

    pattern: str
    what: str

    @staticmethod
    def regex(pattern: str) -> Constraint:
        return Constraint(pattern, "--regex")

    @staticmethod
    def choices(choices: str | list[str]) -> Constraint:
        """One of ``choices``: a list, or one string with the choices between ``|``."""
        items = choices.split("|") if isinstance(choices, str) else list(choices)
        if not items or any(not isinstance(c, str) or c == "" for c in items):
            raise ConfigError("--choices needs one or more non-empty choices separated by '|', like 'yes|no'.")
        return Constraint("(?:" + "|".join(regex.escape(c) for c in items) + ")", "--choices")

    @staticmethod
    def json_schema(schema: dict | str | Path) -> Constraint:
        """A schema given as a dict or as the path of a JSON file."""
        where = "the schema" if isinstance(schema, dict) else f"--json-schema {schema}"
        data = schema if isinstance(schema, dict) else read_schema(schema)
        return Constraint(schema_regex(data, where), "--json-schema")


def make_constraint(
    regex: str | None = None, choices: str | list[str] | None = None, json_schema: dict | str | Path | None = None
) -> Constraint | None:
    """The one constraint given (None when none is); two at once is refused."""
    given = [name for name, v in (("--regex", regex), ("--choices", choices), ("--json-schema", json_schema)) if v]
    if len(given) > 1:
        raise ConfigError(f"{given[0]} and {given[1]} are two constraints; give one of them.")
    if regex:
        return Constraint.regex(regex)
    if choices:
        return Constraint.choices(choices)
    if json_schema:
        return Constraint.json_schema(json_schema)
    return None


def automaton_for(constraint: Constraint, tokenizer: Tokenizer, excluded: tuple[int, ...] = ()) -> TokenAutomaton:
    """The constraint compiled for ``tokenizer``, from the cache when it was compiled before;
    ``excluded``: ids that are never text (the ``.`` that ends a name of a word list)."""
    key = (constraint.pattern, id(tokenizer), tuple(excluded))
    hit = _cache.get(key)
    if hit is not None and hit[0] is tokenizer:
        _cache.move_to_end(key)
        return hit[1]
    automaton = TokenAutomaton(constraint.pattern, tokenizer, constraint.what, excluded)
    _cache[key] = (tokenizer, automaton)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return automaton


def require_room(automaton: TokenAutomaton, max_new_tokens: int) -> None:
    """One sentence, before sampling, when no output within ``max_new_tokens`` can match."""
    fewest = automaton.fewest_tokens()
    what = f"{automaton.what} {automaton.pattern!r}" if automaton.what == "--regex" else automaton.what
    if fewest is None:
        raise ConfigError(
            f"no text this model's vocabulary can spell matches {what}; change the constraint to use "
            "characters the vocabulary has."
        )
    if fewest > max_new_tokens:
        raise ConfigError(
            f"the shortest text that matches {what} takes {fewest} tokens, more than --max-new-tokens "
            f"{max_new_tokens}; allow at least {fewest}."
        )


class ConstrainedRow:
    """One generated row under a constraint: where it stands, and its logits at each step."""

    def __init__(self, automaton: TokenAutomaton):
        self.automaton = automaton
        self.state: State = automaton.start
        self.done = False

    def forced(self) -> int | None:
        return None

    def adjust(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        """(V,) -> (V + 1,): disallowed tokens at −inf and, last, the end choice (see the module docstring)."""
        dense = self.automaton.dense(self.state.at)
        allowed = dense.cost.to(logits.device) <= remaining - 1
        ninf = logits.new_full((1,), float("-inf"))
        if not self.state.complete:
            end = ninf
        elif not bool(allowed.any()):
            end = logits.new_zeros(1)  # nothing may follow: the match is over
        else:
            end = torch.logsumexp(logits.masked_fill(allowed, float("-inf")), 0, keepdim=True)
        return torch.cat([logits.masked_fill(~allowed, float("-inf")), end])

    def push(self, token: int) -> None:
        if token == END:
            self.done = True
            return
        dense = self.automaton.dense(self.state.at)
        if int(dense.cost[token]) == NEVER:
            self.state = self.automaton.move(self.state, token)  # says which token cannot follow
        self.state = State(dense.to[token], dense.complete[token])
