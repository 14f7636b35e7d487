"""``glassgpt gradcheck``: the table, exit 0 when every tensor agrees, 1 on any failure, 2 on bad input."""

import pytest

import glassgpt
from glassgpt.cli import main
from glassgpt.config import RunConfig
from glassgpt.glass import model as glass_model
from glassgpt.glass.gradcheck import tolerance
from glassgpt.training.gradcheck import run_gradcheck


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_preset_check_passes_and_prints_every_tensor(capsys, dtype, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["gradcheck", "--preset", "nursery", "--dtype", dtype, "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    # 80 columns: names lose their common "transformer." prefix (the caption says so)
    for name in ("logits", "loss", "\n  wte.weight", "h.1.mlp.c_proj.bias", "lm_head.bias", "without their leading"):
        assert name in out
    assert "transformer.wte.weight" not in out and max(len(line) for line in out.splitlines()) <= 80
    words = " ".join(out.split())  # the title wraps at 80 columns
    assert "27,747 parameters" in words and "vocabulary 35" in words
    assert "all 30 tensors agree" in out and "FAIL" not in out
    assert main(["gradcheck", "--preset", "nursery", "--dtype", dtype, "--batch-size", "3", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "transformer.wte.weight" in out and "transformer.h.1.mlp.c_proj.bias" in out


def test_a_wrong_backward_fails_with_exit_1(capsys, monkeypatch):
    real = glass_model.layernorm_backward

    def forgets_the_variance_term(dy, cache):  # a classic bug: drop the xhat * mean(dxhat * xhat) term
        xhat, rstd, g, has_bias = cache
        dx, dg, db = real(dy, cache)
        dxhat = dy * g
        return dx + rstd * xhat * (dxhat * xhat).mean(-1, keepdims=True), dg, db

    monkeypatch.setattr(glass_model, "layernorm_backward", forgets_the_variance_term)
    assert main(["gradcheck", "--preset", "nursery", "--dtype", "float32"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "tensors FAILED" in out
    # the gradients after the first LayerNorm's backward are wrong; the head's are still right
    result = run_gradcheck(preset="nursery")
    bad = {r.name for r in result.failures}
    assert "transformer.wte.weight" in bad and "lm_head.weight" not in bad


def test_a_trained_run_checks_on_its_own_text(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GLASSGPT_REPORT", "0")
    cfg = RunConfig()
    cfg = cfg.updated({"model.n_layer": 1, "model.n_head": 2, "model.n_embd": 16, "model.block_size": 8})
    cfg = cfg.updated({"train.batch_size": 4, "train.max_steps": 10, "train.engine": "glass"})
    cfg = cfg.updated({"data.corpus": "", "data.val_fraction": 0.1})
    glassgpt.train(tmp_path / "run", config=cfg, text="abcabcabd " * 50)
    assert main(["gradcheck", str(tmp_path / "run"), "--dtype", "float32", "--seq-len", "8"]) == 0
    assert "run " in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "nursery", "--seq-len", "7"], "between 1 and the model's context 6"),
        (["--preset", "nursery", "--batch-size", "0"], "at least 1"),
        (["--preset", "nope"], "unknown preset"),
        (["RUNDIR", "--preset", "nursery"], "not both"),
        (["RUNDIR"], "does not exist"),
        (["--preset", "baby", "--vocab-size", "0"], "at least 1"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / "missing") if a == "RUNDIR" else a for a in argv]
    assert main(["gradcheck", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_tolerances_are_per_tensor_and_per_dtype():
    assert tolerance("loss", "float32")[0] < tolerance("transformer.h.0.attn.c_attn.weight", "float32")[0]
    assert tolerance("transformer.h.0.ln_1.weight", "float64")[0] <= 1e-9
    tol, why = tolerance("transformer.wte.weight", "float32")
    assert tol == 3e-5 and why.startswith("embedding")
