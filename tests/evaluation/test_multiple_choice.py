"""Multiple-choice scoring: known answers, a brute-force reference, ranks, bad records."""

from __future__ import annotations

import json
import math

import pytest
import torch
from support.scaledata import make_run

import glassgpt
from glassgpt.cli import main
from glassgpt.config import ModelConfig
from glassgpt.errors import DataError, TokenizerError
from glassgpt.evaluation.multiple_choice import (
    MCRecord,
    combine,
    evaluate_multiple_choice,
    join,
    read_records,
    score_records,
    with_shots,
)
from glassgpt.models import GPT
from glassgpt.tokenizers import CharTokenizer
from glassgpt.tokenizers.word import WordTokenizer

CHARS = " abcde.?"
PROBS = {" ": 0.05, "a": 0.4, "b": 0.25, "c": 0.1, "d": 0.1, "e": 0.05, ".": 0.03, "?": 0.02}


def unigram_model(tok: CharTokenizer) -> GPT:
    """A GPT whose every prediction is PROBS, whatever the context: all weights zero except
    the LM head's bias, which holds log-probabilities (zero activations flow to the head)."""
    cfg = ModelConfig(
        vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=1, n_embd=8, tie_weights=False, head_bias=True
    )
    model = GPT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.lm_head.bias.copy_(torch.tensor([math.log(PROBS[c]) for c in tok.chars]))
    return model.eval()


def nll(text: str) -> float:
    return -sum(math.log(PROBS[c]) for c in text)


def test_known_answers_sum_and_mean_disagree_by_design():
    tok = CharTokenizer(CHARS)
    model = unigram_model(tok)
    records = [
        MCRecord(1, "abc.", ["aaaa", "c"], 0),  # sum prefers "c" (one unlikely char), mean prefers "aaaa"
        MCRecord(2, "ab", ["ee", "ab", "dd"], 1),  # both prefer "ab"
        MCRecord(3, "dd", ["?", "a"], 0),  # both prefer "a": wrong under both
    ]
    result = score_records(model, tok, records, separator="")
    d = result.details
    assert [x["pred_sum"] for x in d] == [1, 1, 1] and [x["pred_mean"] for x in d] == [0, 1, 1]
    assert (result.correct_sum, result.correct_mean, result.examples) == (1, 2, 3)
    assert result.accuracy_sum == pytest.approx(1 / 3) and result.accuracy_mean == pytest.approx(2 / 3)
    for x, r in zip(d, records):
        assert x["sum_losses"] == pytest.approx([nll(e) for e in r.endings], abs=1e-5)
        assert x["mean_losses"] == pytest.approx([nll(e) / len(e) for e in r.endings], abs=1e-5)
        assert x["ending_tokens"] == [len(e) for e in r.endings]
    # the separator is scored as part of the ending
    spaced = score_records(model, tok, records[:1]).details[0]
    assert spaced["sum_losses"] == pytest.approx([nll(" aaaa"), nll(" c")], abs=1e-5)


def brute_force(model, tok, record, separator, context_len):
    """Each ending token's loss from its own forward pass on the tokens before it."""
    out = []
    for ending in record.endings:
        context, ending = join(record.context, ending, separator)
        ctx, end = tok.encode(context), tok.encode(ending)
        seq = (ctx + end)[-(context_len + 1) :]
        total = 0.0
        for p in range(len(seq) - len(end), len(seq)):
            with torch.no_grad():
                logits, _ = model(torch.tensor([seq[:p]]))
            total -= float(torch.log_softmax(logits[0, -1].double(), -1)[seq[p]])
        out.append(total)
    return out


def test_batched_scores_equal_a_brute_force_reference():
    tok = CharTokenizer.train("the quick brown fox jumps over the lazy dog. 0123456789")
    cfg = ModelConfig(vocab_size=tok.vocab_size, block_size=24, n_layer=2, n_head=2, n_embd=16)
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    records = [
        MCRecord(1, "the quick brown", ["fox", "dog jumps", "lazy over the 0"], 2),
        MCRecord(2, "the lazy dog jumps over the quick brown fox and " * 2, ["x", "quick", "a long ending here"], 0),
        MCRecord(3, "0", ["123", "9"], 1),
    ]
    result = score_records(model, tok, records)
    for detail, record in zip(result.details, records):
        assert detail["sum_losses"] == pytest.approx(brute_force(model, tok, record, " ", 24), abs=1e-5)


def test_ranks_score_disjoint_shares_that_add_up():
    tok = CharTokenizer(CHARS)
    model = unigram_model(tok)
    records = [MCRecord(i + 1, "abc", ["a" * (1 + i % 3), "cc", "d" + "b" * (i % 4)], i % 3) for i in range(10)]
    whole = score_records(model, tok, records)
    parts = [score_records(model, tok, records, rank=r, world_size=3) for r in range(3)]
    assert [p.examples for p in parts] == [4, 3, 3]
    assert {d["index"] for p in parts for d in p.details} == set(range(10))
    merged = combine(parts)
    assert merged.counts() == whole.counts() == [sum(c) for c in zip(*(p.counts() for p in parts))]
    assert merged.details == whole.details


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("not json", "is not valid JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"endings": ["a", "b"], "label": 0}', "has no 'context'"),
        ('{"context": "x", "label": 0}', "has no 'endings'"),
        ('{"context": "x", "endings": ["a", "b"]}', "has no 'label'"),
        ('{"context": "", "endings": ["a", "b"], "label": 0}', "empty or non-text 'context'"),
        ('{"context": "x", "endings": ["a"], "label": 0}', "at least two non-empty texts"),
        ('{"context": "x", "endings": ["a", 3], "label": 0}', "at least two non-empty texts"),
        ('{"context": "x", "endings": ["a", "b"], "label": 2}', "the label 2, not the index of one of its 2 endings"),
        ('{"context": "x", "endings": ["a", "b"], "label": true}', "the label True"),
        ('{"context": "x", "endings": ["a", "b"], "label": "0"}', "the label '0'"),
    ],
)
def test_bad_records_are_named_by_line(tmp_path, line, pattern):
    good = json.dumps({"context": "ab", "endings": ["a", "b"], "label": 0})
    path = write_lines(tmp_path / "mc.jsonl", [good, "", line])
    with pytest.raises(DataError, match=f"line 3 of .*mc.jsonl (is |has |needs )?.*{pattern}") as e:
        read_records(path)
    assert str(e.value).endswith(".") and "\n" not in str(e.value)


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_records(tmp_path / "none.jsonl")
    with pytest.raises(DataError, match="holds no records"):
        read_records(write_lines(tmp_path / "empty.jsonl", ["", "  "]))
    (tmp_path / "latin.jsonl").write_bytes(b'{"context": "caf\xe9", "endings": ["a", "b"], "label": 0}\n')
    with pytest.raises(DataError, match="line 1 of .* is not valid UTF-8"):
        read_records(tmp_path / "latin.jsonl")


def test_records_the_model_cannot_score(tmp_path):
    tok = CharTokenizer(CHARS)
    model = unigram_model(tok)
    with pytest.raises(TokenizerError, match="the record on line 4: the character 'z'"):
        score_records(model, tok, [MCRecord(4, "abz", ["a", "b"], 0)])
    with pytest.raises(
        DataError, match="ending 1 of the record on line 5 has 17 tokens, more than the model's context of 16"
    ):
        score_records(model, tok, [MCRecord(5, "ab", ["a", "b" * 16], 0)])


def test_evaluate_a_run_directory(tmp_path):
    tok = CharTokenizer.train("abcde .?")
    run = make_run(tmp_path / "run", tok, seed=2)
    lines = [json.dumps({"context": "abc", "endings": ["de", "a.", "??"], "label": i % 3}) for i in range(5)]
    path = write_lines(tmp_path / "mc.jsonl", lines)
    result = evaluate_multiple_choice(run, path)
    model, tokenizer = glassgpt.load(run)
    assert result.to_dict(details=True) == score_records(model, tokenizer, read_records(path)).to_dict(details=True)
    summary = json.loads(json.dumps(result.to_dict(details=True)))
    assert summary["examples"] == 5 and len(summary["details"]) == 5 and 0 <= summary["accuracy_mean"] <= 1


#: a line of HellaSwag's own validation file (hellaswag_val.jsonl), every field as it has them
HELLASWAG = {
    "ind": 24,
    "activity_label": "Roof shingle removal",
    "ctx_a": "a man is sitting on a roof.",
    "ctx_b": "he",
    "ctx": "a man is sitting on a roof. he",
    "split": "val",
    "split_type": "indomain",
    "label": 3,
    "endings": [
        "is using wrap to wrap a pair of skis.",
        "is ripping level tiles off.",
        "is holding a rubik's cube.",
        "starts pulling up roofing on a roof.",
    ],
    "source_id": "activitynet~v_-JhWjGDPHMY",
}


def test_hellaswag_lines_are_read_as_they_are(tmp_path):
    only_a = {k: v for k, v in HELLASWAG.items() if k not in ("ctx", "ctx_b")}
    lines = [
        HELLASWAG,
        {k: v for k, v in HELLASWAG.items() if k != "ctx"},  # ctx_a and ctx_b, joined by a space
        only_a,  # no ctx_b: the context is ctx_a alone
        {**HELLASWAG, "context": "our own context"},  # 'context' comes first
    ]
    records = read_records(write_lines(tmp_path / "hs.jsonl", [json.dumps(x) for x in lines]))
    contexts = [r.context for r in records]
    assert contexts == [HELLASWAG["ctx"], HELLASWAG["ctx"], HELLASWAG["ctx_a"], "our own context"]
    assert all(r.endings == HELLASWAG["endings"] and r.label == 3 for r in records)
    for line, pattern in (
        ({**only_a, "ctx_a": 5}, "non-text 'ctx_a' or 'ctx_b'"),
        ({**HELLASWAG, "ctx": ""}, "empty or non-text 'ctx'"),
        ({"endings": ["a", "b"], "label": 0}, "has no 'context' \\(nor HellaSwag's 'ctx', or 'ctx_a' and 'ctx_b'\\)"),
    ):
        with pytest.raises(DataError, match=f"line 1 of .* {pattern}; each line must be"):
            read_records(write_lines(tmp_path / "bad.jsonl", [json.dumps(line)]))


@pytest.mark.parametrize(
    "context, ending, separator, expected",
    [
        ("a man", "he", " ", ("a man", " he")),
        ("a man", " he", " ", ("a man", " he")),  # a leading space is not doubled
        ("a man ", "he", " ", ("a man", " he")),  # the context's trailing space goes to the ending
        ("a man ", " he", " ", ("a man", " he")),
        ("a man", "he", "", ("a man", "he")),
        ("Q: 2+2?", "4", "\nA: ", ("Q: 2+2?", "\nA: 4")),
        ("Q: 2+2?", "\nA: 4", "\nA: ", ("Q: 2+2?", "\nA: 4")),
    ],
)
def test_the_separator_goes_in_front_of_the_ending_once(context, ending, separator, expected):
    assert join(context, ending, separator) == expected


def test_an_ending_that_starts_with_a_space_scores_as_one_without():
    tok = CharTokenizer(CHARS)
    model = unigram_model(tok)
    records = [MCRecord(1, "ab", [" cc", "cc"], 0), MCRecord(2, "ab ", ["cc", "a"], 0)]
    spaced, moved = score_records(model, tok, records).details
    assert spaced["sum_losses"] == pytest.approx([nll(" cc")] * 2, abs=1e-5)  # never "  cc"
    assert spaced["ending_tokens"] == [3, 3]
    assert moved["sum_losses"] == pytest.approx([nll(" cc"), nll(" a")], abs=1e-5)
    (none,) = score_records(model, tok, records[:1], separator="").details
    assert none["sum_losses"] == pytest.approx([nll(" cc"), nll("cc")], abs=1e-5)


WORD_TEXT = "the cat sat on the mat\nthe dog ran to the park\na big red ball\n"


@pytest.fixture
def word_run(tmp_path):
    """A run of a word-level tokenizer (``--tokenizer word``): its vocabulary is the text's words."""
    return make_run(tmp_path / "words", WordTokenizer.train(WORD_TEXT), seed=3, block_size=16)


def test_a_word_tokenizer_run_scores_endings_of_known_words(word_run, tmp_path):
    records = [
        MCRecord(1, "the cat sat", ["on the mat", "to the park", " red ball"], 0),
        MCRecord(2, "the dog ", ["ran to the park", "sat"], 0),
    ]
    path = write_lines(
        tmp_path / "mc.jsonl",
        [json.dumps({"context": r.context, "endings": r.endings, "label": r.label}) for r in records],
    )
    result = evaluate_multiple_choice(word_run, path)
    model, tok = glassgpt.load(word_run)
    for detail, record in zip(result.details, records):
        assert detail["ending_tokens"] == [len(e.split()) for e in record.endings]  # one token a word
        assert detail["sum_losses"] == pytest.approx(brute_force(model, tok, record, " ", 16), abs=1e-5)
    assert result.examples == 2


def test_an_unknown_word_is_one_sentence_naming_it_and_its_record(word_run, tmp_path, capsys):
    good = json.dumps({"context": "the cat", "endings": ["sat", "ran"], "label": 0})
    path = write_lines(
        tmp_path / "mc.jsonl",
        [good, json.dumps({"context": "the cat", "endings": ["sat", "sat on a zebra"], "label": 0})],
    )
    assert main(["eval", str(word_run), "--multiple-choice", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ending 1 of the record on line 2: the word 'zebra' is not in this model's vocabulary")
    assert len(err.strip().splitlines()) == 1
    unknown_context = json.dumps({"context": "a zebra", "endings": ["sat", "ran"], "label": 0})
    assert main(["eval", str(word_run), "--multiple-choice", str(write_lines(path, [unknown_context])), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: the context of the record on line 1: the word 'zebra'")


def test_the_separator_option(word_run, tmp_path, capsys):
    tok = CharTokenizer.train("abcde .?\n")
    run = make_run(tmp_path / "chars", tok, seed=1)
    path = write_lines(tmp_path / "mc.jsonl", [json.dumps({"context": "abc", "endings": ["de", "a."], "label": 0})])

    def losses(*extra):
        assert main(["eval", str(run), "--multiple-choice", str(path), "--json", "--quiet", *extra]) == 0
        return json.loads(capsys.readouterr().out)["details"][0]

    model, tokenizer = glassgpt.load(run)
    record = read_records(path)[0]
    for extra, separator in (((), " "), (("--separator", ""), ""), (("--separator", "\\n"), "\n")):
        got = losses(*extra)
        assert got["sum_losses"] == pytest.approx(brute_force(model, tokenizer, record, separator, 32), abs=1e-5)
        assert got["ending_tokens"] == [len(separator) + 2] * 2
    assert main(["eval", str(run), "--separator", " "]) == 2
    assert "--separator goes with --multiple-choice" in capsys.readouterr().err
    assert main(["eval", str(run), "--multiple-choice", str(path), "--separator", "\\x4"]) == 2
    assert capsys.readouterr().err.startswith("error: --separator ")


def test_shots_write_other_solved_records_before_each_context():
    records = [MCRecord(i + 1, f"q{i}", [f"a{i}", f"b{i}"], i % 2) for i in range(4)]
    shot = with_shots(records, 2)
    assert [r.context for r in shot] == [
        "q1 b1\nq2 a2\nq0",  # record 0 never sees its own answer
        "q0 a0\nq2 a2\nq1",
        "q0 a0\nq1 b1\nq2",
        "q0 a0\nq1 b1\nq3",
    ]
    assert [r.endings for r in shot] == [r.endings for r in records] and with_shots(records, 0) == records
    for k in (-1, 4, 2.5):
        with pytest.raises(DataError, match="--shots must be a whole number from 0 to 3"):
            with_shots(records, k)


def test_the_shots_option_scores_the_few_shot_contexts(tmp_path, capsys):
    tok = CharTokenizer.train("abcde .?\n")
    run = make_run(tmp_path / "chars", tok, seed=1, block_size=32)
    lines = [
        json.dumps({"context": c, "endings": ["de", "a."], "label": i % 2}) for i, c in enumerate(("abc", "ba", "cab"))
    ]
    path = write_lines(tmp_path / "mc.jsonl", lines)
    assert main(["eval", str(run), "--multiple-choice", str(path), "--shots", "2", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    model, tokenizer = glassgpt.load(run)
    expected = score_records(model, tokenizer, with_shots(read_records(path), 2))
    assert out["details"][0]["sum_losses"] == pytest.approx(expected.details[0]["sum_losses"], rel=1e-6)
    plain = score_records(model, tokenizer, read_records(path))
    assert out["details"][0]["sum_losses"] != pytest.approx(plain.details[0]["sum_losses"], rel=1e-6)
    assert main(["eval", str(run), "--multiple-choice", str(path), "--shots", "3", "--quiet"]) == 2
    assert "--shots must be a whole number from 0 to 2" in capsys.readouterr().err
    assert main(["eval", str(run), "--shots", "1"]) == 2
    assert "--shots goes with --multiple-choice" in capsys.readouterr().err
