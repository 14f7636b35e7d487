"""The ladder's MLP (with or without BatchNorm) trained on hand-written gradients, fused layers.

``makemore.backprop`` backpropagates the network one line at a time, to learn how.  Training
needs the same gradients fast, so this module builds the network from the glass engine's
forward/backward pairs, where each block's backward is already one formula:

    embedding -> concatenate -> linear -> [batchnorm] -> tanh -> linear -> softmax cross-entropy

``HandMLP`` holds its parameters (and the BatchNorm running statistics) in a dict under the
torch ``MLP``'s names and weight layout ((in, out) matrices), so weights move between the two
engines unchanged: ``HandMLP.from_weights(model.weights())`` and ``hand.weights()``.
``train_step`` is one step of SGD (``glassgpt.glass.optim.SGD``) on a batch.
"""

from __future__ import annotations

import numpy as np

from glassgpt.glass.batchnorm import batchnorm_backward, batchnorm_forward
from glassgpt.glass.cross_entropy import softmax_cross_entropy_backward, softmax_cross_entropy_forward
from glassgpt.glass.layers import (
    embedding_backward,
    embedding_forward,
    linear_backward,
    linear_forward,
    tanh_backward,
    tanh_forward,
)
from glassgpt.glass.optim import SGD, _numpy
from glassgpt.makemore.backprop import EPS, RUNNING

#: the parameters trained by gradients (hidden.bias and the bn.* ones only when present)
TRAINED = ("C.weight", "hidden.weight", "hidden.bias", "bn.gamma", "bn.beta", "out.weight", "out.bias")


class HandMLP:
    """Embedding ``C`` -> ``hidden`` -> [``bn``] -> tanh -> ``out``, forward and backward in NumPy."""

    def __init__(self, params: dict[str, np.ndarray], bn_momentum: float = 0.001, eps: float = EPS):
        self.params = params
        self.bn_momentum, self.eps = bn_momentum, eps
        self.batchnorm = "bn.gamma" in params

    @classmethod
    def from_weights(cls, weights: dict, bn_momentum: float = 0.001, dtype=np.float32) -> HandMLP:
        """Copy weights (name -> numpy array or torch tensor, e.g. a torch MLP's ``weights()``)."""
        params = {name: np.array(_numpy(t), dtype=dtype) for name, t in weights.items()}
        return cls(params, bn_momentum)

    def weights(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    def trained(self) -> dict[str, np.ndarray]:
        """The parameters gradient descent updates (not the running statistics)."""
        return {name: self.params[name] for name in TRAINED if name in self.params}

    def forward(self, X: np.ndarray, Y: np.ndarray | None = None, training: bool = True):
        """X (n, block) int -> (logits (n, V), mean loss or None, cache for ``backward``).

        In training, BatchNorm uses the batch statistics and updates its running ones."""
        p = self.params
        n = X.shape[0]
        emb, c_emb = embedding_forward(X, p["C.weight"])
        hpre, c_hidden = linear_forward(emb.reshape(n, -1), p["hidden.weight"].T, p.get("hidden.bias"))
        c_bn = None
        if self.batchnorm:
            hpre, c_bn = batchnorm_forward(
                hpre,
                p["bn.gamma"],
                p["bn.beta"],
                p[RUNNING[0]],
                p[RUNNING[1]],
                training=training,
                momentum=self.bn_momentum,
                eps=self.eps,
            )
        h, c_tanh = tanh_forward(hpre)
        logits, c_out = linear_forward(h, p["out.weight"].T, p["out.bias"])
        loss = c_loss = None
        if Y is not None:
            loss, c_loss = softmax_cross_entropy_forward(logits, Y)
        return logits, loss, (c_emb, c_hidden, c_bn, c_tanh, c_out, c_loss, emb.shape)

    def backward(self, cache) -> dict[str, np.ndarray]:
        """Gradients of the mean loss for every trained parameter, by name."""
        c_emb, c_hidden, c_bn, c_tanh, c_out, c_loss, emb_shape = cache
        g: dict[str, np.ndarray] = {}
        dlogits = softmax_cross_entropy_backward(1.0, c_loss)
        dh, dW2, g["out.bias"] = linear_backward(dlogits, c_out)
        g["out.weight"] = dW2.T
        dhpre = tanh_backward(dh, c_tanh)
        if c_bn is not None:
            dhpre, g["bn.gamma"], g["bn.beta"] = batchnorm_backward(dhpre, c_bn)
        dembcat, dW1, db1 = linear_backward(dhpre, c_hidden)
        g["hidden.weight"] = dW1.T
        if db1 is not None:
            g["hidden.bias"] = db1
        g["C.weight"] = embedding_backward(dembcat.reshape(emb_shape), c_emb)
        return g

    def train_step(self, X: np.ndarray, Y: np.ndarray, optimizer: SGD, lr: float | None = None) -> float:
        """Forward, backward and one optimizer step; returns the batch loss before the step."""
        _, loss, cache = self.forward(X, Y, training=True)
        optimizer.step(self.backward(cache), lr=lr)
        return float(loss)
