"""Export a BPE tokenizer as a Hugging Face ``tokenizers`` JSON file.

Hugging Face's byte-level BPE stores tokens as *strings*: every byte is shown as one
printable character (printable Latin-1 bytes as themselves, the other 68 bytes as
U+0100 onwards, the GPT-2 convention).  Its model applies the listed merges, lowest
index first; ``ignore_merges`` makes a pre-split chunk that is itself a token come
out as that token, as in tiktoken and ``bpe_encode``.

Our encoder merges by the *rank of the concatenation*, so any two adjacent parts
whose bytes form a token may merge, not only the two a token was learned from.  The
export therefore lists, for every token in rank order, every split of it into two
tokens; the first one is the learned merge.
"""

from __future__ import annotations

from glassgpt.errors import TokenizerError
from glassgpt.tokenizers.patterns import hf_regex


def byte_to_unicode() -> list[str]:
    """The printable character that stands for each byte (index = byte value)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def all_splits(tokens: list[bytes], merges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every (left, right) pair of tokens whose bytes join into a token, ordered by the
    rank of that token; the learned merge comes first, then the others left to right."""
    ranks = {t: r for r, t in enumerate(tokens)}
    out = []
    for rank in range(256, len(tokens)):
        token = tokens[rank]
        learned = merges[rank - 256]
        out.append(learned)
        for k in range(1, len(token)):
            left, right = ranks.get(token[:k]), ranks.get(token[k:])
            if left is not None and right is not None and (left, right) != learned:
                out.append((left, right))
    return out


def to_hf_dict(
    tokens: list[bytes], merges: list[tuple[int, int]], pattern: str | None, specials: dict[str, int]
) -> dict:
    """The JSON object of a ``tokenizers.Tokenizer`` giving the same ids as ours."""
    chars = byte_to_unicode()
    names = ["".join(chars[b] for b in t) for t in tokens]
    names_set = set(names)
    for special, _idx in specials.items():
        if special in names_set:
            raise TokenizerError(
                f"the special token {special!r} is also an ordinary token, which a Hugging Face vocabulary cannot hold twice."
            )
    added = [
        {
            "id": i,
            "content": s,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for s, i in sorted(specials.items(), key=lambda kv: kv[1])
    ]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": hf_regex(pattern)}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            # specials are in the model's vocabulary too, so they keep their ids across gaps
            "vocab": {**{name: i for i, name in enumerate(names)}, **specials},
            "merges": [[names[a], names[b]] for a, b in all_splits(tokens, merges)],
        },
    }
