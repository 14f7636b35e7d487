"""Tokenizers between glassgpt and Hugging Face ``tokenizers`` JSON, with identical ids.

Out (``hf_tokenizer_files``): a BPE tokenizer through its own ``to_hf_dict``; the byte
tokenizer as byte-level BPE with the 256 bytes as ids 0..255 and no merges; the char
tokenizer as a ``WordLevel`` model whose pre-tokenizer isolates every character and whose
decoder (``Fuse``) joins them without spaces.  ``tokenizer_config.json`` names
``PreTrainedTokenizerFast``, which loads ``tokenizer.json`` as it is.  Word-level
tokenizers (a newline becomes the word ``<END>``) have no faithful equivalent and are refused.

In (``tokenizer_from_hf``): ``tokenizer.json`` (or GPT-2's ``vocab.json`` + ``merges.txt``)
back to a glassgpt BPE, byte or char tokenizer.  A byte-level BPE is read as ranked
tokens: id ``i`` is the token whose bytes the vocabulary string spells, exactly like
tiktoken's ranks (GPT-2's vocabulary is such a ranking).
"""

from __future__ import annotations

import json
from pathlib import Path

from glassgpt.errors import TokenizerError
from glassgpt.fileio import read_json
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, Tokenizer
from glassgpt.tokenizers.added import SpecialsTokenizer
from glassgpt.tokenizers.bpe_hf import byte_to_unicode, to_hf_dict
from glassgpt.tokenizers.patterns import BUILTIN, GPT2, WHOLE_TEXT, hf_regex

EOT = "<|endoftext|>"
_CHAR_SPLIT = r"[\s\S]"


def _char_dict(tok: CharTokenizer) -> dict:
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": _CHAR_SPLIT}, "behavior": "Isolated", "invert": False},
        "post_processor": None,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": {c: i for i, c in enumerate(tok.chars)}, "unk_token": "[UNK]"},
    }


def _added(specials: dict[str, int]) -> list[dict]:
    """Hugging Face's entries for special tokens: matched whole before the model splits the rest."""
    return [
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


def hf_tokenizer_files(tok: Tokenizer, max_length: int) -> dict[str, dict]:
    """File name -> JSON object for a Hugging Face tokenizer equal to ``tok``; special tokens
    added to a char or byte tokenizer (a fine-tune's chat tokens) become Hugging Face's added
    tokens with the same ids."""
    base, specials = tok, {}
    if isinstance(tok, SpecialsTokenizer):
        base, specials = tok.base, tok.special_tokens
    if isinstance(base, BPETokenizer):
        data = base.to_hf_dict()
    elif isinstance(base, ByteTokenizer):
        data = to_hf_dict([bytes([b]) for b in range(256)], [], None, specials)
    elif isinstance(base, CharTokenizer):
        data = _char_dict(base)
        data["added_tokens"] = _added(specials)
        data["model"]["vocab"].update(specials)
    else:
        raise TokenizerError(
            f"a {tok.type} tokenizer has no Hugging Face equivalent with the same ids; "
            "only bpe, byte and char runs can be exported."
        )
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
    }
    specials = {}
    if EOT in tok.special_tokens:
        specials = {"bos_token": EOT, "eos_token": EOT, "unk_token": EOT}
    elif tok.special_tokens:  # a chat run's tokens: named, so transformers keeps them whole
        specials = {"additional_special_tokens": sorted(tok.special_tokens, key=tok.special_tokens.get)}
    config.update(specials)
    return {"tokenizer.json": data, "tokenizer_config.json": config, "special_tokens_map.json": specials}


# ---- in ----------------------------------------------------------------------------------
def _pattern(pre: dict | None, source: Path) -> str | None:
    """The glassgpt pattern of a byte-level pre-tokenizer, or a TokenizerError."""

    def refuse(why: str) -> TokenizerError:
        return TokenizerError(f"the tokenizer in {source} {why}; glassgpt reads byte-level BPE without a prefix space.")

    if pre is None:
        raise refuse("has no byte-level pre-tokenizer")
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    byte_level = [s for s in steps if s.get("type") == "ByteLevel"]
    if len(byte_level) != 1 or steps[-1] is not byte_level[0]:
        raise refuse("does not end with one ByteLevel pre-tokenizer")
    if byte_level[0].get("add_prefix_space"):
        raise refuse("adds a prefix space")
    splits = steps[:-1]
    if byte_level[0].get("use_regex", True):
        if splits:
            raise refuse("splits text twice")
        return GPT2
    if not splits:
        return None
    if len(splits) != 1 or splits[0].get("type") != "Split" or "Regex" not in splits[0].get("pattern", {}):
        raise refuse("uses a pre-tokenizer other than one regex Split")
    regex_text = splits[0]["pattern"]["Regex"]
    if regex_text == WHOLE_TEXT:
        return None
    for text in BUILTIN.values():
        if text is not None and hf_regex(text) == regex_text:
            return text
    return regex_text


def _byte_level(vocab: dict[str, int], added: dict[str, int], pattern: str | None, source: Path) -> Tokenizer:
    decode = {c: b for b, c in enumerate(byte_to_unicode())}
    tokens: dict[int, bytes] = {}
    for text, idx in vocab.items():
        if text in added:
            continue
        try:
            tokens[idx] = bytes(decode[c] for c in text)
        except KeyError:
            raise TokenizerError(
                f"the vocabulary in {source} has the token {text!r}, which is not byte-level; "
                "glassgpt reads byte-level BPE tokenizers only."
            ) from None
    early = [(s, i) for s, i in added.items() if i < len(tokens)]
    if early:
        raise TokenizerError(
            f"the special token {early[0][0]!r} in {source} has id {early[0][1]}, among the ordinary "
            "tokens; glassgpt needs special tokens after them, as GPT-2 has <|endoftext|> last."
        )
    if sorted(tokens) != list(range(len(tokens))):
        raise TokenizerError(f"the ids of the ordinary tokens in {source} are not 0, 1, 2, … without gaps.")
    ordered = [tokens[i] for i in range(len(tokens))]
    if not added and pattern is None and ordered == [bytes([b]) for b in range(256)]:
        return ByteTokenizer()
    try:
        return BPETokenizer._from_tokens(ordered, None, pattern, dict(added))
    except TokenizerError as exc:
        raise TokenizerError(f"the tokenizer in {source} cannot be read as byte-level BPE ({exc})") from None


def _from_tokenizer_json(path: Path) -> Tokenizer:
    data = read_json(path, "Hugging Face tokenizer file")
    model = data.get("model") or {}
    added = {t["content"]: t["id"] for t in data.get("added_tokens") or []}
    if data.get("normalizer") is not None:
        raise TokenizerError(
            f"the tokenizer in {path} normalizes text first, which glassgpt does not do; it cannot be imported."
        )
    if model.get("type") == "WordLevel":
        vocab = model.get("vocab") or {}
        pre = data.get("pre_tokenizer") or {}
        chars = sorted(vocab, key=vocab.get)
        if (
            pre.get("pattern", {}).get("Regex") != _CHAR_SPLIT
            or any(len(c) != 1 for c in chars)
            or added
            or sorted(vocab.values()) != list(range(len(vocab)))
        ):
            raise TokenizerError(
                f"the WordLevel tokenizer in {path} is not a character tokenizer; it cannot be imported."
            )
        return CharTokenizer(chars)
    if "type" not in model:
        raise TokenizerError(f"{path} names no tokenizer model type; it is not a Hugging Face tokenizer file.")
    if model["type"] != "BPE":
        raise TokenizerError(f"the tokenizer in {path} is a {model['type']} model; glassgpt reads byte-level BPE.")
    return _byte_level(model.get("vocab") or {}, added, _pattern(data.get("pre_tokenizer"), path), path)


def tokenizer_from_hf(hf_dir: Path) -> Tokenizer:
    """The glassgpt tokenizer of a Hugging Face model folder."""
    if (hf_dir / "tokenizer.json").is_file():
        return _from_tokenizer_json(hf_dir / "tokenizer.json")
    if (hf_dir / "vocab.json").is_file():  # the original GPT-2 files
        try:
            vocab = json.loads((hf_dir / "vocab.json").read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise TokenizerError(f"{hf_dir / 'vocab.json'} is corrupted.") from None
        added = {EOT: vocab[EOT]} if EOT in vocab else {}
        return _byte_level(vocab, added, GPT2, hf_dir)
    raise TokenizerError(f"{hf_dir} has no tokenizer.json or vocab.json; a glassgpt run needs the model's tokenizer.")
