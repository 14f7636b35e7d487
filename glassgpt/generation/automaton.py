"""A regular expression as a table of which tokens may come next: constrained decoding's engine.

Three steps, each computed once per (pattern, tokenizer) and cached:

1. **Characters.**  ``interegular`` parses the pattern (Python's ``re`` syntax, without
   back-references, anchors inside the pattern or word boundaries) into a deterministic
   automaton over *characters*: states, one start, accepting states, and for every state a
   move per character class (the characters the pattern names, one by one or in classes,
   plus "anything else").
2. **Bytes.**  Tokens are bytes (a byte-level BPE token can end in the middle of a
   character, a byte tokenizer spells ``é`` in two tokens), so the character automaton is
   unfolded over UTF-8: a byte state is a character state, or a character state plus the
   bytes of a character read so far.  Only valid UTF-8 moves on, so constrained text always
   decodes cleanly.
3. **Tokens.**  Every token of the vocabulary is walked through the byte automaton from
   every state the generation can be in between two tokens (all tokens at once, with NumPy:
   one array step per byte position).  A multi-character token simply crosses several
   states.  The result, for each state: the tokens that keep the text inside the language,
   the state each leads to, and how many tokens at least are still needed to finish from
   there (a breadth-first search backwards from the accepting states).

A word tokenizer writes a word and then a space before the next word (``decode`` drops the
last space), so its token is its word (what must match for the text to *end* there) plus
the space (what the next word starts after).  Special tokens (chat turns, end of text) and
ids no token uses are never allowed: a constraint is about the text.

``TokenAutomaton.start`` is the state before any token; ``options(state, remaining)`` the
tokens that may follow when ``remaining`` tokens are left (each must still be able to finish
in time), ``move(state, token)`` the state after one, and ``state.complete`` whether the
text so far is a whole match.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

import interegular
import numpy as np
import regex
import torch
from interegular.fsm import anything_else

from glassgpt.errors import ConfigError
from glassgpt.tokenizers import Tokenizer

#: the most states a character automaton may have (an absurd pattern is refused, not built)
MAX_STATES = 20_000
#: "never": the cost of a state that cannot finish
NEVER = np.iinfo(np.int32).max
DEAD = 0  # byte state 0 is the dead state: every move from it stays there


def check_pattern(pattern: str, what: str = "--regex") -> str:
    """The pattern as the automaton reads it: one sentence for a pattern that is not a valid
    regular expression, or uses what an automaton cannot express; a ``^`` at the start and a
    ``$`` at the end are dropped (the whole output always has to match)."""
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ConfigError(f"{what} {pattern!r} is not a valid regular expression ({exc}); fix the pattern.") from None
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    return pattern


@dataclass(frozen=True)
class CharAutomaton:
    """The character-level automaton: ``moves[s][class] -> state``; ``classes`` maps a named
    character to its class, ``other`` is the class of every other character (None: no move)."""

    start: int
    accepting: frozenset[int]
    moves: tuple[dict[int, int], ...]
    classes: dict[str, int]
    other: int | None
    live: frozenset[int]  # states from which an accepting state can be reached

    def next(self, state: int, char: str) -> int | None:
        cls = self.classes.get(char, self.other)
        return None if cls is None else self.moves[state].get(cls)


def char_automaton(pattern: str, what: str = "--regex") -> CharAutomaton:
    """Parse ``pattern`` (see ``check_pattern``) into a ``CharAutomaton``."""
    pattern = check_pattern(pattern, what)
    try:
        fsm = interegular.parse_pattern(pattern).to_fsm()
    except interegular.patterns.Unsupported as exc:
        raise ConfigError(
            f"{what} {pattern!r} uses something constrained decoding cannot follow ({exc}); "
            "rewrite it without back-references, look-arounds, \\b or Unicode properties."
        ) from None
    except Exception as exc:  # noqa: BLE001 - interegular's own parse errors carry no message
        raise ConfigError(
            f"{what} {pattern!r} cannot be read as a regular expression ({exc.__class__.__name__}); fix the pattern."
        ) from None
    if len(fsm.states) > MAX_STATES:
        raise ConfigError(
            f"{what} {pattern!r} needs an automaton of {len(fsm.states):,} states, more than the "
            f"{MAX_STATES:,} allowed; use smaller repetition counts."
        )
    order = {s: i for i, s in enumerate(sorted(fsm.states, key=lambda s: (s != fsm.initial, str(s))))}
    moves: list[dict[int, int]] = [{} for _ in order]
    for s, row in fsm.map.items():
        moves[order[s]] = {int(cls): order[t] for cls, t in row.items()}
    classes: dict[str, int] = {}
    other = None
    for char, cls in fsm.alphabet.items():
        if char is anything_else:
            other = int(cls)
        else:
            classes[char] = int(cls)
    accepting = frozenset(order[s] for s in fsm.finals)
    back: list[set[int]] = [set() for _ in order]
    for s, row in enumerate(moves):
        for t in row.values():
            back[t].add(s)
    live, todo = set(accepting), list(accepting)
    while todo:
        for s in back[todo.pop()]:
            if s not in live:
                live.add(s)
                todo.append(s)
    return CharAutomaton(order[fsm.initial], accepting, tuple(moves), classes, other, frozenset(live))


# ---- bytes -----------------------------------------------------------------------------------
def _lead(byte: int) -> tuple[int, int, int] | None:
    """The code points a UTF-8 lead byte can start, and how many bytes follow it."""
    if byte < 0x80:
        return byte, byte, 0
    if 0xC2 <= byte <= 0xDF:
        base = (byte & 0x1F) << 6
        return base, base | 0x3F, 1
    if 0xE0 <= byte <= 0xEF:
        base = (byte & 0x0F) << 12
        lo, hi = max(base, 0x800), base | 0xFFF
        if byte == 0xED:  # no surrogates
            hi = 0xD7FF
        return lo, hi, 2
    if 0xF0 <= byte <= 0xF4:
        base = (byte & 0x07) << 18
        return max(base, 0x10000), min(base | 0x3FFFF, 0x10FFFF), 3
    return None


def _narrow(lo: int, hi: int, left: int, byte: int) -> tuple[int, int] | None:
    """The code points of [lo, hi] whose next continuation byte (``left`` still to come) is ``byte``."""
    if not 0x80 <= byte <= 0xBF:
        return None
    shift = 6 * (left - 1)
    base = (lo >> (6 * left)) << (6 * left)
    sub_lo = base | ((byte & 0x3F) << shift)
    sub_lo, sub_hi = max(sub_lo, lo), min(sub_lo | ((1 << shift) - 1), hi)
    return (sub_lo, sub_hi) if sub_lo <= sub_hi else None


class ByteAutomaton:
    """The character automaton unfolded over UTF-8 bytes: a dense table ``table[state, byte]``
    (state 0 is dead) and which byte states are accepting.

    A byte state is ``("c", s)``: character state ``s`` between characters; ``("x", s, lo, hi,
    left)``: ``left`` bytes of a character in [lo, hi] still to come, some of which the pattern
    names; or ``("g", t, left, first_lo, first_hi)``: the rest of a character that can only be
    one the pattern does not name, so whatever it is, the automaton goes to ``t`` (these are
    shared, which keeps the table small)."""

    def __init__(self, chars: CharAutomaton):
        self.chars = chars
        self.named = sorted(ord(c) for c in chars.classes)
        self.index: dict[tuple, int] = {("dead",): DEAD}
        self.keys: list[tuple] = [("dead",)]
        self.start = self._id(("c", chars.start))
        rows: list[list[int]] = []
        i = 0
        while i < len(self.keys):  # every state reachable from the start, breadth first
            key = self.keys[i]
            rows.append([DEAD] * 256 if key[0] == "dead" else [self._id(self._step(key, b)) for b in range(256)])
            i += 1
        self.table = np.asarray(rows, dtype=np.int32)
        self.accepting = np.asarray([k[0] == "c" and k[1] in chars.accepting for k in self.keys], dtype=bool)

    def _id(self, key: tuple) -> int:
        if key not in self.index:
            self.index[key] = len(self.keys)
            self.keys.append(key)
        return self.index[key]

    def _char_state(self, state: int | None) -> tuple:
        return ("c", state) if state is not None and state in self.chars.live else ("dead",)

    def _pending(self, state: int, lo: int, hi: int, left: int) -> tuple:
        """The state inside a character of [lo, hi] with ``left`` bytes to come."""
        named = [cp for cp in self.named if lo <= cp <= hi]
        if named:
            return ("x", state, lo, hi, left)
        target = self._char_state(self.chars.next(state, chr(lo)))  # every character here moves alike
        if target[0] == "dead":
            return target
        first = [b for b in range(0x80, 0xC0) if _narrow(lo, hi, left, b) is not None]
        return ("g", target[1], left, first[0], first[-1])

    def _step(self, key: tuple, byte: int) -> tuple:
        kind = key[0]
        if kind == "c":
            lead = _lead(byte)
            if lead is None:
                return ("dead",)
            lo, hi, left = lead
            if left == 0:
                return self._char_state(self.chars.next(key[1], chr(byte)))
            return self._pending(key[1], lo, hi, left)
        if kind == "g":
            _, target, left, first_lo, first_hi = key
            if not first_lo <= byte <= first_hi:
                return ("dead",)
            return ("c", target) if left == 1 else ("g", target, left - 1, 0x80, 0xBF)
        _, state, lo, hi, left = key
        sub = _narrow(lo, hi, left, byte)
        if sub is None:
            return ("dead",)
        if left == 1:
            return self._char_state(self.chars.next(state, chr(sub[0])))
        return self._pending(state, sub[0], sub[1], left - 1)


# ---- tokens ----------------------------------------------------------------------------------
def spellings(tokenizer: Tokenizer, excluded: Collection[int] = ()) -> list[tuple[bytes, bytes] | None]:
    """What each id writes: (its text, what follows it only when another token comes), or
    None for an id a constraint never allows (special tokens, ids no token uses, ``excluded``)."""
    specials = set(tokenizer.special_tokens.values()) | set(excluded)
    out: list[tuple[bytes, bytes] | None] = []
    word = tokenizer.type == "word"
    for i in range(tokenizer.vocab_size):
        if i in specials or not tokenizer.is_assigned(i):
            out.append(None)
            continue
        raw = tokenizer.token_bytes(i)
        if word and raw.endswith(b" "):
            out.append((raw[:-1], b" "))
        else:
            out.append((raw, b""))
    return out


def _padded(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(V, L) bytes, zero-padded, and each row's length."""
    lengths = np.asarray([len(p) for p in parts], dtype=np.int64)
    out = np.zeros((len(parts), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    for i, p in enumerate(parts):
        out[i, : len(p)] = np.frombuffer(p, dtype=np.uint8)
    return out, lengths


def _walk(table: np.ndarray, states: np.ndarray, text: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(S, V): the byte state after reading each token's bytes from each of ``states`` (S,), or
    from each token's own state in (S, V)."""
    order = np.argsort(-lengths, kind="stable")  # longest first: position j touches a prefix
    sorted_len, sorted_text = lengths[order], text[order]
    out = np.repeat(states[:, None], len(lengths), axis=1) if states.ndim == 1 else states.copy()
    walked = out[:, order]
    for j in range(text.shape[1]):
        n = int(np.searchsorted(-sorted_len, -j, side="left"))  # tokens longer than j
        if n == 0:
            break
        walked[:, :n] = table[walked[:, :n], sorted_text[:n, j]]
    out[:, order] = walked
    return out


@dataclass(frozen=True)
class State:
    """Where a constrained generation stands between two tokens: the byte state, and whether
    the text so far is a whole match (it may end here)."""

    at: int
    complete: bool


@dataclass(frozen=True)
class Options:
    """The tokens that may follow a state: their ids (ascending), the byte state each leads
    to, whether the text is then complete, and the fewest tokens still needed after it."""

    ids: torch.Tensor
    to: np.ndarray
    complete: np.ndarray
    cost: torch.Tensor


@dataclass(frozen=True)
class Dense:
    """One state's options over the whole vocabulary: the fewest tokens still needed after each
    token (``NEVER`` where it is not allowed), and the state and completeness it leads to."""

    cost: torch.Tensor
    to: list[int]
    complete: list[bool]


class TokenAutomaton:
    """Which tokens of ``tokenizer`` may come next, for every state of ``pattern``'s automaton
    (see the module docstring).  ``what`` names the constraint in messages; ``excluded``: ids
    never allowed, whatever they spell."""

    def __init__(self, pattern: str, tokenizer: Tokenizer, what: str = "--regex", excluded: Collection[int] = ()):
        self.pattern, self.what = pattern, what
        self.chars = char_automaton(pattern, what)
        if self.chars.start not in self.chars.live:
            raise ConfigError(f"{what} {pattern!r} matches no text at all; give a constraint some text can meet.")
        self.bytes = ByteAutomaton(self.chars)
        self.vocab_size = tokenizer.vocab_size
        spelled = spellings(tokenizer, excluded)
        usable = np.asarray([s is not None for s in spelled], dtype=bool)
        body, body_len = _padded([s[0] if s else b"" for s in spelled])
        tail, tail_len = _padded([s[1] if s else b"" for s in spelled])
        table = self.bytes.table
        self.options: dict[int, Options] = {}
        rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        frontier = [self.bytes.start]
        while frontier:  # every byte state a token boundary can reach, a frontier at a time
            states = np.asarray(frontier, dtype=np.int64)
            after_body = _walk(table, states, body, body_len)
            after = _walk(table, after_body, tail, tail_len) if tail_len.any() else after_body
            frontier = []
            for k, s in enumerate(frontier_states := states.tolist()):
                alive = usable & (after[k] != DEAD)
                ids = np.flatnonzero(alive)
                rows[s] = (ids, after[k][ids].astype(np.int64), self.bytes.accepting[after_body[k][ids]])
            seen = set(rows) | set(frontier_states)
            for s in frontier_states:
                for t in np.unique(rows[s][1]).tolist():
                    if t not in seen:
                        seen.add(t)
                        frontier.append(t)
        need = self._needs(rows)
        for s, (ids, to, complete) in rows.items():
            cost = np.where(complete, 0, [need.get(int(t), NEVER) for t in to]).astype(np.int64)
            keep = cost < NEVER
            self.options[s] = Options(
                torch.from_numpy(ids[keep]), to[keep], complete[keep], torch.from_numpy(cost[keep])
            )
        self.need = need
        self.start = State(self.bytes.start, bool(self.bytes.accepting[self.bytes.start]))
        self._dense: dict[int, Dense] = {}

    @staticmethod
    def _needs(rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[int, int]:
        """For each byte state, the fewest tokens that complete a match from it (absent: never)."""
        back: dict[int, set[int]] = {}
        need: dict[int, int] = {}
        queue: deque[int] = deque()
        for s, (_, to, complete) in rows.items():
            if complete.any():
                need[s] = 1
                queue.append(s)
            for t in np.unique(to[~complete]).tolist():
                back.setdefault(t, set()).add(s)
        while queue:
            t = queue.popleft()
            for s in back.get(t, ()):
                if s not in need:
                    need[s] = need[t] + 1
                    queue.append(s)
        return need

    def fewest_tokens(self, state: State | None = None) -> int | None:
        """The fewest tokens that make a whole match from ``state`` (default: the start); None: never."""
        state = state or self.start
        if state.complete:
            return 0
        return self.need.get(state.at)

    def dense(self, at: int) -> Dense:
        """The options of byte state ``at`` spread over the whole vocabulary, made on first use and
        kept (what a decoding step reads: one comparison masks every token)."""
        row = self._dense.get(at)
        if row is None:
            opts = self.options.get(at)
            cost = torch.full((self.vocab_size,), NEVER, dtype=torch.int64)
            to = torch.zeros(self.vocab_size, dtype=torch.int64)
            complete = torch.zeros(self.vocab_size, dtype=torch.bool)
            if opts is not None:
                cost[opts.ids] = opts.cost
                to[opts.ids] = torch.from_numpy(opts.to)
                complete[opts.ids] = torch.from_numpy(opts.complete)
            row = self._dense[at] = Dense(cost, to.tolist(), complete.tolist())
        return row

    def allowed(self, state: State, remaining: int | None = None) -> torch.Tensor:
        """The ids that may come next from ``state`` when ``remaining`` tokens are left, this
        one included (None: no limit)."""
        opts = self.options.get(state.at)
        if opts is None:
            return torch.empty(0, dtype=torch.long)
        if remaining is None:
            return opts.ids
        return opts.ids[opts.cost <= remaining - 1]

    def move(self, state: State, token: int) -> State:
        """The state after ``token``; ConfigError if the token is not allowed there."""
        opts = self.options.get(state.at)
        pos = int(torch.searchsorted(opts.ids, token)) if opts is not None else 0
        if opts is None or pos >= len(opts.ids) or int(opts.ids[pos]) != token:
            raise ConfigError(f"token {token} cannot follow here under {self.what} {self.pattern!r}.")
        return State(int(opts.to[pos]), bool(opts.complete[pos]))
