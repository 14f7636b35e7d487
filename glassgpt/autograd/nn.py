"""A tiny neural-network library on top of :class:`~glassgpt.autograd.value.Value`.

``Neuron`` computes ``tanh(w . x + b)`` (or just ``w . x + b`` when ``nonlin=False``);
a ``Layer`` is a list of neurons that all read the same input; an ``MLP`` is a stack of
layers in which every hidden layer uses tanh and the last layer is linear, so the
network can output any real number.

Initialisation is deterministic: weights and biases are drawn uniformly from
[-1, 1] with one ``random.Random(seed)`` shared by the whole network, so the same
seed always gives the same network.

Example -- one step of gradient descent::

    >>> net = MLP(3, [4, 4, 1], seed=0)
    >>> loss = (net([2.0, 3.0, -1.0]) - 1.0) ** 2
    >>> net.zero_grad(); loss.backward()
    >>> for p in net.parameters():
    ...     p.data -= 0.05 * p.grad
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from glassgpt.autograd.value import Value


class Module:
    """Anything with parameters: gives ``zero_grad()`` to every subclass."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0 (call it before each ``backward()``)."""
        for p in self.parameters():
            p.grad = 0.0


def _rng(rng: random.Random | None, seed: int) -> random.Random:
    return rng if rng is not None else random.Random(seed)


class Neuron(Module):
    """``nin`` weights and a bias; ``__call__(x)`` returns ``tanh(sum_i w_i x_i + b)``.

    Args:
        nin: number of inputs.
        nonlin: apply tanh (True) or stay linear (False).
        rng: the random generator to draw the initial weights from; when None, a
            fresh ``random.Random(seed)`` is used.
        seed: used only when ``rng`` is None.
    """

    def __init__(self, nin: int, nonlin: bool = True, rng: random.Random | None = None, seed: int = 0):
        if nin < 1:
            raise ValueError(f"a Neuron needs at least one input, got nin={nin}.")
        rng = _rng(rng, seed)
        self.w = [Value(rng.uniform(-1.0, 1.0), label=f"w{i}") for i in range(nin)]
        self.b = Value(rng.uniform(-1.0, 1.0), label="b")
        self.nonlin = nonlin

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this Neuron takes {len(self.w)} inputs, got {len(x)}.")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'Tanh' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs.

    ``__call__(x)`` returns a list of ``nout`` Values, or the single Value itself
    when ``nout == 1`` (handy for a network with one output).
    """

    def __init__(self, nin: int, nout: int, nonlin: bool = True, rng: random.Random | None = None, seed: int = 0):
        rng = _rng(rng, seed)
        self.neurons = [Neuron(nin, nonlin=nonlin, rng=rng) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer([{', '.join(str(n) for n in self.neurons)}])"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(3, [4, 4, 1])`` maps 3 inputs through two
    hidden tanh layers of 4 neurons to one linear output.

    Args:
        nin: number of inputs.
        nouts: the width of each layer, the last one being the output layer.
        seed: seeds the one ``random.Random`` that initialises every parameter.
    """

    def __init__(self, nin: int, nouts: Sequence[int], seed: int = 0):
        if not nouts:
            raise ValueError("an MLP needs at least one layer, e.g. MLP(3, [4, 4, 1]).")
        rng = random.Random(seed)
        sizes = [nin] + list(nouts)
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=(i != last), rng=rng) for i in range(len(nouts))]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
            if isinstance(x, Value):
                x = [x]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
