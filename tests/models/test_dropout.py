"""The CPU dropout of ``glassgpt.models.dropout``: masks cut from 64-bit random words keep each
element with probability 1 − p (p rounded to 2^-15), independently, unbiased in every lane,
seeded by torch's generator; and the GPT's attention drops its weights through them."""

from __future__ import annotations

import pytest
import torch

from glassgpt.models.dropout import BITS, Dropout, drop_threshold, dropout, keep_mask
from glassgpt.models.gpt import attend, attention_weights

N = 1 << 20  # elements: the kept share's standard deviation is below 5e-4 for every p here


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_the_kept_share_is_one_minus_p_in_every_lane(p):
    torch.manual_seed(0)
    kept = keep_mask((N,), p).float()
    rounded = drop_threshold(p) / (1 << BITS)
    assert abs(rounded - p) <= 2**-16
    assert abs(kept.mean().item() - (1 - rounded)) < 3e-3  # > 6 standard deviations
    lanes = kept.view(-1, 4).mean(0)  # the 4th 16-bit lane of each word has its sign bit fixed at 0
    assert (lanes - (1 - rounded)).abs().max().item() < 5e-3


def test_neighbouring_elements_are_independent():
    torch.manual_seed(1)
    kept = keep_mask((N,), 0.5).float() - 0.5
    for lag in (1, 2, 3, 4, 5):  # within a word and across words
        corr = (kept[:-lag] * kept[lag:]).mean().item() / 0.25
        assert abs(corr) < 6e-3, lag


def test_dropout_scales_the_kept_elements_so_the_mean_is_kept():
    torch.manual_seed(2)
    x = torch.full((N,), 3.0)
    y = dropout(x, 0.1)
    scale = (1 << BITS) / ((1 << BITS) - drop_threshold(0.1))
    values = torch.unique(y).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(3.0 * scale)
    assert abs(y.mean().item() - 3.0) < 0.01


def test_off_in_eval_mode_and_at_zero_and_everything_dropped_at_nearly_one():
    x = torch.randn(8, 5)
    assert dropout(x, 0.5, training=False) is x and dropout(x, 0.0) is x
    layer = Dropout(0.5).eval()
    assert layer(x) is x
    assert torch.equal(dropout(x, 1 - 2**-17), torch.zeros_like(x))  # rounds to 1: nothing kept


def test_the_masks_follow_torchs_seed_and_the_gradient_is_the_mask():
    x = torch.randn(4, 33, requires_grad=True)
    torch.manual_seed(5)
    y = dropout(x, 0.3)
    y.sum().backward()
    torch.manual_seed(5)
    again = dropout(x.detach(), 0.3)
    assert torch.equal(y.detach(), again)
    scale = (1 << BITS) / ((1 << BITS) - drop_threshold(0.3))
    torch.manual_seed(5)
    mask = keep_mask(x.shape, 0.3)
    assert torch.equal(x.grad, mask.float() * scale)
    torch.manual_seed(6)
    assert not torch.equal(dropout(x.detach(), 0.3), again)


def test_attention_drops_its_weights_with_these_masks_on_the_cpu():
    torch.manual_seed(7)
    q, k, v = (torch.randn(2, 3, 6, 4) for _ in range(3))
    torch.manual_seed(8)
    y = attend(q, k, v, None, 0.25)
    torch.manual_seed(8)
    expected = dropout(attention_weights(q, k), 0.25) @ v
    assert torch.allclose(y, expected, atol=1e-6)
    assert not torch.allclose(y, attend(q, k, v, None, 0.0), atol=1e-3)  # it did drop something
