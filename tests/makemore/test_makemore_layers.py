"""The lecture's layers as torch modules: FlattenConsecutive shapes, BatchNorm against torch."""

import pytest
import torch

from glassgpt.errors import ConfigError, GlassError
from glassgpt.makemore.models import BatchNorm1d, Embedding, FlattenConsecutive, Linear, Sequential, Tanh


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- FlattenConsecutive ----------------------------------------------------------------------
def test_flatten_consecutive_shapes_through_the_wavenet_tree():
    x = torch.randn(4, 8, 10, generator=_gen())
    a = FlattenConsecutive(2)(x)
    b = FlattenConsecutive(2)(a)
    c = FlattenConsecutive(2)(b)
    assert a.shape == (4, 4, 20) and b.shape == (4, 2, 40) and c.shape == (4, 80)
    assert FlattenConsecutive(8)(x).shape == (4, 80)  # flat: the whole context at once
    assert FlattenConsecutive(4)(x).shape == (4, 2, 40)
    assert FlattenConsecutive(1)(x).shape == (4, 8, 10)


def test_flatten_consecutive_concatenates_neighbours_in_order():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    y = FlattenConsecutive(2)(x)
    assert torch.equal(y[1, 1], torch.cat([x[1, 2], x[1, 3]]))
    assert torch.equal(y[0, 0], torch.cat([x[0, 0], x[0, 1]]))
    assert torch.equal(FlattenConsecutive(4)(x)[1], x[1].reshape(-1))


def test_flatten_consecutive_refuses_a_context_it_cannot_group():
    with pytest.raises(GlassError, match="multiple of 2"):
        FlattenConsecutive(2)(torch.zeros(1, 3, 4))
    with pytest.raises(ConfigError):
        FlattenConsecutive(0)


# --- Linear, Embedding, Sequential -----------------------------------------------------------
def test_linear_embedding_and_sequential_compute_what_they_say():
    emb = Embedding(5, 3, generator=_gen(1))
    lin = Linear(3, 4, generator=_gen(2))
    ids = torch.tensor([[0, 4], [2, 2]])
    assert torch.equal(emb(ids)[1, 0], emb.weight[2])
    x = torch.randn(6, 3, generator=_gen(3))
    assert torch.allclose(lin(x), x @ lin.weight + lin.bias)
    assert torch.equal(lin.bias, torch.zeros(4))
    assert Linear(3, 4, bias=False, generator=_gen()).bias is None
    seq = Sequential([emb, lin, Tanh()])
    assert torch.allclose(seq(ids), torch.tanh(emb(ids) @ lin.weight + lin.bias))
    assert [n for n, _ in seq.named_parameters()] == ["layers.0.weight", "layers.1.weight", "layers.1.bias"]


def test_linear_init_is_kaiming_scaled_and_seeded():
    w = Linear(400, 300, generator=_gen(0)).weight.detach()
    assert abs(w.std().item() - 400**-0.5) < 0.002  # N(0,1) / sqrt(fan_in)
    g = Linear(400, 300, generator=_gen(0), gain=5 / 3).weight.detach()
    assert torch.allclose(g, w * 5 / 3)
    assert torch.equal(Linear(400, 300, generator=_gen(0)).weight, Linear(400, 300, generator=_gen(0)).weight)


# --- BatchNorm1d -------------------------------------------------------------------------------
def _pair(C, momentum):
    ours = BatchNorm1d(C, momentum=momentum)
    ref = torch.nn.BatchNorm1d(C, momentum=momentum, eps=1e-5)
    with torch.no_grad():
        gamma = torch.randn(C, generator=_gen(5))
        ours.gamma.copy_(gamma)
        ref.weight.copy_(gamma)
        ours.beta.fill_(0.3)
        ref.bias.fill_(0.3)
    return ours, ref


@pytest.mark.parametrize("momentum", [0.1, 0.001])
def test_batchnorm_on_n_c_matches_torch_in_training_and_eval(momentum):
    ours, ref = _pair(6, momentum)
    g = _gen(7)
    for _ in range(5):
        x = torch.randn(32, 6, generator=g) * 3 + 2
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        y1, y2 = ours(x1), ref(x2)
        assert torch.allclose(y1, y2, atol=1e-5)
        dy = torch.randn(32, 6, generator=g)
        y1.backward(dy)
        y2.backward(dy)
        assert torch.allclose(x1.grad, x2.grad, atol=1e-5)
        assert torch.allclose(ours.gamma.grad, ref.weight.grad, atol=1e-4)
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-5)
    ours.eval(), ref.eval()
    x = torch.randn(3, 6, generator=g)
    assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_batchnorm_on_n_l_c_reduces_over_dims_0_and_1_like_torch_on_n_c_l():
    ours, ref = _pair(5, 0.1)
    g = _gen(8)
    for _ in range(3):
        x = torch.randn(16, 4, 5, generator=g) * 2 - 1
        y = ours(x)
        y_ref = ref(x.transpose(1, 2)).transpose(1, 2)  # torch wants the channels in the middle
        assert y.shape == (16, 4, 5) and torch.allclose(y, y_ref, atol=1e-5)
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-5)
    # the statistics of the (0, 1) reduction: every channel has mean beta and std |gamma| over N and L
    x = torch.randn(64, 4, 5, generator=g) * 4 + 7
    y = ours(x)
    assert torch.allclose(y.mean(dim=(0, 1)), ours.beta.detach(), atol=1e-4)
    assert torch.allclose(y.std(dim=(0, 1), correction=0), ours.gamma.detach().abs(), atol=1e-3)
    # ... which is not what a reduction over dim 0 alone gives (the lecture's bug)
    per_position = (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-5) * ours.gamma + ours.beta
    assert (y - per_position).abs().max() > 0.05


def test_batchnorm_running_statistics_follow_the_momentum_formula():
    bn = BatchNorm1d(3, momentum=0.25)
    x = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 7.0]])
    bn(x)
    # batch mean (2, 2, 5), unbiased variance (2, 0, 8); running = 0.75 * (0 | 1) + 0.25 * batch
    assert torch.allclose(bn.running_mean, torch.tensor([0.5, 0.5, 1.25]))
    assert torch.allclose(bn.running_var, torch.tensor([1.25, 0.75, 2.75]))


def test_batchnorm_train_depends_on_the_batch_eval_does_not():
    bn = BatchNorm1d(4)
    g = _gen(9)
    for _ in range(20):
        bn(torch.randn(32, 4, generator=g))
    x = torch.randn(8, 4, generator=g)
    other = torch.randn(8, 4, generator=g) + 5
    train_a = bn(x)[0]
    train_b = bn(torch.cat([x[:1], other[1:]]))[0]
    assert (train_a - train_b).abs().max() > 1e-2  # the batch changed example 0's output
    bn.eval()
    before = (bn.running_mean.clone(), bn.running_var.clone())
    alone = bn(x[:1])[0]
    assert torch.allclose(alone, bn(x)[0]) and torch.allclose(alone, bn(torch.cat([x[:1], other]))[0])
    assert torch.allclose(alone, (x[0] - before[0]) / torch.sqrt(before[1] + 1e-5))
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])  # eval never updates


def test_batchnorm_refuses_a_training_batch_of_one():
    with pytest.raises(ConfigError, match="batch size of at least 2"):
        BatchNorm1d(3)(torch.randn(1, 3))
    BatchNorm1d(3)(torch.randn(1, 2, 3))  # one sequence of 2 positions is 2 values per feature
    with pytest.raises(ConfigError):
        BatchNorm1d(3, momentum=1.5)
