"""The readable version beside the fast one: every ``*_reference`` (textbook) form in the glass
engine gives the same numbers as the fast form it sits beside, float64 and float32.

Shapes and values are drawn by hypothesis (a seed for NumPy's generator plus the sizes).
Each check is ``max|fast - textbook| <= tol * scale``, where ``scale`` is the natural size of
the terms that make up the quantity (written beside each check), so a tolerance means "this
many units of roundoff" even where the result itself cancels to nearly zero.  Tolerances sit
about 10x above the worst error measured over 3,000 random examples per test (the worst is
written beside each, float64 then float32); a wrong formula misses them by orders of magnitude.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glassgpt.glass import attention as A
from glassgpt.glass import batchnorm as BN
from glassgpt.glass import cross_entropy as CE
from glassgpt.glass import layers as L
from glassgpt.glass.optim import AdamW, adamw_reference

DTYPES = [np.float64, np.float32]
dims = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)
examples = settings(max_examples=30, deadline=None)


def close(fast, textbook, tol, scale, what):
    diff = float(np.max(np.abs(np.asarray(fast, np.float64) - np.asarray(textbook, np.float64)), initial=0.0))
    assert diff <= tol * scale, f"{what}: max|fast - textbook| = {diff:.3e} > {tol:.0e} x scale {scale:.3e}"


def close_each(fast, textbook, tol, scale, what):
    """The same, entry by entry: |fast - textbook| <= tol * scale for an array ``scale``."""
    diff = np.abs(np.asarray(fast, np.float64) - np.asarray(textbook, np.float64))
    worst = int(np.argmax(diff - tol * scale))
    assert np.all(diff <= tol * scale), (
        f"{what}: entry {worst} differs by {diff.flat[worst]:.3e} > {tol:.0e} x {scale.flat[worst]:.3e}"
    )


def normal(rng, shape, dtype, std=1.0):
    return (rng.standard_normal(shape) * std).astype(dtype)


# ---------------------------------------------------------------------------------------
# embedding: sorted runs + reduceat vs the np.add.at scatter-add
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@examples
@given(seed=seeds, B=dims, T=dims, C=dims, V=st.integers(1, 12))
def test_embedding_backward_equals_the_scatter_add(dtype, seed, B, T, C, V):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, V, (B, T))
    ids[0, :] = ids[0, 0]  # one id repeated along a whole row: its gradient is a sum
    dout = normal(rng, (B, T, C), dtype)
    _, cache = L.embedding_forward(ids, normal(rng, (V, C), dtype))
    fast, textbook = L.embedding_backward(dout, cache), L.embedding_backward_reference(dout, cache)
    assert fast.dtype == textbook.dtype == dtype
    assert not fast[np.setdiff1d(np.arange(V), ids)].any()  # rows nobody looked up: exactly zero
    # the same sums in a different order; scale: the sum of the |terms| of each row
    scale = float(L.embedding_backward_reference(np.abs(dout), cache).max())
    close(fast, textbook, {np.float64: 3e-15, np.float32: 3e-6}[dtype], scale, "dtable")  # worst 2.9e-16, 2.1e-7


# ---------------------------------------------------------------------------------------
# GELU: the sigmoid identity vs 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@examples
@given(seed=seeds, n=st.integers(1, 40), spread=st.sampled_from([0.1, 1.0, 3.0, 30.0]))
def test_gelu_sigmoid_form_equals_the_tanh_formula(dtype, seed, n, spread):
    rng = np.random.default_rng(seed)
    x = np.concatenate([normal(rng, n, dtype, spread), np.array([0.0, -0.0, 1e-8, -60.0, 60.0], dtype)])
    dy = normal(rng, x.shape, dtype)
    y, cache = L.gelu_forward(x)
    y_ref, cache_ref = L.gelu_forward_reference(x)
    dx, dx_ref = L.gelu_backward(dy, cache), L.gelu_backward_reference(dy, cache_ref)
    assert y.dtype == y_ref.dtype == dx.dtype == dx_ref.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    x64 = np.abs(x.astype(np.float64))
    # exp vs tanh of the same u, computed in a different order: ulps of each entry, |y| <= |x|
    close_each(y, y_ref, {np.float64: 5e-15, np.float32: 3e-6}[dtype], x64, "y")  # worst 3.9e-16, 2.3e-7
    # where tanh u is near +-1 the textbook 1 - tanh^2 u loses digits, which the factor
    # 0.5 x du/dx multiplies: each entry is measured against |dy| (1 + that factor)
    factor = 0.5 * x64 * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x64**2)
    close_each(
        dx, dx_ref, {np.float64: 1e-14, np.float32: 5e-6}[dtype], np.abs(dy) * (1 + factor), "dx"
    )  # worst 6.3e-16, 3.1e-7


def test_gelu_reference_is_the_formula():
    """Pin the textbook form itself to hand-computed values of the formula (float64)."""
    x = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    k = np.sqrt(2 / np.pi)
    expected = [0.5 * v * (1 + np.tanh(k * (v + 0.044715 * v**3))) for v in x]
    y, _ = L.gelu_forward_reference(x)
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=0)  # the same expression, entry by entry
    np.testing.assert_allclose(y[3], 0.3457140, atol=1e-7)  # gelu(0.5), tanh approximation, to 7 digits
    eps = 1e-6  # central difference of the formula: truncation ~eps^2, roundoff ~1e-16/eps
    fd = (L.gelu_forward_reference(x + eps)[0] - L.gelu_forward_reference(x - eps)[0]) / (2 * eps)
    np.testing.assert_allclose(L.gelu_backward_reference(np.ones_like(x), x), fd, rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------------------
# LayerNorm and BatchNorm: one-formula backward vs the step-by-step derivation
# ---------------------------------------------------------------------------------------


def centred_scale(x, rstd, dxhat) -> float:
    """The size of the terms of a normalisation's dx: rstd |dxhat|, times (1 + rstd |x|) for
    the roundoff of x - mean that xhat = (x - mean) rstd magnifies."""
    r = float(np.max(rstd))
    return r * float(np.abs(dxhat).max()) * (1.0 + r * float(np.abs(x).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@examples
@given(seed=seeds, B=dims, T=dims, C=st.integers(1, 16))
def test_layernorm_one_formula_equals_the_derivation(dtype, bias, seed, B, T, C):
    rng = np.random.default_rng(seed)
    x, dy = normal(rng, (B, T, C), dtype, 3.0) + 1.0, normal(rng, (B, T, C), dtype)
    g, b = normal(rng, C, dtype), (normal(rng, C, dtype) if bias else None)
    y, cache = L.layernorm_forward(x.copy(), g, b)
    rstd = cache.rstd
    dx, dg, db = L.layernorm_backward(dy, cache)
    y_ref, dx_ref, dg_ref, db_ref = L.layernorm_reference(x, g, b, dy)
    assert y.dtype == dx.dtype == y_ref.dtype == dx_ref.dtype == dtype
    tol = {np.float64: 5e-15, np.float32: 3e-6}[dtype]  # worst of the four: 3.5e-16, 2.0e-7 (dg)
    close(y, y_ref, tol, float(np.abs(g).max()) * np.sqrt(C) + (float(np.abs(b).max()) if bias else 0.0), "y")
    # dx is rstd times a difference of terms as large as dy * g: scale by those terms, not by
    # dx itself (with C = 2 the exact dx is ~1e-5 of them); and x - mean carries roundoff of
    # the size of |x|, which rstd magnifies in xhat (a row of nearly equal values)
    close(dx, dx_ref, tol, centred_scale(x, rstd, dy * g), "dx")
    close(dg, dg_ref, tol, float(np.abs(dy * cache.xhat).sum(axis=(0, 1)).max()), "dg: a sum over positions")
    if bias:
        close(db, db_ref, tol, float(np.abs(dy).sum(axis=(0, 1)).max()), "db: a sum over positions")
    else:
        assert db is None and db_ref is None


@pytest.mark.parametrize("dtype", DTYPES)
@examples
@given(seed=seeds, N=st.integers(2, 8), L_=st.sampled_from([None, 1, 3]), C=dims)
def test_batchnorm_one_formula_equals_the_derivation(dtype, seed, N, L_, C):
    rng = np.random.default_rng(seed)
    shape = (N, C) if L_ is None else (N, L_, C)
    x, dy = normal(rng, shape, dtype, 2.0) + 1.0, normal(rng, shape, dtype)
    gamma, beta = normal(rng, C, dtype), normal(rng, C, dtype)
    y, cache = BN.batchnorm_forward(x, gamma, beta, np.zeros(C, dtype), np.ones(C, dtype), training=True)
    dx, dgamma, dbeta = BN.batchnorm_backward(dy, cache)
    y_ref, dx_ref, dgamma_ref, dbeta_ref = BN.batchnorm_reference(x, gamma, beta, dy)
    assert y.dtype == dx.dtype == y_ref.dtype == dx_ref.dtype == dtype
    axes = tuple(range(x.ndim - 1))
    n = x.size // C
    tol = {np.float64: 5e-15, np.float32: 3e-6}[dtype]  # worst of the four: 4.0e-16, 2.0e-7 (dgamma)
    close(y, y_ref, tol, float(np.abs(gamma).max() * np.sqrt(n) + np.abs(beta).max()), "y")
    close(dx, dx_ref, tol, centred_scale(x, cache.rstd, dy * gamma), "dx: as for LayerNorm")
    close(dgamma, dgamma_ref, tol, float(np.abs(dy * cache.xhat).sum(axis=axes).max()), "dgamma: a sum over the batch")
    close(dbeta, dbeta_ref, tol, float(np.abs(dy).sum(axis=axes).max()), "dbeta: a sum over the batch")


# ---------------------------------------------------------------------------------------
# attention: batched matmuls and the one-line softmax backward vs loops and the full Jacobian
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@examples
@given(seed=seeds, B=st.integers(1, 3), H=st.integers(1, 3), T=st.integers(1, 8), D=st.integers(1, 8))
def test_causal_attention_equals_the_loops(dtype, seed, B, H, T, D):
    rng = np.random.default_rng(seed)
    q, k, v, dy = (normal(rng, (B, H, T, D), dtype) for _ in range(4))
    y, cache = A.causal_attention_forward(q, k, v)
    dq, dk, dv = A.causal_attention_backward(dy, cache)
    y_ref, dq_ref, dk_ref, dv_ref = A.causal_attention_reference(q, k, v, dy)
    assert y.dtype == y_ref.dtype == dq.dtype == dq_ref.dtype == dtype
    tol = {np.float64: 5e-15, np.float32: 3e-6}[dtype]  # worst of the four: 4.4e-16, 2.4e-7 (y)
    vmax, qmax, kmax, dymax = (float(np.abs(a).max()) for a in (v, q, k, dy))
    close(y, y_ref, tol, vmax, "y: a weighted average of values")
    close(dv, dv_ref, tol, T * dymax, "dv: at most T weighted dy rows")
    # ds entries are at most 2 max|da|, da = v . dy (D terms); dq, dk sum T of them times k or q
    ds = 2 * D * vmax * dymax
    close(dq, dq_ref, tol, T * ds * kmax / D**0.5, "dq")
    close(dk, dk_ref, tol, T * ds * qmax / D**0.5, "dk")
    # position t never reads a later one: the first query's output is the first value, exactly
    np.testing.assert_array_equal(y_ref[:, :, 0], v[:, :, 0])


# ---------------------------------------------------------------------------------------
# cross-entropy: the fused softmax - onehot vs softmax, -log, and the Jacobian
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@examples
@given(
    seed=seeds,
    N=st.integers(1, 10),
    V=st.integers(2, 12),
    spread=st.sampled_from([0.1, 3.0, 10.0]),
    ignored=st.integers(0, 3),
)
def test_fused_cross_entropy_equals_the_unfused_textbook(dtype, seed, N, V, spread, ignored):
    # spread <= 10: p[target] stays above float32's smallest normal number; the textbook form
    # divides by it (the fused form never does, which is one reason to fuse)
    rng = np.random.default_rng(seed)
    logits = normal(rng, (N, V), dtype, spread)
    targets = rng.integers(0, V, N)
    targets[1 : 1 + ignored] = -1  # row 0 always counts
    loss, cache = CE.softmax_cross_entropy_forward(logits, targets)
    dlogits = CE.softmax_cross_entropy_backward(1.0, cache)
    loss_ref, dlogits_ref = CE.softmax_cross_entropy_reference(logits, targets)
    assert dlogits.dtype == dlogits_ref.dtype == dtype
    n = int((targets != -1).sum())
    tol = {np.float64: 5e-15, np.float32: 3e-6}[dtype]  # worst of the two: 3.9e-16, 2.1e-7 (dlogits)
    # -log p of each row is about as large as the spread of its logits (plus log V)
    close(loss, loss_ref, tol, float(np.ptp(logits, axis=1).max() + np.log(V)), "loss")
    close(dlogits, dlogits_ref, tol, 1.0 / n, "dlogits: entries of (p - onehot) / n")
    assert not dlogits_ref[targets == -1].any()  # ignored rows: exactly zero, both ways
    # p and onehot both sum to 1: each row of the textbook gradient sums to 0, up to one
    # rounding of each of its V entries (each at most 1/n)
    np.testing.assert_allclose(dlogits_ref[targets != -1].sum(axis=1), 0.0, atol=V * np.finfo(dtype).eps / n)


# ---------------------------------------------------------------------------------------
# AdamW: in-place scratch-buffer passes vs the paper's formulas
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=15, deadline=None)
@given(
    seed=seeds,
    betas=st.sampled_from([(0.9, 0.999), (0.9, 0.95), (0.8, 0.99)]),
    weight_decay=st.sampled_from([0.0, 0.01, 0.1]),
    steps=st.integers(1, 25),
)
def test_adamw_scratch_buffers_equal_the_textbook_update(dtype, seed, betas, weight_decay, steps):
    rng = np.random.default_rng(seed)
    params = {"w": normal(rng, (5, 4), dtype), "b": normal(rng, 5, dtype)}  # decayed, never decayed
    textbook = {name: (p.copy(), np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    opt = AdamW(params, lr=1e-2, betas=betas, eps=1e-8, weight_decay=weight_decay)
    for t in range(1, steps + 1):
        lr = 1e-2 * t / steps  # a schedule: lr changes every step
        grads = {name: normal(rng, p.shape, dtype, 10.0 ** rng.integers(-3, 2)) for name, p in params.items()}
        opt.step(grads, lr)
        for name, (p, m, v) in textbook.items():
            wd = weight_decay if p.ndim >= 2 else 0.0  # the engine's rule: matrices decay, vectors do not
            textbook[name] = adamw_reference(p, grads[name], m, v, t, lr, betas, 1e-8, wd)
    for name, (p, m, v) in textbook.items():
        st_ = opt.state[name]
        assert p.dtype == m.dtype == v.dtype == dtype
        # same arithmetic regrouped (lerp vs weighted sum; sqrt(v)/sqrt(bc) vs sqrt(v/bc)):
        # ulps per step, over up to 25 steps (worst 1.1e-15, 7.5e-7)
        tol = {np.float64: 1e-14, np.float32: 1e-5}[dtype]
        close(params[name], p, tol, float(np.abs(p).max()), f"{name}")
        close(st_["exp_avg"], m, tol, float(np.abs(m).max()), f"{name} exp_avg")
        close(st_["exp_avg_sq"], v, tol, float(np.abs(v).max()), f"{name} exp_avg_sq")
        assert st_["step"] == steps


def test_adamw_reference_first_step_is_a_signed_lr_step():
    """After one step the bias-corrected ratio m_hat / sqrt(v_hat) is g / |g| (eps aside): every
    entry moves by exactly lr against its gradient's sign, whatever the gradient's size."""
    g = np.array([3.0, -1e-3, 250.0])
    p, m, v = adamw_reference(np.zeros(3), g, np.zeros(3), np.zeros(3), 1, lr=0.1, eps=0.0)
    # float64, a few roundings each (1 - 0.999 is not exactly 0.001): 1e-14
    np.testing.assert_allclose(p, [-0.1, 0.1, -0.1], rtol=1e-14)
    np.testing.assert_allclose(m, 0.1 * g, rtol=1e-14)
    np.testing.assert_allclose(v, 0.001 * g * g, rtol=1e-14)
