"""Sampling: top-k and top-p filters, temperature, greedy decoding and stop ids."""

import torch

from glassgpt.config import ModelConfig
from glassgpt.generation.sampling import cut_at_stop, filter_logits, generate
from glassgpt.models import GPT


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k2 = filter_logits(logits, 1.0, 2, None).softmax(-1)[0]
    assert torch.allclose(k2, torch.tensor([0.625, 0.375, 0, 0]), atol=1e-6)
    p = filter_logits(logits, 1.0, None, 0.8).softmax(-1)[0]  # 0.5 + 0.3 reaches 0.8: two tokens kept
    assert torch.allclose(p, torch.tensor([0.625, 0.375, 0, 0]), atol=1e-6)
    p = filter_logits(logits, 1.0, None, 0.81).softmax(-1)[0]
    assert (p > 0).sum() == 3
    hot = filter_logits(logits, 0.5, None, None).softmax(-1)[0]  # temperature sharpens
    assert hot[0] > 0.5


def test_greedy_is_deterministic_and_stop_ids_end_early():
    torch.manual_seed(0)
    model = GPT(ModelConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    a = generate(model, [1, 2], 12, temperature=0)
    assert a == generate(model, [1, 2], 12, temperature=0)
    with torch.no_grad():  # make token 7 the certain next token everywhere
        model.lm_head.weight.zero_()
        model.transformer.ln_f.bias.zero_()
        model.transformer.ln_f.bias[0] = 1.0
        model.lm_head.weight[7, 0] = 50.0
    out = generate(model, [1], 10, temperature=1.0, seed=0, stop_ids=(7,), num_samples=3)
    assert out == [[7], [7], [7]]
    assert cut_at_stop("abc\n\nxyz", ["\n\n"]) == "abc"
