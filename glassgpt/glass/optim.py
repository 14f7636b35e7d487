"""AdamW and SGD in NumPy, step for step the same arithmetic as ``torch.optim``.

Both update a ``dict[str, np.ndarray]`` of parameters IN PLACE from a dict of gradients
with the same names.  Weight decay applies only to parameters with at least two
dimensions (linear weights, embeddings), never to biases or LayerNorm gains: the rule of
``glassgpt.training.engines.decay_groups``.

AdamW, for each parameter p with gradient g at step t (as ``torch.optim.AdamW``):
    p     = p * (1 - lr * weight_decay)                 decoupled decay, before the update
    m     = m + (1 - beta1) * (g - m)                   first moment (a lerp toward g)
    v     = v * beta2 + (1 - beta2) * g * g             second moment
    p     = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
The bias corrections undo the moments' start at zero; eps sits OUTSIDE the corrected
square root, as in torch.  ``AdamW.step`` does this in place with two scratch buffers, one
pass over memory per line; ``adamw_reference`` beside it is the textbook update in plain
formulas, returning new arrays.

Optimizer state is saved under the same names as the torch engine's
(``<param>.exp_avg``, ``<param>.exp_avg_sq``, ``<param>.step``).
"""

from __future__ import annotations

import numpy as np


def decays(array: np.ndarray) -> bool:
    """Weight decay for matrices (>= 2-D) only."""
    return array.ndim >= 2


def adamw_reference(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
):
    """One AdamW step of one parameter as the paper writes it (Loshchilov & Hutter, "Decoupled
    Weight Decay Regularization"): returns the new (p, m, v) and changes nothing in place.
    ``t`` counts steps from 1; ``weight_decay`` is 0 for parameters that do not decay."""
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * g  # running mean of the gradient
    v = beta2 * v + (1 - beta2) * g * g  # running mean of its square
    m_hat = m / (1 - beta1**t)  # bias corrections: both started at zero
    v_hat = v / (1 - beta2**t)
    p = p - lr * weight_decay * p - lr * m_hat / (np.sqrt(v_hat) + eps)  # decay is not scaled by Adam
    return p, m, v


class AdamW:
    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        self.params = params
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self.state: dict[str, dict] = {}  # name -> {"step": int, "exp_avg": array, "exp_avg_sq": array}

    def step(self, grads: dict[str, np.ndarray], lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        beta1, beta2 = self.betas
        for name, p in self.params.items():
            g = grads.get(name)
            if g is None:
                continue
            st = self.state.get(name)
            if st is None:
                st = self.state[name] = {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
            st["step"] += 1
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            tmp, denom = np.empty_like(p), np.empty_like(p)  # scratch: every line below is one pass
            if self.weight_decay and decays(p):
                p *= 1 - lr * self.weight_decay
            np.subtract(g, m, out=tmp)
            tmp *= 1 - beta1
            m += tmp  # m += (1 - beta1) (g - m)
            v *= beta2
            np.multiply(g, 1 - beta2, out=tmp)
            tmp *= g
            v += tmp  # v = beta2 v + (1 - beta2) g g
            step_size = lr / (1 - beta1**t)
            np.sqrt(v, out=denom)
            denom /= (1 - beta2**t) ** 0.5
            denom += self.eps  # sqrt(v / (1 - beta2^t)) + eps
            np.multiply(m, -step_size, out=tmp)
            tmp /= denom
            p += tmp  # p -= step_size m / denom

    # ---- state by name ----------------------------------------------------------------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name, st in self.state.items():
            out[f"{name}.exp_avg"] = st["exp_avg"]
            out[f"{name}.exp_avg_sq"] = st["exp_avg_sq"]
            out[f"{name}.step"] = np.array([st["step"]], dtype=np.float32)
        return out

    def load_state_arrays(self, arrays: dict) -> None:
        """Restore from ``state_arrays()``-style arrays (numpy or torch); parameters without saved
        state start fresh, as in torch."""
        self.state = {}
        for name, p in self.params.items():
            if f"{name}.exp_avg" not in arrays:
                continue
            get = lambda key, name=name: _numpy(arrays[f"{name}.{key}"])
            self.state[name] = {
                "step": int(round(float(get("step").reshape(-1)[0]))),
                "exp_avg": np.array(get("exp_avg"), dtype=p.dtype).reshape(p.shape),
                "exp_avg_sq": np.array(get("exp_avg_sq"), dtype=p.dtype).reshape(p.shape),
            }


class SGD:
    """SGD with optional momentum (torch's form: buf = momentum * buf + (1 - dampening) * g,
    the first step's buffer is g itself), Nesterov, and classic L2 weight decay (added to the
    gradient) on >= 2-D parameters."""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        lr: float = 1e-2,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        self.params = params
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.state: dict[str, dict] = {}  # name -> {"momentum_buffer": array}

    def step(self, grads: dict[str, np.ndarray], lr: float | None = None) -> None:
        lr = self.lr if lr is None else lr
        for name, p in self.params.items():
            g = grads.get(name)
            if g is None:
                continue
            if self.weight_decay and decays(p):
                g = g + self.weight_decay * p
            if self.momentum:
                st = self.state.get(name)
                if st is None:
                    buf = self.state.setdefault(name, {"momentum_buffer": np.array(g, copy=True)})["momentum_buffer"]
                else:
                    buf = st["momentum_buffer"]
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p -= lr * g

    # ---- state by name (the torch engine's names: ``<param>.momentum_buffer``) -----------------
    def state_arrays(self) -> dict[str, np.ndarray]:
        return {f"{name}.momentum_buffer": st["momentum_buffer"] for name, st in self.state.items()}

    def load_state_arrays(self, arrays: dict) -> None:
        """Restore from ``state_arrays()``-style arrays; parameters without a saved buffer start fresh."""
        self.state = {
            name: {
                "momentum_buffer": np.array(_numpy(arrays[f"{name}.momentum_buffer"]), dtype=p.dtype).reshape(p.shape)
            }
            for name, p in self.params.items()
            if f"{name}.momentum_buffer" in arrays
        }


def _numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
