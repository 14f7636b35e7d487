"""A scalar that remembers how it was computed, so it can compute its own gradient.

Every arithmetic operation on a :class:`Value` returns a new ``Value`` that keeps

* ``data``         -- the number itself (a Python float),
* ``_prev``        -- the operands it was computed from (its *children* in the graph),
* ``_op``          -- a short name of the operation (``"+"``, ``"*"``, ``"tanh"`` ...),
* ``_local_grads`` -- for each child, the *local derivative* d(this)/d(child),
  worked out at forward time while the inputs are at hand.

``backward()`` then applies the chain rule through the whole graph in one sweep:
walking from the output towards the inputs, each node passes its gradient to its
children, multiplied by the local derivative::

    child.grad += local_derivative * node.grad

The ``+=`` matters: a value used in several places receives one contribution from
each use, and the total is the true derivative (the multivariable chain rule).

Example -- one tanh neuron (the worked check of the curriculum)::

    >>> x1, w1, x2, w2 = Value(2.0), Value(-3.0), Value(0.0), Value(1.0)
    >>> b = Value(6.8813735870195432)
    >>> o = (x1 * w1 + x2 * w2 + b).tanh()
    >>> o.backward()
    >>> round(o.data, 4), round(x1.grad, 4), round(w1.grad, 4)
    (0.7071, -1.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real


def _as_value(x: Value | float | int) -> Value:
    """Wrap a plain number as a constant Value; pass a Value through untouched."""
    if isinstance(x, Value):
        return x
    if isinstance(x, Real):
        return Value(float(x))
    raise TypeError(f"cannot combine a Value with {type(x).__name__} {x!r}; use a number or a Value.")


class Value:
    """One scalar node of a computation graph, with its gradient.

    Args:
        data: the number (converted to float).
        _children: the Values this one was computed from (set by the operators).
        _op: the name of the operation that produced it (set by the operators).
        label: an optional human name, shown by :func:`glassgpt.autograd.draw.to_dot`.
        _local_grads: d(self)/d(child) for each child, in the same order (set by the operators).
    """

    __slots__ = ("data", "grad", "_prev", "_op", "_local_grads", "label")

    def __init__(
        self, data, _children: Iterable[Value] = (), _op: str = "", label: str = "", _local_grads: Iterable[float] = ()
    ):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._local_grads = tuple(float(g) for g in _local_grads)
        self.label = label
        if len(self._prev) != len(self._local_grads):
            raise ValueError("a Value needs exactly one local derivative per child.")

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------------------ binary operators
    def __add__(self, other) -> Value:
        other = _as_value(other)
        # d(a+b)/da = 1, d(a+b)/db = 1
        return Value(self.data + other.data, (self, other), "+", _local_grads=(1.0, 1.0))

    def __mul__(self, other) -> Value:
        other = _as_value(other)
        # d(a*b)/da = b, d(a*b)/db = a
        return Value(self.data * other.data, (self, other), "*", _local_grads=(other.data, self.data))

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value) or not isinstance(exponent, Real) or isinstance(exponent, bool):
            raise TypeError(
                f"Value ** exponent needs an int or float exponent, got {type(exponent).__name__}; "
                "for a Value exponent write (base.log() * exponent).exp()."
            )
        x, n = self.data, float(exponent)
        if x == 0.0 and n < 0:
            raise ZeroDivisionError(f"0.0 ** {exponent} is undefined (division by zero).")
        out = x**n
        if isinstance(out, complex):
            raise ValueError(f"{x!r} ** {exponent} is not a real number (negative base, fractional exponent).")
        # d(x**n)/dx = n * x**(n-1); at x = 0 with 0 < n < 1 the slope is infinite
        if n == 0.0:
            local = 0.0
        elif x == 0.0 and n < 1.0:
            local = math.inf
        else:
            local = n * x ** (n - 1.0)
        return Value(out, (self,), f"**{exponent:g}", _local_grads=(local,))

    def __neg__(self) -> Value:
        # d(-a)/da = -1
        return Value(-self.data, (self,), "neg", _local_grads=(-1.0,))

    def __sub__(self, other) -> Value:  # a - b = a + (-b)
        return self + (-_as_value(other))

    def __truediv__(self, other) -> Value:  # a / b = a * b**-1
        return self * _as_value(other) ** -1

    # reflected forms, so a plain number may stand on the left: 2 + v, 2 - v, 2 * v, 2 / v
    def __radd__(self, other) -> Value:
        return _as_value(other) + self

    def __rsub__(self, other) -> Value:
        return _as_value(other) - self

    def __rmul__(self, other) -> Value:
        return _as_value(other) * self

    def __rtruediv__(self, other) -> Value:
        return _as_value(other) / self

    def __rpow__(self, base):
        raise TypeError("number ** Value is not supported; write (Value(base).log() * exponent).exp().")

    # ------------------------------------------------------------------ unary functions
    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({self.data!r}) is too large for a float.") from None
        # d(e^x)/dx = e^x
        return Value(e, (self,), "exp", _local_grads=(e,))

    def log(self) -> Value:
        if self.data <= 0.0:
            raise ValueError(f"log is only defined for positive numbers, got log({self.data!r}).")
        # d(ln x)/dx = 1/x
        return Value(math.log(self.data), (self,), "log", _local_grads=(1.0 / self.data,))

    def tanh(self) -> Value:
        # math.tanh never overflows (tanh(1000) is exactly 1.0); the textbook formula
        # (e^2x - 1)/(e^2x + 1) would compute e^2000 = inf and give inf/inf = nan.
        t = math.tanh(self.data)
        # d(tanh x)/dx = 1 - tanh(x)^2
        return Value(t, (self,), "tanh", _local_grads=(1.0 - t * t,))

    def relu(self) -> Value:
        # slope 1 where x > 0, else 0 (also at x == 0, as PyTorch does)
        return Value(max(self.data, 0.0), (self,), "relu", _local_grads=(1.0 if self.data > 0 else 0.0,))

    # ------------------------------------------------------------------ the graph
    def topological_order(self) -> list[Value]:
        """Every node of the graph below ``self``, each after all of its children.

        Built with an explicit stack instead of recursion, so a graph 100,000 nodes
        deep works (a recursive walk hits Python's recursion limit near 1,000).
        Each stack entry is ``(node, children_done)``: a node is first expanded
        (its unvisited children pushed on top of it) and emitted the second time it
        is popped, when everything above it -- its whole subgraph -- is finished.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for child in node._prev:
                if id(child) not in visited:
                    stack.append((child, False))
        return order

    def backward(self) -> None:
        """Add d(self)/d(node) to ``node.grad`` for every node of the graph, self included.

        The root is seeded with d(self)/d(self) = 1.0; nodes are then visited from
        the output back to the inputs (reverse topological order), so a node's
        gradient is complete before it is handed on to its children.

        Gradients *accumulate*: this pass's derivatives are added (``+=``) to whatever
        ``.grad`` already holds.  Calling ``backward()`` twice without
        :meth:`zero_grad` in between therefore leaves every ``.grad`` -- the root's
        included -- exactly doubled.  That is what lets a training loop sum gradients
        over several losses, and why it must call ``zero_grad()`` before each step.
        """
        order = self.topological_order()
        # this pass's gradients, kept apart from .grad so old values never leak into the sweep
        pass_grad: dict[int, float] = {id(node): 0.0 for node in order}
        pass_grad[id(self)] = 1.0
        for node in reversed(order):
            g = pass_grad[id(node)]
            for child, local in zip(node._prev, node._local_grads):
                pass_grad[id(child)] += local * g  # chain rule; += sums over every use
        for node in order:
            node.grad += pass_grad[id(node)]

    def zero_grad(self) -> None:
        """Reset ``.grad`` to 0.0 on this node and every node below it."""
        for node in self.topological_order():
            node.grad = 0.0
