"""Special tokens (``<|endoftext|>`` and friends) and checks on tokenizer files.

A special token is text that stands for one reserved id instead of being split into
bytes.  Because user text can contain that same text by accident (a web page about
GPT, say), ``encode`` follows tiktoken's policy and makes the caller choose:

* ``allowed_special``: specials that become their ids (``"all"`` for every one);
* ``disallowed_special``: specials whose presence raises an error (default ``"all"``:
  every special not allowed), so special text is refused unless the caller decides;
* the rest (``disallowed_special=()``) is encoded as ordinary text.
"""

from __future__ import annotations

import regex

from glassgpt.errors import TokenizerError


def check_specials(specials: dict, first_free_id: int) -> dict[str, int]:
    """Validate ``{text: id}``: non-empty distinct texts, none inside another, distinct
    ids at or above ``first_free_id`` (ids below belong to byte and merge tokens)."""
    if not isinstance(specials, dict):
        raise TokenizerError("special tokens must be a mapping from text to id.")
    seen: dict[int, str] = {}
    for text, idx in specials.items():
        if not isinstance(text, str) or not text:
            raise TokenizerError(f"a special token must be non-empty text, not {text!r}.")
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < first_free_id:
            raise TokenizerError(
                f"the special token {text!r} has id {idx!r}, which collides with the byte and merge tokens (ids below {first_free_id})."
            )
        if idx in seen:
            raise TokenizerError(
                f"the special tokens {seen[idx]!r} and {text!r} both have id {idx}; give each its own id."
            )
        seen[idx] = text
    texts = sorted(specials, key=len)
    for i, short in enumerate(texts):
        for long in texts[i + 1 :]:
            if short in long:
                raise TokenizerError(
                    f"the special token {short!r} is part of {long!r}; special tokens must not contain each other."
                )
    return dict(specials)


def _as_set(value, specials: dict[str, int], what: str) -> set[str]:
    if value == "all":
        return set(specials)
    if isinstance(value, str):
        raise TokenizerError(f"{what} must be 'all' or a collection of special tokens, not the text {value!r}.")
    chosen = set(value)
    unknown = chosen - set(specials)
    if unknown:
        known = ", ".join(sorted(specials)) or "none"
        raise TokenizerError(
            f"{sorted(unknown)[0]!r} in {what} is not a special token of this tokenizer (it has: {known})."
        )
    return chosen


def special_policy(specials: dict[str, int], text: str, allowed_special, disallowed_special) -> set[str]:
    """The specials to encode as ids in ``text``; raises if a disallowed one occurs."""
    if not specials:
        if allowed_special != "all":
            _as_set(allowed_special, specials, "allowed_special")
        return set()
    allowed = _as_set(allowed_special, specials, "allowed_special")
    disallowed = (
        set(specials) - allowed
        if disallowed_special == "all"
        else _as_set(disallowed_special, specials, "disallowed_special")
    )
    disallowed -= allowed
    if disallowed:
        found = regex.search("|".join(regex.escape(s) for s in sorted(disallowed, key=len, reverse=True)), text)
        if found:
            raise TokenizerError(
                f"the text contains the special token {found.group()!r} at character {found.start()}; "
                "allow it to encode it as a special token (allowed_special, CLI --specials allow) "
                "or encode it as plain text (disallowed_special=(), CLI --specials text)."
            )
    return allowed


def check_file(data: dict) -> None:
    """Check the shape of a saved BPE tokenizer before building it."""
    if data.get("version", 1) != 1:
        raise TokenizerError(f"format version {data.get('version')!r} is not supported by this glassgpt.")
    for key, kind in (("merges", list), ("special_tokens", dict)):
        if not isinstance(data.get(key), kind):
            raise TokenizerError(f"the field {key!r} is missing or is not a {kind.__name__}.")
    if "pattern" not in data or not (data["pattern"] is None or isinstance(data["pattern"], str)):
        raise TokenizerError("the field 'pattern' is missing or is not a regular expression.")
    order = data.get("byte_order")
    if order is not None and (not isinstance(order, list) or sorted(order) != list(range(256))):
        raise TokenizerError("the field 'byte_order' is not a permutation of the 256 byte values.")
