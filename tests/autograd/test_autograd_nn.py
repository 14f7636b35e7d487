"""Neuron / Layer / MLP and the micrograd demo (training on four points)."""

import math

import pytest
import torch

from glassgpt.autograd import MLP, Layer, Neuron, Value
from glassgpt.demos import list_demos, run_demo
from glassgpt.demos import micrograd as demo


def test_parameter_counts_and_shapes():
    assert len(Neuron(3).parameters()) == 4
    assert len(Layer(3, 4).parameters()) == 16
    net = MLP(3, [4, 4, 1])
    assert len(net.parameters()) == 4 * 4 + 4 * 5 + 1 * 5 == 41
    assert isinstance(net([1.0, 2.0, 3.0]), Value)  # one output -> a Value
    assert len(MLP(3, [4, 2])([1.0, 2.0, 3.0])) == 2  # several -> a list


def test_init_is_deterministic_from_the_seed():
    a = [p.data for p in MLP(3, [4, 4, 1], seed=7).parameters()]
    b = [p.data for p in MLP(3, [4, 4, 1], seed=7).parameters()]
    c = [p.data for p in MLP(3, [4, 4, 1], seed=8).parameters()]
    assert a == b and a != c
    assert len(set(a)) == len(a)  # neurons do not share one stream position
    assert all(-1.0 <= x <= 1.0 for x in a)


def test_hidden_layers_are_tanh_and_last_layer_is_linear():
    net = MLP(3, [4, 4, 1])
    assert [n.nonlin for layer in net.layers for n in layer.neurons] == [True] * 8 + [False]
    assert net([1.0, 2.0, 3.0])._op == "+"  # last op is the bias add, not tanh


def test_mlp_forward_and_gradients_match_pytorch():
    net = MLP(3, [4, 4, 1], seed=3)
    x = [2.0, 3.0, -1.0]
    out = net(x)
    net.zero_grad()
    out.backward()
    # the same network in torch float64, parameters copied one by one
    h = torch.tensor(x, dtype=torch.float64)
    tparams = []
    for k, layer in enumerate(net.layers):
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        tparams.append((W, b))
        h = W @ h + b
        if k < len(net.layers) - 1:
            h = torch.tanh(h)
    h.sum().backward()
    assert out.data == pytest.approx(h.item(), abs=1e-12)  # float64 both sides: rounding only
    for layer, (W, b) in zip(net.layers, tparams):
        for r, n in enumerate(layer.neurons):
            assert [w.grad for w in n.w] == pytest.approx(W.grad[r].tolist(), abs=1e-12)
            assert n.b.grad == pytest.approx(b.grad[r].item(), abs=1e-12)


def test_zero_grad_clears_every_parameter():
    net = MLP(3, [4, 1])
    net([1.0, 2.0, 3.0]).backward()
    assert any(p.grad != 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


def test_neuron_rejects_wrong_input_size():
    with pytest.raises(ValueError, match="takes 3 inputs, got 2"):
        Neuron(3)([1.0, 2.0])


# ----------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def result():
    return run_demo("micrograd", plot=False)


def test_demo_is_registered():
    assert "micrograd" in dict(list_demos())


def test_demo_derivative_warmup(result):
    d = result["derivative"]
    # the central difference of a quadratic is exact up to rounding (~eps*|f|/h = 1e-9)
    assert d[3.0]["finite_difference"] == pytest.approx(14.0, abs=1e-6)
    assert d[-3.0]["finite_difference"] == pytest.approx(-22.0, abs=1e-6)
    assert d[3.0]["autograd"] == 14.0 and d[-3.0]["autograd"] == -22.0  # exact small integers


def test_demo_worked_neuron(result):
    n = result["neuron"]
    assert n["o"] == pytest.approx(0.7071067811865476, abs=1e-12)
    expected = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}
    assert n["grads"] == pytest.approx(expected, abs=1e-12)


def test_demo_training_reaches_near_zero_loss(result):
    t = result["training"]
    hist = t["loss_history"]
    assert len(hist) == 51 and t["steps"] == 50 and t["lr"] == 0.05
    # seed 0: 15.77 at the start, 0.0094 after 10 steps, 3.1e-6 after 50.  The brief asks
    # for < 0.05; 1e-4 is a bound a broken gradient or update could not meet by luck.
    assert hist[0] > 10
    assert t["final_loss"] < 1e-4
    # plain gradient descent at this lr descends at every step on this problem
    assert all(b <= a for a, b in zip(hist, hist[1:]))
    for p, y in zip(t["predictions"], demo.YS):
        assert math.copysign(1, p) == y and abs(p - y) < 0.01


def test_demo_other_seeds_also_learn():
    for seed in (1, 2, 3):
        t = demo.train_mlp(seed=seed)
        assert t["final_loss"] < 0.05, seed  # the brief's bound holds beyond the chosen seed
        assert t["loss_history"][-1] < t["loss_history"][0] / 100


def test_demo_plot_writes_dot_svg_and_png(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)  # no graphviz: DOT only
    out = run_demo("micrograd", plot=True, out_dir=str(tmp_path))
    names = sorted(p.split("/")[-1] for p in out["files"])
    assert names == ["micrograd.png", "micrograd_neuron.dot"]
    assert (tmp_path / "micrograd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "tanh" in (tmp_path / "micrograd_neuron.dot").read_text()
