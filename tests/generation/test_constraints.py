"""Constrained decoding: every sample matches, for every tokenizer; multi-character tokens
cross automaton states; masking and the end choice; impossible and bad constraints refused."""

import json

import pytest
import regex
import torch
from support.tinyrun import TINY_TEXT

from glassgpt.config import ModelConfig
from glassgpt.data.corpora import POEM
from glassgpt.errors import ConfigError, GlassError
from glassgpt.generation.automaton import TokenAutomaton
from glassgpt.generation.constraints import ConstrainedRow, Constraint, automaton_for, make_constraint
from glassgpt.generation.sampling import generate, sample_text
from glassgpt.generation.steering import END
from glassgpt.models import GPT
from glassgpt.tokenizers import BPETokenizer, ByteTokenizer, CharTokenizer, WordTokenizer

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 6},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"enum": ["red", "blue", 7]}, "maxItems": 3},
        "ok": {"type": "boolean"},
    },
    "required": ["name", "age"],
}


def random_model(vocab: int, seed: int = 0, block: int = 64) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=vocab, block_size=block, n_layer=1, n_head=2, n_embd=16)).eval()


@pytest.fixture(scope="module")
def tokenizers():
    text = POEM + TINY_TEXT + '{}[]":,0123456789-_'
    return {
        "char": CharTokenizer.train(text),
        "byte": ByteTokenizer(),
        "bpe": BPETokenizer.train(text * 2, 420),
    }


@pytest.mark.parametrize("kind", ["char", "byte", "bpe"])
@pytest.mark.parametrize(
    "constraint, check",
    [
        ({"regex": r"[a-z]+ (yes|no)"}, lambda t: regex.fullmatch(r"[a-z]+ (yes|no)", t)),
        ({"choices": "gold|silver|old gold"}, lambda t: t in ("gold", "silver", "old gold")),
        ({"json_schema": SCHEMA}, lambda t: list(json.loads(t)) == ["name", "age", "tags", "ok"]),
    ],
)
def test_every_constrained_sample_matches(tokenizers, kind, constraint, check):
    tok = tokenizers[kind]
    model = random_model(tok.vocab_size)
    outs = sample_text(model, tok, "the ", 60, temperature=1.0, num_samples=24, seed=3, **constraint)
    texts = [o[len("the ") :] for o in outs]
    assert all(check(t) for t in texts), texts
    assert len(set(texts)) > 1  # sampled, not one forced answer
    for t in texts:
        if "json_schema" in constraint:
            obj = json.loads(t)
            assert isinstance(obj["age"], int) and 1 <= len(obj["name"]) <= 6 and len(obj["tags"]) <= 3


def test_multi_character_tokens_cross_automaton_states(tokenizers):
    """A BPE token such as ' yes' or 'ld' spans several states of the character automaton: it is
    allowed exactly when the whole of it fits, and the sampler uses such tokens."""
    tok = tokenizers["bpe"]
    auto = TokenAutomaton(r"(gold|old|bold) (yes|no)", tok)
    start = set(auto.allowed(auto.start).tolist())
    spelled = {i: tok.token_bytes(i) for i in range(tok.vocab_size) if i not in tok.special_tokens.values()}
    matches = [f"{a} {b}".encode() for a in ("gold", "old", "bold") for b in ("yes", "no")]
    assert start == {i for i, b in spelled.items() if b and any(m.startswith(b) for m in matches)}
    assert any(len(spelled[i]) > 1 for i in start)  # multi-character tokens are among them
    model = random_model(tok.vocab_size, seed=1)
    rows = generate(model, tok.encode("a"), 12, temperature=1.0, num_samples=30, seed=0, steer=_rows(auto))
    assert any(any(len(tok.token_bytes(i)) > 1 for i in row) for row in rows)
    for row in rows:
        assert regex.fullmatch(r"(gold|old|bold) (yes|no)", tok.decode(row))


def _rows(auto):
    return lambda i: ConstrainedRow(auto)


def test_bytes_of_one_character_are_followed_across_tokens(tokenizers):
    """A byte tokenizer spells 'é' in two tokens: the first byte alone is allowed, a wrong
    continuation byte is not, and every sample decodes to valid text that matches."""
    tok = tokenizers["byte"]
    auto = TokenAutomaton("é[0-9]", tok)
    assert auto.allowed(auto.start).tolist() == [0xC3]
    mid = auto.move(auto.start, 0xC3)
    assert auto.allowed(mid).tolist() == [0xA9] and not mid.complete
    outs = sample_text(random_model(256), tok, "x", 10, temperature=1.0, num_samples=10, seed=0, regex="é[0-9]")
    assert all(regex.fullmatch("xé[0-9]", o) for o in outs)


def test_word_tokenizer_matches_the_decoded_text():
    tok = WordTokenizer.train("mary had a little lamb\nits fleece was white as snow\n")
    model = random_model(tok.vocab_size)
    pattern = r"(mary|lamb)( (had|a))+"
    outs = sample_text(model, tok, "its", 8, temperature=1.0, num_samples=12, seed=0, regex=pattern)
    for out in outs:
        assert regex.fullmatch(pattern, out[len("its ") :]), out


def test_disallowed_logits_are_masked_and_the_end_takes_their_mass():
    tok = CharTokenizer("abc")
    auto = TokenAutomaton("a+", tok)
    row = ConstrainedRow(auto)
    logits = torch.tensor([1.0, 2.0, 3.0])
    first = row.adjust(logits, 10)
    assert first.tolist() == [1.0, float("-inf"), float("-inf"), float("-inf")]  # no end before a match
    row.push(0)
    after = row.adjust(logits, 10)
    assert after[:3].tolist() == [1.0, float("-inf"), float("-inf")]
    assert after[3].item() == pytest.approx(torch.logsumexp(torch.tensor([2.0, 3.0]), 0).item())
    probs = after.softmax(0)  # P(end) is what the model gave the masked tokens
    assert probs[3].item() == pytest.approx(logits.softmax(0)[1:].sum().item(), rel=1e-6)
    row.push(END)
    assert row.done


def test_the_budget_always_leaves_room_to_finish():
    """With 3 tokens left, 'x{3}' must be chosen now: every output completes inside the budget."""
    tok = CharTokenizer("xy")
    auto = TokenAutomaton("y*x{3}", tok)
    row = ConstrainedRow(auto)
    assert row.adjust(torch.zeros(2), 3)[:2].tolist() == [0.0, float("-inf")]  # y would leave no room
    model = random_model(2)
    rows = generate(model, [1], 6, temperature=1.0, num_samples=20, seed=0, steer=_rows(auto))
    assert all(regex.fullmatch("y*xxx", tok.decode(r)) for r in rows)


def test_compiled_once_and_cached(tokenizers):
    tok = tokenizers["char"]
    c = Constraint.regex("[a-z]{2,4}")
    assert automaton_for(c, tok) is automaton_for(c, tok)
    assert automaton_for(c, tok) is not automaton_for(c, tokenizers["byte"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"regex": "(ab"}, "is not a valid regular expression"),
        ({"regex": r"(a)\1"}, "cannot follow"),
        ({"regex": r"[^\s\S]"}, "matches no text at all"),
        ({"regex": "ж+"}, "no text this model's vocabulary can spell"),
        ({"regex": "a{20}"}, "takes 20 tokens, more than --max-new-tokens 10"),
        ({"choices": "a||b"}, "non-empty choices"),
        ({"json_schema": {"type": "object", "properties": {"n": {"type": "number"}}}}, "the type 'number'"),
        ({"json_schema": {"type": "string", "pattern": "x"}}, "keyword 'pattern'"),
        ({"json_schema": {"type": "array", "items": {"type": "integer"}, "maxItems": 10**6}}, "more than the 64"),
        ({"regex": "a", "choices": "b"}, "two constraints"),
    ],
)
def test_impossible_and_bad_constraints_are_one_sentence(tokenizers, kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        sample_text(random_model(tokenizers["char"].vocab_size), tokenizers["char"], "a", 10, **kwargs)
    assert str(info.value).count(". ") == 0 and str(info.value).endswith(".")


def test_make_constraint_reads_a_schema_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"enum": ["a", 3]}))
    assert make_constraint(json_schema=str(path)).pattern == '(?:"a"|3)'
    path.write_text("{nope")
    with pytest.raises(GlassError, match="not valid JSON"):
        make_constraint(json_schema=str(path))


def test_a_constrained_stream_gives_generates_tokens(tokenizers):
    from glassgpt.generation.streaming import stream_tokens

    tok = tokenizers["bpe"]
    model = random_model(tok.vocab_size, seed=2)
    auto = automaton_for(Constraint.regex(r"(gold|old) [a-z]{2,6}"), tok)
    made = generate(model, [5], 20, temperature=0.9, seed=4, steer=lambda i: ConstrainedRow(auto))[0]
    streamed = list(stream_tokens(model, [5], 20, temperature=0.9, seed=4, steer=ConstrainedRow(auto)))
    assert [t.id for t in streamed] == made
    assert all(0 < t.sample_prob <= 1 for t in streamed)
    assert any(t.sample_prob > t.prob for t in streamed)  # masking moves mass onto what is allowed
