"""Every glass layer against PyTorch autograd (float32) and central finite differences (float64).

Error measure: ``rel = max|glass - reference| / max|reference|`` (``relative_error``).
Float32 tolerances are chosen per tensor and written beside each check with the reason;
they sit ~10x above the worst error measured over the seeds below.  Float64 finite
differences with eps = 1e-6 have truncation error ~eps^2 and roundoff ~1e-16/eps = 1e-10,
so 1e-7 is the finite-difference tolerance throughout (measured worst 1e-9; a wrong
formula gives ~1).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glassgpt.glass import attention as A
from glassgpt.glass import batchnorm as BN
from glassgpt.glass import cross_entropy as CE
from glassgpt.glass import layers as L
from glassgpt.glass.gradcheck import numerical_gradient, relative_error

FD_TOL = 1e-7


def check(actual, expected, tol, what="", atol=0.0):
    """rel <= tol, or (with ``atol``) max|diff| <= tol * max|expected| + atol for tensors that may be ~0."""
    diff, rel = relative_error(actual, expected)
    scale = float(np.max(np.abs(expected))) if np.size(expected) else 0.0
    assert rel <= tol or diff <= tol * scale + atol, f"{what}: max|diff| {diff:.3e}, relative {rel:.3e} > {tol:.0e}"


def t(a, grad=True):
    return torch.tensor(a, requires_grad=grad)


def fd_check(forward, backward_grads, inputs: dict, dout, tol=FD_TOL):
    """Finite differences of sum(forward() * dout) against the hand-written gradients."""
    for name, x in inputs.items():
        num = numerical_gradient(lambda: float(np.sum(forward() * dout)), x)
        check(backward_grads[name], num, tol, f"finite differences, d{name}")


# ---------------------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_embedding_matches_torch_with_repeated_ids(seed):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((7, 5)).astype(np.float32)
    ids = rng.integers(0, 7, (3, 6))
    ids[0, :3] = 2  # the same row looked up several times: its gradient must be the sum
    dout = rng.standard_normal((3, 6, 5)).astype(np.float32)
    out, cache = L.embedding_forward(ids, table)
    dtable = L.embedding_backward(dout, cache)
    tt = t(table)
    ref = F.embedding(torch.from_numpy(ids), tt)
    ref.backward(torch.from_numpy(dout))
    check(out, ref.detach().numpy(), 0.0, "lookup is a copy: exact")
    check(dtable, tt.grad.numpy(), 1e-6, "dtable: sums of at most 18 float32 numbers in another order")
    assert np.all(dtable[np.setdiff1d(np.arange(7), ids)] == 0)


def test_embedding_finite_differences():
    rng = np.random.default_rng(2)
    table = rng.standard_normal((4, 3))
    ids = np.array([[0, 1, 1], [3, 1, 0]])
    dout = rng.standard_normal((2, 3, 3))
    _, cache = L.embedding_forward(ids, table)
    fd_check(
        lambda: L.embedding_forward(ids, table)[0], {"table": L.embedding_backward(dout, cache)}, {"table": table}, dout
    )


def test_position_embedding_sums_over_batch_and_zero_past_T():
    rng = np.random.default_rng(3)
    table = rng.standard_normal((8, 4))
    dout = rng.standard_normal((3, 5, 4))
    out, cache = L.position_embedding_forward(5, table)
    assert out.shape == (5, 4)
    d = L.position_embedding_backward(dout, cache)
    fd_check(
        lambda: np.broadcast_to(L.position_embedding_forward(5, table)[0], (3, 5, 4)),
        {"table": d},
        {"table": table},
        dout,
    )
    assert np.all(d[5:] == 0)


# ---------------------------------------------------------------------------------------
# linear, layernorm
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(bias):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 16)).astype(np.float32)
    w = rng.standard_normal((24, 16)).astype(np.float32) * 0.2
    b = rng.standard_normal(24).astype(np.float32) if bias else None
    dy = rng.standard_normal((3, 5, 24)).astype(np.float32)
    y, cache = L.linear_forward(x, w, b)
    dx, dw, db = L.linear_backward(dy, cache)
    xt, wt = t(x), t(w)
    bt = t(b) if bias else None
    ref = F.linear(xt, wt, bt)
    ref.backward(torch.from_numpy(dy))
    check(y, ref.detach().numpy(), 1e-6, "y: dot products of 16 terms")
    check(dx, xt.grad.numpy(), 1e-6, "dx: dot products of 24 terms")
    check(dw, wt.grad.numpy(), 1e-6, "dw: sums over 15 positions")
    if bias:
        check(db, bt.grad.numpy(), 1e-6, "db: sums over 15 positions")
    else:
        assert db is None


def test_linear_finite_differences():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    dy = rng.standard_normal((2, 3, 5))
    _, cache = L.linear_forward(x, w, b)
    dx, dw, db = L.linear_backward(dy, cache)
    fd_check(lambda: L.linear_forward(x, w, b)[0], {"x": dx, "w": dw, "b": db}, {"x": x, "w": w, "b": b}, dy)


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((4, 6, 32)) * 3 + 1).astype(np.float32)
    g = (1 + 0.3 * rng.standard_normal(32)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32) if bias else None
    dy = rng.standard_normal((4, 6, 32)).astype(np.float32)
    y, cache = L.layernorm_forward(x, g, b)
    dx, dg, db = L.layernorm_backward(dy, cache)
    xt, gt = t(x), t(g)
    bt = t(b) if bias else None
    ref = F.layer_norm(xt, (32,), gt, bt, eps=1e-5)
    ref.backward(torch.from_numpy(dy))
    check(y, ref.detach().numpy(), 2e-6, "y: mean/variance of 32 numbers, then a rescale")
    check(dx, xt.grad.numpy(), 2e-6, "dx: two row means subtracted (cancellation) and times rstd")
    check(dg, gt.grad.numpy(), 2e-6, "dg: sum over 24 rows of dy*xhat")
    if bias:
        check(db, bt.grad.numpy(), 1e-6, "db: sum over 24 rows")


def test_layernorm_finite_differences():
    rng = np.random.default_rng(7)
    x, g, b = rng.standard_normal((2, 3, 5)), rng.standard_normal(5), rng.standard_normal(5)
    dy = rng.standard_normal((2, 3, 5))
    _, cache = L.layernorm_forward(x, g, b)
    dx, dg, db = L.layernorm_backward(dy, cache)
    fd_check(lambda: L.layernorm_forward(x, g, b)[0], {"x": dx, "g": dg, "b": db}, {"x": x, "g": g, "b": b}, dy)


# ---------------------------------------------------------------------------------------
# activations, residual, dropout, tied weights
# ---------------------------------------------------------------------------------------

TORCH_ACT = {"gelu": lambda z: F.gelu(z, approximate="tanh"), "relu": F.relu, "tanh": torch.tanh}
# (y tolerance, dx tolerance, reason)
ACT_TOL = {
    "gelu": (1e-7, 5e-6, "sigmoid(2u) form vs torch's tanh form: a few float32 ulps"),
    "relu": (0.0, 0.0, "a comparison and a copy: exact"),
    "tanh": (1e-6, 1e-6, "libm tanh vs torch's vectorised tanh: 1-2 ulps"),
}


@pytest.mark.parametrize("name", ["gelu", "relu", "tanh"])
def test_activation_matches_torch(name):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((6, 50)) * 3).astype(np.float32)
    x[0, :5] = [0.0, -0.0, 1e-8, -60.0, 60.0]  # zero (relu's kink), tiny and saturated inputs
    dy = rng.standard_normal((6, 50)).astype(np.float32)
    fwd, bwd = L.ACTIVATIONS[name]
    y, cache = fwd(x)
    dx = bwd(dy, cache)
    xt = t(x)
    ref = TORCH_ACT[name](xt)
    ref.backward(torch.from_numpy(dy))
    tol_y, tol_dx, why = ACT_TOL[name]
    check(y, ref.detach().numpy(), tol_y, f"{name} y: {why}")
    check(dx, xt.grad.numpy(), tol_dx, f"{name} dx: {why}")
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


@pytest.mark.parametrize("name", ["gelu", "relu", "tanh"])
def test_activation_finite_differences(name):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 7)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from relu's kink
    dy = rng.standard_normal((3, 7))
    fwd, bwd = L.ACTIVATIONS[name]
    fd_check(lambda: fwd(x)[0], {"x": bwd(dy, fwd(x)[1])}, {"x": x}, dy)


def test_residual_passes_the_gradient_to_both_inputs():
    rng = np.random.default_rng(10)
    x, fx, dy = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    y, cache = L.residual_forward(x, fx)
    assert np.array_equal(y, x + fx)
    dx, dfx = L.residual_backward(dy, cache)
    fd_check(lambda: L.residual_forward(x, fx)[0], {"x": dx, "fx": dfx}, {"x": x, "fx": fx}, dy)


def test_dropout_mask_is_seeded_scaled_and_reused_in_backward():
    x = np.ones((200, 100), dtype=np.float32)
    y1, m1 = L.dropout_forward(x, 0.25, np.random.default_rng(0))
    y2, m2 = L.dropout_forward(x, 0.25, np.random.default_rng(0))
    assert np.array_equal(y1, y2)  # same seed, same mask
    kept = y1 != 0
    assert abs(kept.mean() - 0.75) < 0.01  # 20,000 draws: 3 sigma = 0.009
    assert np.allclose(y1[kept], 1 / 0.75)  # survivors scaled by 1/(1-p)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    assert np.array_equal(L.dropout_backward(dy, m1), dy * m1)
    # same computation in torch autograd with the same mask
    xt = t(x)
    (xt * torch.from_numpy(m1)).backward(torch.from_numpy(dy))
    check(L.dropout_backward(dy, m1), xt.grad.numpy(), 0.0, "one multiplication: exact")
    # off in evaluation and for p = 0: the identity, no mask
    for y, m in (L.dropout_forward(x, 0.25, None, training=False), L.dropout_forward(x, 0.0, None)):
        assert y is x and m is None and L.dropout_backward(dy, m) is dy


def test_dropout_finite_differences_with_a_fixed_mask():
    x = np.random.default_rng(11).standard_normal((4, 5))
    dy = np.random.default_rng(12).standard_normal((4, 5))
    _, mask = L.dropout_forward(x, 0.3, np.random.default_rng(3))
    fd_check(
        lambda: L.dropout_forward(x, 0.3, np.random.default_rng(3))[0],
        {"x": L.dropout_backward(dy, mask)},
        {"x": x},
        dy,
    )


def test_tied_weight_gradient_is_the_sum_of_both_uses():
    rng = np.random.default_rng(13)
    W = rng.standard_normal((6, 4))  # (V, C), used as embedding and as head
    ids = np.array([[1, 2, 2]])
    dlogits = rng.standard_normal((1, 3, 6))
    emb, c_emb = L.embedding_forward(ids, W)
    logits, c_head = L.linear_forward(emb, W)
    dx, dw_head, _ = L.linear_backward(dlogits, c_head)
    dW = L.tied_weight_backward(L.embedding_backward(dx, c_emb), dw_head)
    fd_check(lambda: L.linear_forward(L.embedding_forward(ids, W)[0], W)[0], {"W": dW}, {"W": W}, dlogits)


# ---------------------------------------------------------------------------------------
# attention
# ---------------------------------------------------------------------------------------


def test_causal_attention_core_matches_torch_sdpa():
    rng = np.random.default_rng(14)
    q, k, v = (rng.standard_normal((2, 3, 9, 8)).astype(np.float32) for _ in range(3))
    dy = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    y, cache = A.causal_attention_forward(q, k, v)
    dq, dk, dv = A.causal_attention_backward(dy, cache)
    qt, kt, vt = t(q), t(k), t(v)
    ref = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    ref.backward(torch.from_numpy(dy))
    check(y, ref.detach().numpy(), 2e-6, "y: softmax over <= 9 scores, 9-term weighted sums")
    check(dq, qt.grad.numpy(), 3e-6, "dq: through the softmax backward (row sums cancel)")
    check(dk, kt.grad.numpy(), 3e-6, "dk: through the softmax backward, summed over queries")
    check(dv, vt.grad.numpy(), 2e-6, "dv: attention-weighted sums of dy")
    # causality: position 0 attends only to itself, so y[..., 0, :] = v[..., 0, :]
    check(y[:, :, 0], v[:, :, 0], 1e-7, "first position copies its own value")


def test_causal_attention_finite_differences_with_dropout():
    rng = np.random.default_rng(15)
    q, k, v = (rng.standard_normal((2, 2, 4, 3)) for _ in range(3))
    dy = rng.standard_normal((2, 2, 4, 3))
    run = lambda: A.causal_attention_forward(q, k, v, 0.2, np.random.default_rng(5), training=True)
    y, cache = run()
    dq, dk, dv = A.causal_attention_backward(dy, cache)
    fd_check(lambda: run()[0], {"q": dq, "k": dk, "v": dv}, {"q": q, "k": k, "v": v}, dy)


def _torch_attention_module(C, H, w_attn, b_attn, w_proj, b_proj):
    from glassgpt.config import ModelConfig
    from glassgpt.models.gpt import CausalSelfAttention

    m = CausalSelfAttention(ModelConfig(n_embd=C, n_head=H, qkv_bias=b_attn is not None, bias=b_proj is not None))
    with torch.no_grad():
        m.c_attn.weight.copy_(torch.from_numpy(w_attn))
        m.c_proj.weight.copy_(torch.from_numpy(w_proj))
        if b_attn is not None:
            m.c_attn.bias.copy_(torch.from_numpy(b_attn))
        if b_proj is not None:
            m.c_proj.bias.copy_(torch.from_numpy(b_proj))
    return m


@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_sublayer_matches_the_torch_module(bias):
    rng = np.random.default_rng(16)
    B, T, C, H = 2, 7, 16, 4
    x = rng.standard_normal((B, T, C)).astype(np.float32)
    w_attn = (rng.standard_normal((3 * C, C)) * 0.3).astype(np.float32)
    w_proj = (rng.standard_normal((C, C)) * 0.3).astype(np.float32)
    b_attn = rng.standard_normal(3 * C).astype(np.float32) * 0.1 if bias else None
    b_proj = rng.standard_normal(C).astype(np.float32) * 0.1 if bias else None
    dout = rng.standard_normal((B, T, C)).astype(np.float32)
    out, cache = A.self_attention_forward(x, w_attn, b_attn, w_proj, b_proj, H)
    dx, dwa, dba, dwp, dbp = A.self_attention_backward(dout, cache)
    m = _torch_attention_module(C, H, w_attn, b_attn, w_proj, b_proj)
    xt = t(x)
    ref = m(xt)
    ref.backward(torch.from_numpy(dout))
    check(out, ref.detach().numpy(), 2e-6, "out: projection, attention, projection")
    check(dx, xt.grad.numpy(), 3e-6, "dx: q, k and v paths summed through c_attn")
    check(dwa, m.c_attn.weight.grad.numpy(), 4e-6, "dw_attn: softmax backward, summed over 14 positions")
    check(dwp, m.c_proj.weight.grad.numpy(), 2e-6, "dw_proj: one matmul of dy and the attention output")
    if bias:
        check(dba, m.c_attn.bias.grad.numpy(), 4e-6, "db_attn: like dw_attn")
        check(dbp, m.c_proj.bias.grad.numpy(), 1e-6, "db_proj: sum of dout over 14 positions")
    else:
        assert dba is None and dbp is None


def test_self_attention_sublayer_finite_differences():
    rng = np.random.default_rng(17)
    B, T, C, H = 2, 3, 4, 2
    x, wa, ba = rng.standard_normal((B, T, C)), rng.standard_normal((3 * C, C)), rng.standard_normal(3 * C)
    wp, bp = rng.standard_normal((C, C)), rng.standard_normal(C)
    dout = rng.standard_normal((B, T, C))
    _, cache = A.self_attention_forward(x, wa, ba, wp, bp, H)
    dx, dwa, dba, dwp, dbp = A.self_attention_backward(dout, cache)
    fd_check(
        lambda: A.self_attention_forward(x, wa, ba, wp, bp, H)[0],
        {"x": dx, "wa": dwa, "ba": dba, "wp": dwp, "bp": dbp},
        {"x": x, "wa": wa, "ba": ba, "wp": wp, "bp": bp},
        dout,
    )


# ---------------------------------------------------------------------------------------
# softmax + cross-entropy
# ---------------------------------------------------------------------------------------


def test_softmax_cross_entropy_matches_torch_with_ignored_targets():
    rng = np.random.default_rng(18)
    logits = (rng.standard_normal((20, 11)) * 4).astype(np.float32)
    logits[0, 0] = 80.0  # a large logit: the row-max shift keeps exp finite
    targets = rng.integers(0, 11, 20)
    targets[[3, 7, 8]] = -1
    loss, cache = CE.softmax_cross_entropy_forward(logits, targets)
    dlogits = CE.softmax_cross_entropy_backward(1.0, cache)
    lt = t(logits)
    ref = F.cross_entropy(lt, torch.from_numpy(targets), ignore_index=-1)
    ref.backward()
    check(loss, ref.detach().numpy(), 1e-6, "loss: mean of 17 log-probabilities")
    check(dlogits, lt.grad.numpy(), 1e-6, "dlogits: (softmax - onehot) / 17, one division each")
    assert np.all(dlogits[[3, 7, 8]] == 0)  # ignored rows get no gradient
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-7)  # each row of p - onehot sums to 0
    kept = targets >= 0
    assert CE.cross_entropy_sum(logits[kept], targets[kept]) == pytest.approx(float(loss) * 17, rel=1e-6)


def test_softmax_cross_entropy_finite_differences():
    rng = np.random.default_rng(19)
    logits = rng.standard_normal((5, 4))
    targets = np.array([0, 3, -1, 2, 2])
    _, cache = CE.softmax_cross_entropy_forward(logits, targets)
    d = CE.softmax_cross_entropy_backward(2.5, cache)  # an upstream scale (gradient accumulation divides by n)
    num = numerical_gradient(lambda: 2.5 * float(CE.softmax_cross_entropy_forward(logits, targets)[0]), logits)
    check(d, num, FD_TOL, "finite differences, dlogits")


def test_seeds_a2_loss_gradient_table():
    """docs/curriculum.md, A2: dL/dlogit = p - onehot at the target cells (per-row gradient, before /N)."""
    probs = np.array(
        [
            [0.1785, 0.2007, 0.1759, 0.1254, 0.1563, 0.1632],
            [0.1836, 0.1969, 0.1805, 0.1233, 0.1500, 0.1657],
            [0.1795, 0.2050, 0.1782, 0.1207, 0.1437, 0.1728],
            [0.1855, 0.2017, 0.1771, 0.1271, 0.1391, 0.1695],
        ]
    )
    targets = np.array([3, 4, 5, 2])
    loss, cache = CE.softmax_cross_entropy_forward(np.log(probs), targets)
    d = CE.softmax_cross_entropy_backward(1.0, cache) * 4  # undo the mean's 1/N for the table
    np.testing.assert_allclose(d[np.arange(4), targets], [-0.8746, -0.8500, -0.8272, -0.8229], atol=2e-4)
    assert float(loss) == pytest.approx(1.865, abs=2e-3)


# ---------------------------------------------------------------------------------------
# BatchNorm1d
# ---------------------------------------------------------------------------------------


def test_batchnorm_matches_torch_in_training_and_inference():
    rng = np.random.default_rng(20)
    C = 6
    bn = torch.nn.BatchNorm1d(C, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy((1 + 0.2 * rng.standard_normal(C)).astype(np.float32)))
        bn.bias.copy_(torch.from_numpy((0.1 * rng.standard_normal(C)).astype(np.float32)))
    gamma, beta = bn.weight.detach().numpy().copy(), bn.bias.detach().numpy().copy()
    rmean, rvar = np.zeros(C, np.float32), np.ones(C, np.float32)
    for _step in range(3):  # running statistics over several batches
        x = (rng.standard_normal((32, C)) * 2 + 3).astype(np.float32)
        dy = rng.standard_normal((32, C)).astype(np.float32)
        y, cache = BN.batchnorm_forward(x, gamma, beta, rmean, rvar, training=True)
        dx, dg, db = BN.batchnorm_backward(dy, cache)
        bn.train()
        bn.zero_grad()
        xt = t(x)
        ref = bn(xt)
        ref.backward(torch.from_numpy(dy))
        check(y, ref.detach().numpy(), 2e-6, "y: batch mean/variance of 32 numbers")
        check(dx, xt.grad.numpy(), 2e-6, "dx: one-formula backward, two cancelling batch sums")
        check(dg, bn.weight.grad.numpy(), 2e-6, "dgamma: sum over 32 rows")
        check(db, bn.bias.grad.numpy(), 1e-6, "dbeta: sum over 32 rows")
        check(rmean, bn.running_mean.numpy(), 1e-6, "running mean: momentum 0.1 average")
        check(rvar, bn.running_var.numpy(), 1e-6, "running var: unbiased, momentum 0.1")
    bn.eval()
    x = rng.standard_normal((1, C)).astype(np.float32)  # a batch of ONE works at inference
    dy = rng.standard_normal((1, C)).astype(np.float32)
    y, cache = BN.batchnorm_forward(x, gamma, beta, rmean, rvar, training=False)
    dx, dg, db = BN.batchnorm_backward(dy, cache)
    xt = t(x)
    ref = bn(xt)
    ref.backward(torch.from_numpy(dy))
    check(y, ref.detach().numpy(), 1e-6, "inference y: fixed statistics")
    check(dx, xt.grad.numpy(), 1e-6, "inference dx: a per-feature scale")


def test_batchnorm_3d_normalises_the_last_axis_like_torch_on_n_c_l():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((8, 4, 5)).astype(np.float32)  # (N, L, C): WaveNet's layout
    dy = rng.standard_normal((8, 4, 5)).astype(np.float32)
    y, cache = BN.batchnorm_forward(
        x, np.ones(5, np.float32), np.zeros(5, np.float32), np.zeros(5, np.float32), np.ones(5, np.float32)
    )
    dx, _, _ = BN.batchnorm_backward(dy, cache)
    bn = torch.nn.BatchNorm1d(5).train()
    xt = t(x)
    ref = bn(xt.transpose(1, 2)).transpose(1, 2)  # torch wants (N, C, L)
    ref.backward(torch.from_numpy(dy))
    check(y, ref.detach().numpy(), 2e-6, "y: statistics over 32 rows")
    check(dx, xt.grad.numpy(), 2e-6, "dx: one-formula backward over 32 rows")


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_finite_differences(training):
    rng = np.random.default_rng(22)
    x, gamma, beta = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    dy = rng.standard_normal((5, 3))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5

    def fwd():  # fresh copies: the running buffers must not drift during the differences
        return BN.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=training)

    dx, dg, db = BN.batchnorm_backward(dy, fwd()[1])
    fd_check(lambda: fwd()[0], {"x": dx, "gamma": dg, "beta": db}, {"x": x, "gamma": gamma, "beta": beta}, dy)


# ---------------------------------------------------------------------------------------
# random shapes (hypothesis), float64 against torch autograd: formulas, not roundoff
# ---------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 3), H=st.integers(1, 4), T=st.integers(1, 9), D=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_attention_core_any_shape_float64(B, H, T, D, seed):
    rng = np.random.default_rng(seed)
    q, k, v, dy = (rng.standard_normal((B, H, T, D)) for _ in range(4))
    y, cache = A.causal_attention_forward(q, k, v)
    dq, dk, dv = A.causal_attention_backward(dy, cache)
    qt, kt, vt = t(q), t(k), t(v)
    ref = F.scaled_dot_product_attention(qt, kt, vt, is_causal=True)
    ref.backward(torch.from_numpy(dy))
    for got, want in ((y, ref), (dq, qt.grad), (dk, kt.grad), (dv, vt.grad)):
        # atol: with T = 1 the softmax of a single score is 1, so dq = dk = 0 up to roundoff
        check(got, want.detach().numpy(), 1e-12, "float64: only roundoff differs", atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(N=st.integers(1, 12), C=st.integers(2, 9), seed=st.integers(0, 10**6))
def test_layernorm_and_cross_entropy_any_shape_float64(N, C, seed):
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((N, C)) * 3, rng.standard_normal((N, C))
    g, b = rng.standard_normal(C), rng.standard_normal(C)
    y, cache = L.layernorm_forward(x, g, b)
    dx, dg, db = L.layernorm_backward(dy, cache)
    xt, gt, bt = t(x), t(g), t(b)
    F.layer_norm(xt, (C,), gt, bt, eps=1e-5).backward(torch.from_numpy(dy))
    for got, want in ((dx, xt.grad), (dg, gt.grad), (db, bt.grad)):
        # with C = 2 the normalised row is always (-1, 1), so dx is ~0: an absolute floor of 1e-13
        check(got, want.numpy(), 1e-11, "float64 layernorm: only roundoff differs", atol=1e-13)
    targets = rng.integers(-1, C, N)  # some ignored
    if (targets >= 0).any():
        loss, c = CE.softmax_cross_entropy_forward(x, targets)
        lt = t(x)
        F.cross_entropy(lt, torch.from_numpy(targets), ignore_index=-1).backward()
        check(CE.softmax_cross_entropy_backward(1.0, c), lt.grad.numpy(), 1e-12, "float64 dlogits")
