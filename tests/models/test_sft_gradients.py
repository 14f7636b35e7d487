"""What the loss mask does to gradients.

1. A masked position (target -1) contributes exactly zero: its row of dL/dlogits is all
   zeros, and the loss is the mean over the counted targets only.
2. The user's words reach the response loss only through context.  Precisely: take two
   conversations that differ only in the user's text (same number of tokens).  With every
   attention block's output projection set to zero, no position can read another (each
   hidden state depends on its own token and position alone), so the only channel from
   the user's words to the response is cut.  Then the loss and every parameter's gradient
   are bit-identical between the two, except the output projections' weight gradients,
   which multiply the attention outputs (the context itself).  Two controls show the test
   can fail: with attention restored the gradients differ (the context path), and with the
   user's tokens counted as targets they differ even with attention cut.
"""

from __future__ import annotations

import numpy as np
import torch

from glassgpt.config import ModelConfig
from glassgpt.models import GPT
from glassgpt.tokenizers import CharTokenizer, add_special_tokens
from glassgpt.tokenizers.chat_template import CHAT_SPECIALS, Rendered, render

TOK = add_special_tokens(CharTokenizer.train("abcdefghijklmnopqrstuvwxyz .?!"), CHAT_SPECIALS)


def model(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=TOK.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32))


def conversation(user: str) -> Rendered:
    return render(
        TOK,
        [
            {"role": "system", "content": "be kind."},
            {"role": "user", "content": user},
            {"role": "assistant", "content": "the fox ran off."},
        ],
    )


def grads(m: GPT, rendered: Rendered, count_everything: bool = False) -> tuple[float, dict[str, torch.Tensor]]:
    x, y = rendered.training_pair()
    if count_everything:
        y = np.asarray(rendered.ids[1:])
    m.zero_grad(set_to_none=True)
    _, loss = m(torch.tensor(x)[None], torch.tensor(y)[None])
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in m.named_parameters()}


def test_a_masked_position_contributes_exactly_zero_gradient():
    m = model()
    x, y = conversation("where is the dog?").training_pair()
    logits, loss = m(torch.tensor(x)[None], torch.tensor(y)[None])  # the model's own masked loss
    logits.retain_grad()
    loss.backward()
    masked = torch.tensor(y == -1)
    assert masked.sum() > 10 and (~masked).sum() == len("the fox ran off.") + 1
    assert torch.count_nonzero(logits.grad[0, masked]) == 0  # exactly zero, not just small
    assert torch.all(logits.grad[0, ~masked].abs().sum(-1) > 0)
    per_token = torch.nn.functional.cross_entropy(
        logits[0].detach(), torch.tensor(np.where(y < 0, 0, y)), reduction="none"
    )
    assert torch.allclose(loss.detach(), per_token[~masked].mean(), atol=1e-6)  # mean over counted targets


def test_the_users_words_reach_the_response_loss_only_through_context():
    a, b = conversation("where is the dog?"), conversation("when was the cat?")
    assert len(a.ids) == len(b.ids) and a.ids != b.ids and a.counted == b.counted
    cut = model()
    with torch.no_grad():
        for block in cut.transformer.h:
            block.attn.c_proj.weight.zero_()  # no position reads another
    context = {f"transformer.h.{i}.attn.c_proj.weight" for i in range(2)}
    loss_a, ga = grads(cut, a)
    loss_b, gb = grads(cut, b)
    assert loss_a == loss_b
    same = [n for n in ga if torch.equal(ga[n], gb[n])]
    assert set(ga) - set(same) == context  # only the weights that read the context differ
    for name in context:
        assert not torch.equal(ga[name], gb[name])
    # control 1: with attention working, the user's words change the gradients through context
    _, ha = grads(model(), a)
    _, hb = grads(model(), b)
    assert not torch.equal(ha["transformer.wte.weight"], hb["transformer.wte.weight"])
    # control 2: if the user's tokens were targets, they would change the gradients directly
    _, ca = grads(cut, a, count_everything=True)
    _, cb = grads(cut, b, count_everything=True)
    assert not torch.equal(ca["transformer.wte.weight"], cb["transformer.wte.weight"])
