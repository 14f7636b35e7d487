"""The ladder's torch models: interface, parameter counts, initial losses, names, weights, sampling."""

import math

import pytest
import torch

from glassgpt.errors import ConfigError, GlassError
from glassgpt.fileio import load_tensors, save_tensors
from glassgpt.makemore.models import MODELS, build_model, generate, make_config

LN27 = math.log(27)  # 3.2958: the loss of a uniform guess over 27 characters
FIXES = dict(small_output=True, hidden_init="kaiming")


def _batch(block, n=256, seed=0, V=27):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, V, (n, block), generator=g), torch.randint(0, V, (n,), generator=g)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_maps_windows_to_logits_and_a_loss(name):
    model = build_model(name, seed=3)
    x, y = _batch(model.block_size, n=16)
    logits, loss = model(x, y)
    assert logits.shape == (16, 27) and loss.dim() == 0 and torch.isfinite(loss)
    assert model(x)[1] is None
    with pytest.raises(GlassError, match="windows of"):
        model(torch.zeros(4, model.block_size + 1, dtype=torch.long))


@pytest.mark.parametrize(
    "name, fields, count",
    [
        ("bigram", {}, 27 * 27),
        ("neural-bigram", {}, 27 * 27),
        # C 27*10 + W1 30*200 + b1 200 + W2 200*27 + b2 27
        ("mlp", {}, 270 + 6000 + 200 + 5400 + 27),  # 11,897
        # no b1, but BatchNorm's gamma and beta (2*200)
        ("mlp", dict(batchnorm=True), 270 + 6000 + 400 + 5400 + 27),  # 12,097
        # C 27*24 = 648; level 1: 48*128 + BN 2*128; levels 2, 3: 256*128 + BN 2*128; head 128*27 + 27
        ("wavenet", {}, 648 + (6144 + 256) + 2 * (32768 + 256) + 3483),  # 76,579
        # the lecture's flat context-8 baseline: C 27*10, W 80*200, BN 400, head 200*27 + 27
        ("wavenet", dict(n_embd=10, n_hidden=200, group=8), 270 + 16000 + 400 + 5427),  # 22,097
        # the lecture's hierarchical 22k net: C 270; 20*68 + 136; 2 * (136*68 + 136); 68*27 + 27
        ("wavenet", dict(n_embd=10, n_hidden=68), 270 + 1496 + 2 * 9384 + 1863),  # 22,397
    ],
)
def test_parameter_counts_by_hand(name, fields, count):
    model = build_model(name, make_config(name, **fields))
    assert model.num_params() == count
    assert sum(c for _, _, c in model.param_table()) == (count if name != "bigram" else 0)


def test_the_scaled_wavenet_is_the_lectures_76579_parameters():
    assert build_model("wavenet").num_params() == 76_579


def test_stable_parameter_names():
    mlp = build_model("mlp", make_config("mlp", batchnorm=True))
    assert list(mlp.weights()) == [
        "C.weight",
        "hidden.weight",
        "out.weight",
        "out.bias",
        "bn.gamma",
        "bn.beta",
        "bn.running_mean",
        "bn.running_var",
    ]
    assert list(build_model("mlp").weights()) == ["C.weight", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    wn = build_model("wavenet")
    assert [n for n, _, _ in wn.param_table()][:4] == [
        "net.layers.0.weight",
        "net.layers.2.weight",
        "net.layers.3.gamma",
        "net.layers.3.beta",
    ]
    assert list(build_model("neural-bigram").weights()) == ["W"]
    assert list(build_model("bigram").weights()) == ["counts"]


def test_the_init_fixes_bring_the_initial_loss_to_ln27_and_unsaturate_tanh():
    x, y = _batch(3, n=1024)
    plain = build_model("mlp", seed=1)
    fixed = build_model("mlp", make_config("mlp", **FIXES), seed=1)
    bn = build_model("mlp", make_config("mlp", batchnorm=True, **FIXES), seed=1)
    assert plain(x, y)[1].item() > 15  # confidently wrong: ~27 in the lecture
    assert abs(fixed(x, y)[1].item() - LN27) < 0.03  # ~3.30
    assert abs(bn(x, y)[1].item() - LN27) < 0.03

    def saturated(model):
        h = torch.tanh(model.hidden(model.C(x).flatten(1)))
        return (h.abs() > 0.97).float().mean().item()

    assert saturated(plain) > 0.6 and saturated(fixed) < 0.35
    assert saturated(build_model("mlp", make_config("mlp", small_output=True, hidden_init="small"), seed=1)) < 0.15
    wn = build_model("wavenet", seed=1)
    assert abs(wn(*_batch(8, n=1024))[1].item() - LN27) < 0.05  # last layer x 0.1


def test_the_kaiming_init_is_gain_over_sqrt_fan_in():
    model = build_model("mlp", make_config("mlp", **FIXES), seed=0)
    g = torch.Generator().manual_seed(0)
    torch.randn((27, 10), generator=g)  # C is drawn first
    expected = torch.randn((30, 200), generator=g) * (5 / 3) / 30**0.5
    assert torch.allclose(model.hidden.weight, expected)
    assert torch.equal(model.out.bias, torch.zeros(27))


def test_construction_uses_the_generator_only():
    before = torch.random.get_rng_state()
    a = build_model("wavenet", generator=torch.Generator().manual_seed(5))
    b = build_model("wavenet", seed=5)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(a.weights()[k], b.weights()[k]) for k in a.weights())
    c = build_model("wavenet", seed=6)
    assert not torch.equal(a.weights()["net.layers.0.weight"], c.weights()["net.layers.0.weight"])


def test_mlp_draws_in_the_lectures_order():
    g = torch.Generator().manual_seed(2147483647)
    C, W1, b1, W2, b2 = (torch.randn(s, generator=g) for s in [(27, 10), (30, 200), (200,), (200, 27), (27,)])
    m = build_model("mlp", seed=2147483647)
    w = m.weights()
    pairs = [("C.weight", C), ("hidden.weight", W1), ("hidden.bias", b1), ("out.weight", W2), ("out.bias", b2)]
    for ours, ref in pairs:
        assert torch.equal(w[ours], ref)


def test_weights_round_trip_through_safetensors(tmp_path):
    model = build_model("mlp", make_config("mlp", batchnorm=True, **FIXES), seed=2)
    model.train()
    x, y = _batch(3, n=64)
    model(x, y)  # moves the running statistics off their start
    save_tensors(tmp_path / "model.safetensors", model.weights())
    other = build_model("mlp", make_config("mlp", batchnorm=True, **FIXES), seed=9)
    other.load_weights(load_tensors(tmp_path / "model.safetensors"))
    model.eval(), other.eval()
    assert torch.equal(model(x)[0], other(x)[0])
    with pytest.raises(GlassError, match="do not fit"):
        build_model("mlp").load_weights(model.weights())
    wide = build_model("mlp", make_config("mlp", batchnorm=True, n_hidden=100))
    with pytest.raises(GlassError, match="has shape"):
        wide.load_weights(model.weights())


def test_bad_configurations_are_one_sentence():
    with pytest.raises(ConfigError, match="no setting 'hiden'"):
        make_config("mlp", hiden=3)
    with pytest.raises(ConfigError, match="unknown makemore model"):
        build_model("lstm")
    with pytest.raises(ConfigError, match="not a power"):
        build_model("wavenet", make_config("wavenet", block_size=6))
    with pytest.raises(ConfigError, match="hidden_init"):
        build_model("mlp", make_config("mlp", hidden_init="xavier"))
    with pytest.raises(ConfigError):
        build_model("bigram", make_config("bigram", smoothing=-1))
    with pytest.raises(ConfigError, match="needs a MLPConfig"):
        build_model("mlp", make_config("wavenet"))


def test_the_wavenet_tree_is_configurable():
    wn = build_model("wavenet", make_config("wavenet", block_size=16, n_embd=4, n_hidden=8), seed=0)
    assert wn.config.levels == 4 and wn(_batch(16, n=4)[0])[0].shape == (4, 27)
    flat = build_model("wavenet", make_config("wavenet", group=8, batchnorm=False), seed=0)
    assert flat.config.levels == 1 and flat.net.layers[2].bias is not None
    assert build_model("wavenet", make_config("wavenet", block_size=9, group=3)).config.levels == 2


@pytest.mark.parametrize(
    "name, fields", [("bigram", {}), ("neural-bigram", {}), ("mlp", dict(batchnorm=True, **FIXES)), ("wavenet", {})]
)
def test_sampling_is_seeded_stops_at_the_end_and_restores_the_mode(name, fields):
    model = build_model(name, make_config(name, **fields), seed=4)
    if name == "bigram":
        x, y = _batch(1, n=500)
        model.count(x, y)
    model.train()
    a = generate(model, 6, torch.Generator().manual_seed(11), max_length=20)
    b = generate(model, 6, torch.Generator().manual_seed(11), max_length=20)
    assert a == b and len(a) == 6 and model.training
    assert all(0 not in w and len(w) <= 20 and all(0 < i < 27 for i in w) for w in a)
    assert generate(model, 6, torch.Generator().manual_seed(12), max_length=20) != a
    one = generate(model, 1, torch.Generator().manual_seed(11), max_length=20)  # a batch of one works
    assert len(one) == 1
    with pytest.raises(GlassError):
        generate(model, 0, torch.Generator())


def test_sampling_stops_at_the_end_token():
    model = build_model("bigram", make_config("bigram", smoothing=0.0))
    # a table in which "." is always followed by 1, 1 by 2, and 2 by "."
    model.count(torch.tensor([[0], [1], [2]]), torch.tensor([1, 2, 0]))
    model.counts[3:, 0] = 1  # rows never visited still need a distribution
    assert generate(model, 3, torch.Generator().manual_seed(0)) == [[1, 2]] * 3


def test_the_embedding_table_for_the_scatter():
    assert build_model("mlp").embedding().shape == (27, 10)
    wn = build_model("wavenet")
    assert torch.equal(wn.embedding(), wn.net.layers[0].weight) and not wn.embedding().requires_grad
    assert build_model("bigram").embedding() is None and build_model("neural-bigram").embedding() is None
