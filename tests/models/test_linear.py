"""The GPT's Linear: the few-row column-major path equals F.linear, follows weight updates,
and is left when gradients are on."""

import pytest
import torch
import torch.nn.functional as F

from glassgpt.config import ModelConfig
from glassgpt.generation.sampling import generate
from glassgpt.models.gpt import GPT
from glassgpt.models.linear import FEW_ROWS, Linear


def _layer(bias=True):
    torch.manual_seed(0)
    return Linear(48, 200, bias=bias)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(48,), (1, 48), (1, 1, 48), (2, 2, 48)])
def test_few_rows_equal_f_linear(bias, shape):
    layer, x = _layer(bias), torch.randn(shape)
    with torch.no_grad():
        y = layer(x)
    assert layer._columns is not None  # the column-major path ran
    want = F.linear(x, layer.weight, layer.bias)
    assert y.shape == want.shape
    # tolerance: float32 sums of 48 products in another order; values are O(1)
    assert torch.allclose(y, want, rtol=0, atol=1e-5)


def test_many_rows_and_grad_take_f_linear():
    layer = _layer()
    with torch.no_grad():
        layer(torch.randn(FEW_ROWS + 1, 48))
    assert layer._columns is None
    with torch.inference_mode():
        layer(torch.randn(1, 48))
    assert layer._columns is not None
    y = layer(torch.randn(1, 48))  # gradients on: the copy is dropped, autograd works
    assert layer._columns is None
    y.sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_copy_follows_in_place_updates_and_new_storage():
    layer, x = _layer(), torch.randn(1, 48)
    with torch.no_grad():
        before = layer(x)
        layer.weight.mul_(2)  # an optimizer step is in place: the version counter moves
        after = layer(x)
        assert torch.allclose(after - layer.bias, 2 * (before - layer.bias), atol=1e-5)
        layer.weight = torch.nn.Parameter(torch.zeros(200, 48))  # new storage
        assert torch.equal(layer(x), layer.bias.expand(1, 200))


def test_inference_tensor_weight_uses_f_linear():
    with torch.inference_mode():
        layer = _layer()
        x = torch.randn(1, 48)
        y = layer(x)
    assert layer._columns is None
    assert torch.equal(y, F.linear(x, layer.weight, layer.bias))


def test_greedy_decoding_unchanged_by_the_path():
    """A model decodes the same greedy tokens with the few-row path as with F.linear everywhere."""
    torch.manual_seed(3)
    model = GPT(ModelConfig(vocab_size=97, block_size=64, n_layer=2, n_head=2, n_embd=32)).eval()
    fast = generate(model, [1, 2, 3], 40, temperature=0)[0]
    for m in model.modules():
        if isinstance(m, Linear):
            m.few_row_forward = lambda x, m=m: F.linear(x, m.weight, m.bias)
    assert generate(model, [1, 2, 3], 40, temperature=0)[0] == fast
