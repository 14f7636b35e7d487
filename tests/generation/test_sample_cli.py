"""`glassgpt sample` steered: --regex, --choices and --json-schema (every sample matches, a bad
constraint is exit 2 with the disk untouched), --shots, --draft and --draft-tokens."""

import json

import pytest
import regex
from support.tinyrun import TINY_TEXT, tiny_config

import glassgpt
from glassgpt.cli import main


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("constrained") / "run"
    text = TINY_TEXT + '{"dog": "lazy", "n": [1, 2]}\n' * 10
    glassgpt.train(out, config=tiny_config(max_steps=10), text=text, report=False)
    return out


def test_the_cli_samples_under_each_constraint(char_run, tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"dog": {"enum": ["lazy", "quick"]}}}))
    for option, value, pattern in (
        ("--regex", "(quick|lazy) [a-z]{3,5}", r"(quick|lazy) [a-z]{3,5}"),
        ("--choices", "fox|dog", "fox|dog"),
        ("--json-schema", str(schema), r'\{"dog": "(lazy|quick)"\}'),
    ):
        args = ["sample", str(char_run), "--prompt", "the ", "--num-samples", "5", "--seed", "1", "--json", "--quiet"]
        assert main([*args, option, value, "--max-new-tokens", "30"]) == 0
        texts = json.loads(capsys.readouterr().out)
        assert len(texts) == 5 and all(regex.fullmatch(pattern, t[len("the ") :]) for t in texts), texts


def test_the_cli_refuses_a_bad_constraint_with_status_2(char_run, tmp_path, capsys):
    before = sorted(p.name for p in char_run.iterdir())
    assert main(["sample", str(char_run), "--regex", "[a-"]) == 2
    assert "error: --regex '[a-' is not a valid regular expression" in capsys.readouterr().err
    assert main(["sample", str(char_run), "--choices", "ÆØÅ"]) == 2
    assert "no text this model's vocabulary can spell" in capsys.readouterr().err
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"dog": {"type": "string", "pattern": "[a-z]+"}}}))
    assert main(["sample", str(char_run), "--json-schema", str(schema)]) == 2
    err = capsys.readouterr().err
    assert f"error: --json-schema {schema}, property 'dog' uses the keyword 'pattern', which constrained" in err
    assert err.count("\n") == 1 and err.rstrip().endswith(".")  # one sentence, on one line
    assert sorted(p.name for p in char_run.iterdir()) == before


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A smaller run on the same text: the same characters, so the same tokenizer."""
    out = tmp_path_factory.mktemp("draft") / "small"
    text = TINY_TEXT + '{"dog": "lazy", "n": [1, 2]}\n' * 10
    cfg = tiny_config({"model.n_layer": 1, "model.n_embd": 16}, max_steps=5)
    glassgpt.train(out, config=cfg, text=text, report=False)
    return out


def test_the_cli_samples_with_a_draft(char_run, small_run, capsys):
    args = ["sample", str(char_run), "--prompt", "the ", "--max-new-tokens", "24", "--temperature", "0", "--json"]
    assert main([*args, "--quiet"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, "--quiet", "--draft", str(small_run), "--draft-tokens", "3"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == plain  # greedy: exactly the run's own text
    assert "guesses accepted" in out.err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--draft-tokens", "0"], "--draft-tokens must be a whole number from 1 to 32"),
        (["--draft-tokens", "1000"], "--draft-tokens must be a whole number from 1 to 32"),
        (["--regex", "a+"], "--draft and a constraint cannot be combined"),
    ],
)
def test_the_cli_refuses_an_absurd_draft(char_run, small_run, capsys, extra, message):
    assert main(["sample", str(char_run), "--draft", str(small_run), *extra]) == 2
    assert message in capsys.readouterr().err


def test_the_cli_refuses_a_draft_with_another_tokenizer(char_run, tmp_path, capsys):
    other = tmp_path / "other"
    glassgpt.train(other, config=tiny_config(max_steps=2), text="abc abc\n" * 50, report=False)
    assert main(["sample", str(char_run), "--draft", str(other)]) == 2
    assert "has another tokenizer (char, 5 ids) than this run (char, 39 ids)" in capsys.readouterr().err


def test_the_cli_refuses_absurd_sample_counts(char_run, capsys):
    assert main(["sample", str(char_run), "--num-samples", "0"]) == 2
    assert "num_samples must be at least 1" in capsys.readouterr().err
    assert main(["sample", str(char_run), "--num-samples", str(10**9), "--quiet"]) == 2
    assert "ask for fewer samples or tokens" in capsys.readouterr().err


def test_the_cli_builds_a_few_shot_prompt(char_run, tmp_path, capsys):
    shots = tmp_path / "shots.jsonl"
    shots.write_text(
        "\n".join(json.dumps({"input": q, "output": a}) for q, a in [("the quick ", "fox"), ("the lazy ", "dog")])
    )
    assert (
        main(["sample", str(char_run), "--shots", str(shots), "--prompt", "the ", "--seed", "0", "--json", "--quiet"])
        == 0
    )
    texts = json.loads(capsys.readouterr().out)
    assert texts[0].startswith("the ") and "\n" not in texts[0] and "quick fox" not in texts[0]
    shots.write_text("not json\n")
    assert main(["sample", str(char_run), "--shots", str(shots)]) == 2
    assert "line 1 is not valid JSON" in capsys.readouterr().err
