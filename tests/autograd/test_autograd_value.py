"""The scalar Value engine: every op against PyTorch float64 and finite differences,
the worked neuron, backward() semantics and the error cases."""

import math
import re
import sys

import pytest
import torch

from glassgpt.autograd import Value


def torch_leaf(x):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


# ----------------------------------------------------------------------------- worked neuron
def test_worked_neuron_matches_pytorch_to_1e_12():
    vals = dict(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.8813735870195432)
    v = {k: Value(x, label=k) for k, x in vals.items()}
    o = (v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]).tanh()
    o.backward()

    t = {k: torch_leaf(x) for k, x in vals.items()}
    ot = torch.tanh(t["x1"] * t["w1"] + t["x2"] * t["w2"] + t["b"])
    ot.backward()

    # same float64 arithmetic in the same order; only libm's tanh may differ by an ulp or two
    assert o.data == pytest.approx(ot.item(), abs=1e-12)
    assert o.data == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    for k in vals:
        assert v[k].grad == pytest.approx(t[k].grad.item(), abs=1e-12), k
    expected = dict(x1=-1.5, w1=1.0, x2=0.5, w2=0.0, b=0.5)  # the curriculum's printed grads
    for k, g in expected.items():
        assert v[k].grad == pytest.approx(g, abs=1e-12), k


# ----------------------------------------------------------------------------- every op
# (name, engine function, torch function, points); each function takes a tuple of inputs.
OPS = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(1.5, -2.25), (0.0, 3.0)]),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [(1.5, -2.25), (-4.0, 0.5)]),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [(1.5, -2.25), (0.0, 3.0)]),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [(1.5, -2.25), (-3.0, 0.7)]),
    ("radd", lambda a: 2 + a, lambda a: 2 + a, [(0.3,), (-1.7,)]),
    ("rsub", lambda a: 2 - a, lambda a: 2 - a, [(0.3,), (-1.7,)]),
    ("rmul", lambda a: 2 * a, lambda a: 2 * a, [(0.3,), (-1.7,)]),
    ("rdiv", lambda a: 2 / a, lambda a: 2 / a, [(0.3,), (-1.7,)]),
    ("pow2", lambda a: a**2, lambda a: a**2, [(1.3,), (-0.8,)]),
    ("pow3", lambda a: a**3, lambda a: a**3, [(1.3,), (-0.8,)]),
    ("pow-1", lambda a: a**-1, lambda a: a**-1, [(1.3,), (-0.8,)]),
    ("pow0.5", lambda a: a**0.5, lambda a: a**0.5, [(1.3,), (0.2,)]),
    ("pow-2.5", lambda a: a**-2.5, lambda a: a**-2.5, [(1.3,), (0.6,)]),
    ("neg", lambda a: -a, lambda a: -a, [(1.3,), (-0.8,)]),
    ("exp", lambda a: a.exp(), torch.exp, [(1.3,), (-2.5,)]),
    ("log", lambda a: a.log(), torch.log, [(1.3,), (0.05,)]),
    ("tanh", lambda a: a.tanh(), torch.tanh, [(0.4,), (-1.9,)]),
    ("relu", lambda a: a.relu(), torch.relu, [(0.4,), (-1.9,)]),
    # a node used twice: its two contributions must be summed (the += in backward)
    ("reuse a*a", lambda a: a * a, lambda a: a * a, [(1.7,), (-0.6,)]),
    ("reuse a+a", lambda a: a + a, lambda a: a + a, [(1.7,)]),
    ("reuse a/a", lambda a: a / a, lambda a: a / a, [(1.7,)]),
    ("reuse tanh(a)*a-a", lambda a: a.tanh() * a - a, lambda a: torch.tanh(a) * a - a, [(0.9,)]),
]
CASES = [pytest.param(fn, tfn, pt, id=f"{name}{pt}") for name, fn, tfn, pts in OPS for pt in pts]


def engine_value_and_grads(fn, point):
    xs = [Value(x) for x in point]
    out = fn(*xs)
    out.backward()
    return out.data, [x.grad for x in xs]


@pytest.mark.parametrize("fn, tfn, point", CASES)
def test_op_matches_pytorch_float64(fn, tfn, point):
    data, grads = engine_value_and_grads(fn, point)
    ts = [torch_leaf(x) for x in point]
    out = tfn(*ts)
    out.backward()
    # Both sides are float64 evaluations of the same formula, so they agree to a few
    # ulps; 1e-12 relative (values here are O(1..100)) leaves room only for rounding.
    assert data == pytest.approx(out.item(), rel=1e-12, abs=1e-12)
    for g, t in zip(grads, ts):
        assert g == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("fn, tfn, point", CASES)
def test_op_matches_central_finite_difference(fn, tfn, point):
    _, grads = engine_value_and_grads(fn, point)
    h = 1e-6
    for i in range(len(point)):
        up = list(point)
        up[i] += h
        down = list(point)
        down[i] -= h
        fd = (fn(*map(Value, up)).data - fn(*map(Value, down)).data) / (2 * h)
        # central difference error: truncation ~ h^2/6 |f'''| (< 1e-9 at these points)
        # plus rounding ~ eps |f| / h (~ 1e-9 for |f| < 10); 1e-6 relative is well above
        # both, and far below any real mistake (a wrong local derivative is off by O(1)).
        assert grads[i] == pytest.approx(fd, rel=1e-6, abs=1e-6), f"input {i}"


def test_relu_at_zero_has_zero_slope_like_pytorch():
    a = Value(0.0)
    a.relu().backward()
    t = torch_leaf(0.0)
    torch.relu(t).backward()
    assert a.grad == t.grad.item() == 0.0


def test_plain_numbers_are_wrapped_on_either_side():
    a = Value(3.0)
    assert (a + 1).data == (1 + a).data == 4.0
    assert (a - 1).data == 2.0 and (1 - a).data == -2.0
    assert (a * 2).data == (2 * a).data == 6.0
    assert (a / 2).data == 1.5 and (6 / a).data == 2.0
    with pytest.raises(TypeError, match="cannot combine"):
        a + "1"


# ----------------------------------------------------------------------------- error cases
@pytest.mark.parametrize("x", [0.0, -2.5])
def test_log_of_non_positive_raises_and_names_the_value(x):
    with pytest.raises(ValueError, match=re.escape(f"log({x!r})")):
        Value(x).log()


def test_value_exponent_raises_type_error():
    with pytest.raises(TypeError, match="int or float exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="not supported"):
        2 ** Value(3.0)


def test_division_by_zero_value_is_a_clear_error():
    with pytest.raises(ZeroDivisionError, match="undefined"):
        Value(1.0) / Value(0.0)


def test_negative_base_fractional_exponent_is_a_clear_error():
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** (1 / 3)


# ----------------------------------------------------------------------------- tanh stability
@pytest.mark.parametrize("x", [1000.0, -1000.0, 30.0, -30.0])
def test_tanh_of_large_inputs_does_not_overflow(x):
    a = Value(x)
    o = a.tanh()
    o.backward()
    t = torch_leaf(x)
    torch.tanh(t).backward()
    assert o.data == math.copysign(1.0, x)  # saturated exactly, no nan
    assert math.isfinite(a.grad)
    # 1 - tanh^2 underflows to exactly 0 here (tanh(30) rounds to 1.0), as in PyTorch
    assert a.grad == t.grad.item() == 0.0


# ----------------------------------------------------------------------------- backward semantics
def test_backward_on_a_100000_node_chain_does_not_recurse():
    x = Value(0.5, label="x")
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0  # two nodes (and a constant each) per step
    assert len(y.topological_order()) > 100_000
    assert sys.getrecursionlimit() < 100_000  # so a recursive walk would have failed
    y.backward()
    assert x.grad == 1.0
    y = None  # freeing the deep chain must not crash either


def test_second_backward_without_zero_grad_doubles_every_grad():
    a, b = Value(1.5), Value(-0.5)
    c = a * b + a  # a is used twice
    d = c.tanh()
    d.backward()
    first = [n.grad for n in (a, b, c, d)]
    d.backward()
    assert [n.grad for n in (a, b, c, d)] == [2 * g for g in first]
    assert d.grad == 2.0  # the root's own gradient accumulates too


def test_zero_grad_resets_the_whole_graph_below():
    a, b = Value(1.5), Value(-0.5)
    d = (a * b + a).tanh()
    d.backward()
    assert a.grad != 0.0
    d.zero_grad()
    assert all(n.grad == 0.0 for n in d.topological_order())
    d.backward()
    t_a, t_b = torch_leaf(1.5), torch_leaf(-0.5)
    torch.tanh(t_a * t_b + t_a).backward()
    # after zero_grad the next backward is a fresh one: same result as PyTorch
    assert a.grad == pytest.approx(t_a.grad.item(), abs=1e-12)
    assert b.grad == pytest.approx(t_b.grad.item(), abs=1e-12)


def test_topological_order_puts_children_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = e.topological_order()
    pos = {id(n): i for i, n in enumerate(order)}
    assert len(order) == 5 and order[-1] is e
    for node in order:
        for child in node._prev:
            assert pos[id(child)] < pos[id(node)]


def test_constructor_rejects_children_without_local_derivatives():
    with pytest.raises(ValueError, match="one local derivative per child"):
        Value(1.0, (Value(2.0),), "?")
