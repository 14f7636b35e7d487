"""docs/curriculum.md, B4: the nursery GPT's parameter count by component, causal mask, and attention by hand."""

import math

import numpy as np
import pytest

from glassgpt.demos import attention

pytestmark = pytest.mark.slow  # trains small models: several seconds

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("attention")
    return attention.run(plot=True, out_dir=str(out)), out


def test_parameter_count_by_component(run):
    r, _ = run
    assert r["total_params"] == r["num_params"] == 27747
    assert r["components"] == {
        "wte": 35 * 32,
        "wpe": 6 * 32,
        "h.*.ln_1": 2 * 64,
        "h.*.attn.c_attn": 2 * 32 * 96,
        "h.*.attn.c_proj": 2 * (32 * 32 + 32),
        "h.*.ln_2": 2 * 64,
        "h.*.mlp.c_fc": 2 * (32 * 128 + 128),
        "h.*.mlp.c_proj": 2 * (128 * 32 + 32),
        "ln_f": 64,
        "lm_head": 35 * 32 + 35,
    }
    assert (r["n_tokens"], r["vocab_size"]) == (106, 35)


def test_causal_mask(run):
    r, _ = run
    mask = np.array(r["mask"])
    assert mask.shape == (6, 6)
    assert (mask == np.tril(np.ones((6, 6), dtype=bool))).all()


def test_attention_weights_are_the_models(run):
    r, _ = run
    w = np.array(r["weights"])
    assert w.shape == (3, 3)  # "mary had a"
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w[np.triu_indices(3, 1)] == 0).all()
    assert w[0, 0] == 1.0  # the first word can only read itself
    # float64 by hand vs the float32 model: agreement to float32 rounding
    assert r["block_output_diff"] < 1e-5
    assert r["recorded_attention_diff"] is None or r["recorded_attention_diff"] < 1e-5


def test_training_learns_the_rhyme(run):
    r, _ = run
    assert r["losses"][0] == pytest.approx(math.log(35), abs=0.5)
    assert np.mean(r["losses"][-50:]) < 1.0
    assert r["next_word"] == "little"


def test_by_hand_matches_an_untrained_model_too():
    model, tokenizer, _, _, _ = attention.build(steps=0)
    ids = tokenizer.encode("mary went mary went <END> the")
    hand = attention.by_hand(model, ids)
    outs, recorded, _ = attention.model_block_outputs(model, ids)
    assert np.abs(outs - hand["block_outputs"]).max() < 1e-5
    if recorded is not None:
        assert np.abs(recorded - hand["weights"]).max() < 1e-6


def test_plot_writes_png(run):
    r, out = run
    path = out / "attention.png"
    assert r["figure"] == str(path)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
