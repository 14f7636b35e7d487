"""docs/curriculum.md, A1: the softmax walk-through on 'we love deep learning', to the printed digits."""

from glassgpt.demos import softmax

PNG = b"\x89PNG\r\n\x1a\n"


def test_step1_exp_sum_and_probabilities(capsys):
    r = softmax.run()
    exps = {w: round(v, 2) for w, v in r["step1_exp"].items()}
    assert exps == {
        "the": 24.53,
        "hello": 16.44,
        "we": 8.17,
        "is": 4.48,
        "love": 0.61,
        "deep": 0.30,
        "learning": 0.14,
        "<EOS>": 0.00,
    }
    assert round(r["step1_exp_sum"], 2) == 54.67
    probs = {w: round(v, 4) for w, v in r["step1_probs"].items()}
    assert probs == {
        "the": 0.4488,
        "hello": 0.3008,
        "we": 0.1494,
        "is": 0.0820,
        "love": 0.0111,
        "deep": 0.0055,
        "learning": 0.0025,
        "<EOS>": 0.0000,
    }
    assert round(sum(r["step1_probs"].values()), 6) == 1.0
    assert len(r["vocab"]) == 12
    out = capsys.readouterr().out
    assert "54.67" in out and "0.4488" in out and "1.000000" in out


def test_later_steps_losses_and_perplexity():
    r = softmax.run()
    p_we, p_love, p_deep, p_learning = r["step_probs"]
    assert round(p_we, 4) == 0.1494
    assert (round(p_love, 3), round(p_deep, 3), round(p_learning, 3)) == (0.571, 0.623, 0.994)
    l1, l2, l3, l4 = r["losses"]
    assert (round(l1, 2), round(l2, 2), round(l3, 2), round(l4, 4)) == (1.90, 0.56, 0.47, 0.0065)
    assert round(r["total_loss"], 2) == 2.94
    assert round(r["mean_loss"], 3) == 0.735
    assert round(r["perplexity"], 2) == 2.09


def test_gradient_at_step_1_targets_we():
    g = softmax.run()["step1_grad"]
    assert round(g["we"], 3) == -0.851
    assert (round(g["the"], 3), round(g["hello"], 3), round(g["is"], 3), round(g["love"], 3)) == (
        0.449,
        0.301,
        0.082,
        0.011,
    )
    assert abs(sum(g.values())) < 1e-12  # p sums to 1, the one-hot to 1


def test_neg_log_table_and_toy():
    r = softmax.run()
    assert {p: round(v, 2) for p, v in r["neg_log"].items()} == {0.90: 0.11, 0.50: 0.69, 0.10: 2.30, 0.01: 4.61}
    assert round(r["toy_cat_loss"], 4) == 0.5108


def test_plot_writes_png(tmp_path):
    path = tmp_path / "softmax.png"
    assert softmax.run(plot=True, out_dir=str(tmp_path))["figure"] == str(path)
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
