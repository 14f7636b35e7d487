"""The NumPy optimizers against torch.optim, step for step, on the same gradients."""

import numpy as np
import pytest
import torch

from glassgpt.glass.optim import SGD, AdamW
from glassgpt.training.engines import decay_groups


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w": rng.standard_normal((5, 4)).astype(np.float32),  # decayed (2-D)
        "emb": rng.standard_normal((3, 2, 2)).astype(np.float32),  # decayed (3-D)
        "b": rng.standard_normal(5).astype(np.float32),
    }  # never decayed (1-D)


def torch_twins(params):
    tp = {n: torch.nn.Parameter(torch.from_numpy(a.copy())) for n, a in params.items()}
    decay, no_decay = decay_groups(tp.items())
    return tp, decay, no_decay


def grads_for(step, params):
    rng = np.random.default_rng(100 + step)
    return {n: rng.standard_normal(a.shape).astype(np.float32) for n, a in params.items()}


@pytest.mark.parametrize("betas,wd", [((0.9, 0.999), 0.01), ((0.9, 0.95), 0.1), ((0.8, 0.99), 0.0)])
def test_adamw_matches_torch_for_ten_steps_with_changing_lr(betas, wd):
    params = make_params()
    tp, decay, no_decay = torch_twins(params)
    topt = torch.optim.AdamW(
        [
            {"params": [p for _, p in decay], "weight_decay": wd},
            {"params": [p for _, p in no_decay], "weight_decay": 0.0},
        ],
        lr=1e-2,
        betas=betas,
        eps=1e-8,
    )
    opt = AdamW(params, lr=1e-2, betas=betas, eps=1e-8, weight_decay=wd)
    for step in range(10):
        lr = 1e-2 * (1 + step) / 10  # a warmup, as the schedule would give
        g = grads_for(step, params)
        for group in topt.param_groups:
            group["lr"] = lr
        for n, p in tp.items():
            p.grad = torch.from_numpy(g[n])
        topt.step()
        opt.step(g, lr)
        for n, p in tp.items():
            # same float32 formulas in the same order: ~1 ulp per step, so 1e-6 of the scale
            # after 10 steps (measured: 0 to 1e-7)
            np.testing.assert_allclose(
                params[n], p.detach().numpy(), rtol=0, atol=1e-6 * np.abs(params[n]).max(), err_msg=f"step {step} {n}"
            )
    st = opt.state_arrays()
    for n, p in tp.items():
        s = topt.state[p]
        for key in ("exp_avg", "exp_avg_sq"):  # moments: 1e-6 of their scale (an entry near 0 has cancelled)
            ref = s[key].numpy()
            np.testing.assert_allclose(st[f"{n}.{key}"], ref, rtol=0, atol=1e-6 * np.abs(ref).max())
        assert float(st[f"{n}.step"][0]) == float(s["step"]) == 10


def test_adamw_decays_only_matrices():
    params = make_params()
    before = {n: a.copy() for n, a in params.items()}
    opt = AdamW(params, lr=0.1, weight_decay=0.5)
    opt.step({n: np.zeros_like(a) for n, a in params.items()})  # zero gradient: only decay moves p
    assert np.allclose(params["w"], before["w"] * (1 - 0.1 * 0.5))
    assert np.allclose(params["emb"], before["emb"] * (1 - 0.1 * 0.5))
    assert np.array_equal(params["b"], before["b"])


def test_adamw_state_round_trip_continues_identically():
    p1, p2 = make_params(), make_params()
    a, b = AdamW(p1, lr=1e-2), AdamW(p2, lr=1e-2)
    for step in range(3):
        a.step(grads_for(step, p1))
        b.step(grads_for(step, p2))
    saved = {k: torch.from_numpy(v.copy()) for k, v in a.state_arrays().items()}
    c = AdamW(p1, lr=1e-2)
    c.load_state_arrays(saved)
    c.step(grads_for(3, p1))
    b.step(grads_for(3, p2))
    for n in p1:
        assert np.array_equal(p1[n], p2[n])


@pytest.mark.parametrize(
    "momentum,dampening,nesterov,wd",
    [(0.0, 0.0, False, 0.0), (0.9, 0.0, False, 0.0), (0.9, 0.0, True, 1e-2), (0.5, 0.3, False, 1e-3)],
)
def test_sgd_matches_torch_for_ten_steps(momentum, dampening, nesterov, wd):
    params = make_params(1)
    tp, decay, no_decay = torch_twins(params)
    topt = torch.optim.SGD(
        [
            {"params": [p for _, p in decay], "weight_decay": wd},
            {"params": [p for _, p in no_decay], "weight_decay": 0.0},
        ],
        lr=0.05,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
    )
    opt = SGD(params, lr=0.05, momentum=momentum, dampening=dampening, weight_decay=wd, nesterov=nesterov)
    for step in range(10):
        g = grads_for(step, params)
        for n, p in tp.items():
            p.grad = torch.from_numpy(g[n].copy())
        topt.step()
        opt.step(g)
        for n, p in tp.items():
            # a multiply-add per step: measured exactly equal or 1 ulp apart
            np.testing.assert_allclose(
                params[n], p.detach().numpy(), rtol=0, atol=1e-6 * np.abs(params[n]).max(), err_msg=f"step {step} {n}"
            )


def test_sgd_does_not_modify_the_callers_gradients():
    params = make_params()
    g = grads_for(0, params)
    copy = {n: a.copy() for n, a in g.items()}
    opt = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step(g)
    opt.step(g)
    for n in g:
        assert np.array_equal(g[n], copy[n])
