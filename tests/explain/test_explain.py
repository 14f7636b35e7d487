"""glassgpt.explain and `glassgpt explain`: per-token probabilities, losses, ranks, top-k and dL/dlogits."""

import io
import json
import math

import pytest
import torch
import torch.nn.functional as F

from glassgpt.cli import main
from glassgpt.config import RunConfig
from glassgpt.errors import DataError, TokenizerError
from glassgpt.explain import explain, explain_text, render
from glassgpt.fileio import save_tensors, write_json
from glassgpt.generation.constraints import Constraint
from glassgpt.models import GPT
from glassgpt.models.from_run import LoadedRun
from glassgpt.tokenizers import CharTokenizer

VOCAB_TEXT = "abcdefgh é.\n"  # 'é' is two UTF-8 bytes: bits per byte must count bytes, not tokens
TEXT = "abc déf.\ncafé bad"
KEYS = {"position", "context", "target", "p_target", "loss", "rank", "top_k", "grad_target", "grad_row_sum"}


def tiny(block_size=8, seed=0):
    torch.manual_seed(seed)
    tok = CharTokenizer.train(VOCAB_TEXT)
    cfg = RunConfig().updated(
        {"model.vocab_size": tok.vocab_size, "model.block_size": block_size, "model.n_layer": 2}
        | {"model.n_head": 2, "model.n_embd": 16}
    )
    model = GPT(cfg.model)
    with torch.no_grad():  # large random weights: peaked, varied distributions to rank and check
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model.eval(), tok, cfg


def window_logits(model, ids, j):
    """Independent reference: logits (float64) predicting ids[j] from the last block_size tokens."""
    ctx = ids[max(0, j - model.config.block_size) : j]
    with torch.no_grad():
        logits, _ = model(torch.tensor([ctx]))
    return logits[0, -1].double()


@pytest.mark.parametrize("block_size", [32, 4])  # 4: the 17-token text slides over many windows
def test_probabilities_are_a_softmax_of_the_models_logits(block_size):
    model, tok, _ = tiny(block_size)
    ids = tok.encode(TEXT)
    out = explain(model, tok, TEXT, top_k=3)
    assert len(out["tokens"]) == len(ids) - 1
    for row in out["tokens"]:
        j = row["position"] + 1
        p = torch.softmax(window_logits(model, ids, j), -1)
        # float32 logits, float64 softmax on both sides: only summation order differs
        assert row["p_target"] == pytest.approx(float(p[ids[j]]), rel=1e-6, abs=1e-9)
        assert row["loss"] == pytest.approx(-math.log(float(p[ids[j]])), rel=1e-6, abs=1e-7)
        assert row["context"] == tok.token_str(ids[j - 1]) and row["target"] == tok.token_str(ids[j])


def test_max_context_crops_every_window():
    """A model with context 32 explained with max_context=4 scores each target from its last
    4 tokens only (what a run trained on windows of 4 needs)."""
    model, tok, _ = tiny(block_size=32)
    ids = tok.encode(TEXT)
    out = explain(model, tok, TEXT, top_k=3, max_context=4)
    whole = explain(model, tok, TEXT, top_k=3)
    assert [r["p_target"] for r in out["tokens"]] != [r["p_target"] for r in whole["tokens"]]
    for row in out["tokens"]:
        j = row["position"] + 1
        with torch.no_grad():
            logits = model(torch.tensor([ids[max(0, j - 4) : j]]))[0][0, -1].double()
        p = torch.softmax(logits, -1)
        assert row["p_target"] == pytest.approx(float(p[ids[j]]), rel=1e-6, abs=1e-9)


def test_small_chunks_give_the_same_result(monkeypatch):
    """Long texts are processed in bounded chunks; the chunking must not change a number."""
    import glassgpt.explain as ex

    model, tok, _ = tiny(block_size=4)
    full = explain(model, tok, TEXT * 2, top_k=3)
    monkeypatch.setattr(ex, "ROWS_PER_CHUNK", 3)
    monkeypatch.setattr(ex, "LOGITS_BUDGET", 1)  # one window per forward pass
    small = explain(model, tok, TEXT * 2, top_k=3)
    assert len(small["tokens"]) == len(full["tokens"]) == 2 * len(TEXT) - 1
    for a, b in zip(small["tokens"], full["tokens"]):
        assert a["position"] == b["position"] and a["rank"] == b["rank"]
        assert a["p_target"] == pytest.approx(b["p_target"], rel=1e-5)  # batched vs single: float32 rounding


def test_gradients_equal_autograd_of_the_per_position_loss():
    model, tok, _ = tiny(block_size=8)
    ids = tok.encode(TEXT)
    out = explain(model, tok, TEXT, top_k=len(VOCAB_TEXT))
    for row in out["tokens"]:
        j = row["position"] + 1
        z = window_logits(model, ids, j).clone().requires_grad_(True)
        F.cross_entropy(z[None], torch.tensor([ids[j]])).backward()  # one position: mean = the loss itself
        g = z.grad
        # the reference logits come from a separate float32 forward pass (another length, so
        # another summation order): they agree to float32 rounding, ~1e-7, not float64's
        assert row["grad_target"] == pytest.approx(float(g[ids[j]]), abs=1e-6)
        # every other entry of the gradient is that token's probability
        by_name = {tok.token_str(i): float(g[i]) for i in range(tok.vocab_size)}
        for name, p in row["top_k"]:
            if name != row["target"]:
                assert p == pytest.approx(by_name[name], abs=1e-6)
        assert abs(row["grad_row_sum"]) < 1e-12 and abs(float(g.sum())) < 1e-12  # float64 sums of ~13 terms


def test_rank_and_top_k():
    model, tok, _ = tiny(block_size=8)
    ids = tok.encode(TEXT)
    out = explain(model, tok, TEXT, top_k=4)
    ranks = set()
    for row in out["tokens"]:
        j = row["position"] + 1
        p = torch.softmax(window_logits(model, ids, j), -1)
        order = torch.argsort(p, descending=True).tolist()
        ranks.add(row["rank"])
        assert row["rank"] == order.index(ids[j]) + 1
        assert [t for t, _ in row["top_k"]] == [tok.token_str(i) for i in order[:4]]
        probs = [q for _, q in row["top_k"]]
        assert probs == sorted(probs, reverse=True) and len(probs) == 4
        if row["rank"] <= 4:
            assert row["top_k"][row["rank"] - 1] == [row["target"], row["p_target"]]
    assert len(ranks) > 2  # the check saw varied ranks, not only 1
    assert explain(model, tok, TEXT, top_k=100)["tokens"][0]["top_k"].__len__() == tok.vocab_size
    assert explain(model, tok, TEXT, top_k=0)["tokens"][0]["top_k"] == []


def test_json_shape_and_totals():
    model, tok, _ = tiny(block_size=8)
    out = json.loads(json.dumps(explain(model, tok, TEXT)))
    assert set(out) == {"tokens", "mean_loss", "perplexity", "bits_per_byte"}
    for i, row in enumerate(out["tokens"]):
        assert set(row) == KEYS and row["position"] == i
        assert isinstance(row["rank"], int) and isinstance(row["context"], str)
        assert all(isinstance(t, str) and isinstance(p, float) for t, p in row["top_k"])
        assert len(row["top_k"]) == 5
    losses = [r["loss"] for r in out["tokens"]]
    mean = sum(losses) / len(losses)
    assert out["mean_loss"] == pytest.approx(mean, rel=1e-12)
    assert out["perplexity"] == pytest.approx(math.exp(mean), rel=1e-12)
    n_bytes = len(TEXT[1:].encode("utf-8"))  # the predicted characters, 'é' counted as 2 bytes
    assert n_bytes == len(TEXT) - 1 + 2
    assert out["bits_per_byte"] == pytest.approx(sum(losses) / math.log(2) / n_bytes, rel=1e-12)


def test_bad_text():
    model, tok, _ = tiny()
    with pytest.raises(TokenizerError, match="'Z'"):
        explain(model, tok, "abZ")
    with pytest.raises(DataError, match="at least two"):
        explain(model, tok, "a")
    with pytest.raises(DataError):
        explain(model, tok, "")


def test_render_prints_a_row_per_prediction():
    from rich.console import Console

    model, tok, _ = tiny()
    buf = io.StringIO()
    render(explain(model, tok, "ab ca"), vocab_size=tok.vocab_size, console=Console(file=buf, width=160))
    text = buf.getvalue()
    assert "perplexity" in text and "␣" in text and text.count("✓") == 4


# ---- the CLI -----------------------------------------------------------------------------------
@pytest.fixture
def run_dir(tmp_path):
    model, tok, cfg = tiny()
    d = tmp_path / "run"
    d.mkdir()
    write_json(d / "config.json", cfg.to_dict())
    save_tensors(d / "model.safetensors", {k: v.contiguous() for k, v in model.weights().items()})
    tok.save(d / "tokenizer.json")
    return d, model, tok


def test_cli_json_matches_the_library(run_dir, capsys, tmp_path):
    d, model, tok = run_dir
    assert main(["explain", str(d), TEXT, "--json", "--top-k", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = explain(model, tok, TEXT, top_k=2)
    assert [r["p_target"] for r in out["tokens"]] == pytest.approx([r["p_target"] for r in ref["tokens"]], rel=1e-6)
    assert all(len(r["top_k"]) == 2 for r in out["tokens"])
    f = tmp_path / "text.txt"
    f.write_text(TEXT, encoding="utf-8")
    assert main(["explain", str(d), "--file", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_loss"] == pytest.approx(ref["mean_loss"], rel=1e-6)
    assert main(["explain", str(d), "abc"]) == 0  # the table
    assert "mean loss" in capsys.readouterr().out


def test_cli_errors_exit_2(run_dir, capsys, tmp_path):
    d, _, _ = run_dir
    assert main(["explain", str(d), "abZ"]) == 2
    err = capsys.readouterr().err
    assert "'Z'" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["explain", str(tmp_path / "missing"), "abc"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["explain", str(d), "a"]) == 2
    assert main(["explain", str(d)]) == 2  # neither TEXT nor --file
    assert main(["explain", str(d), "abc", "--top-k", "-1"]) == 2


# ---- --regex: what a constraint removes ---------------------------------------------------------
def loaded(model, tok, cfg) -> LoadedRun:
    return LoadedRun(None, cfg, model, tok, cfg.model.block_size)


def test_removed_mass_is_the_probability_of_the_disallowed_tokens():
    model, tok, cfg = tiny(block_size=16)
    text = "a bad cafe"
    result = explain_text(loaded(model, tok, cfg), text, constraint=Constraint.regex(r"( [a-h]+)+"))
    ids = tok.encode(text)
    letters = [tok.encode(c)[0] for c in "abcdefgh"]
    space = tok.encode(" ")[0]
    with torch.no_grad():
        for row in result["tokens"]:
            j = row["position"]
            probs = model(torch.tensor([ids[: j + 1]]))[0][0, -1].double().softmax(-1)
            prev = text[1 : j + 1]  # what the constraint has read so far
            allowed = [space] if prev == "" else letters if prev.endswith(" ") else [*letters, space]
            removed = 1.0 - float(probs[allowed].sum())
            assert row["removed"] == pytest.approx(removed, abs=1e-6)
            complete = prev != "" and not prev.endswith(" ")
            expected = row["p_target"] if complete else row["p_target"] / (1.0 - row["removed"])
            assert row["p_constrained"] == pytest.approx(expected, rel=1e-9)
    assert result["match"] is True
    assert result["tokens"][0]["removed"] > 0.5  # only the space may come first: most of the mass is cut


def test_a_text_the_constraint_does_not_allow_is_refused_where_it_leaves():
    model, tok, cfg = tiny(block_size=16)
    with pytest.raises(DataError, match=r"leaves --regex '\[a-c\]\+' at token 3 \('d'\)"):
        explain_text(loaded(model, tok, cfg), "eabd", constraint=Constraint.regex("[a-c]+"))
    partial = explain_text(loaded(model, tok, cfg), "eab", constraint=Constraint.regex("[a-c]+ h"))
    assert partial["match"] is False and all(0 <= r["removed"] <= 1 for r in partial["tokens"])


def test_a_word_list_name_ends_with_the_end_choice():
    model, _, cfg = tiny(block_size=16)
    tok = CharTokenizer(list(".abcdefgh é\n"))  # id 0 is '.', the end of every name
    cfg = cfg.updated({"data.kind": "words"})
    result = explain_text(loaded(model, tok, cfg), "bad", constraint=Constraint.regex("[a-d]+"))
    last = result["tokens"][-1]
    assert last["target"] == "." and result["match"] is True
    assert last["p_constrained"] == pytest.approx(last["removed"])  # P(end) is the masked mass
    assert math.isclose(sum(1 for r in result["tokens"] if "removed" in r), 4)


def test_cli_explains_what_a_constraint_removes(run_dir, capsys):
    d, model, tok = run_dir
    assert main(["explain", str(d), "a bad", "--regex", "( [a-h]+)+", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["match"] is True and all(0 <= r["removed"] <= 1 for r in out["tokens"])
    assert main(["explain", str(d), "a bad", "--choices", " bad| cab"]) == 0
    assert "cut = the probability the constraint removed" in capsys.readouterr().out
    before = sorted(p.name for p in d.iterdir())
    assert main(["explain", str(d), "a bad", "--regex", "[0-9]+"]) == 2
    assert "the text leaves --regex '[0-9]+' at token 1" in capsys.readouterr().err
    assert main(["explain", str(d), "a bad", "--regex", "(x"]) == 2
    assert "is not a valid regular expression" in capsys.readouterr().err
    assert sorted(p.name for p in d.iterdir()) == before
