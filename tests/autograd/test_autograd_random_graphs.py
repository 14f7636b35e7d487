"""Random expression graphs, built by hypothesis, against PyTorch float64.

Each example grows a pool of nodes from a few leaves; every new node applies a random
op to operands drawn from the whole pool, so nodes are routinely reused (a*a, a node
feeding several later ones).  The same program runs on torch tensors, and every
node's value and gradient must agree.
"""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from glassgpt.autograd import Value

LIMIT = 1e4  # keep every value in a range where float64 rounding stays far below the tolerance

UNARY = ["neg", "exp", "log", "tanh", "relu", "pow2", "pow3", "pow-1", "pow0.5", "radd", "rsub", "rmul", "rdiv"]
BINARY = ["add", "sub", "mul", "div"]


def valid(op, a, b):
    """Whether op stays in its domain and in range for these operand values."""
    if op == "exp":
        return abs(a) < 5
    if op == "log" or op == "pow0.5":
        return a > 1e-2
    if op in ("pow-1", "rdiv"):
        return abs(a) > 0.1
    if op == "div":
        return abs(b) > 0.1 and abs(a / b) < LIMIT
    if op == "pow2":
        return a * a < LIMIT
    if op == "pow3":
        return abs(a) ** 3 < LIMIT
    if op == "mul":
        return abs(a * b) < LIMIT
    if op in ("add", "sub"):
        return abs(a) + abs(b) < LIMIT
    return True


def apply(op, a, b, lib):
    """The op on engine Values (lib='v') or torch tensors (lib='t')."""
    fn = {
        "neg": lambda: -a,
        "pow2": lambda: a**2,
        "pow3": lambda: a**3,
        "pow-1": lambda: a**-1,
        "pow0.5": lambda: a**0.5,
        "radd": lambda: 1.5 + a,
        "rsub": lambda: 1.5 - a,
        "rmul": lambda: -0.75 * a,
        "rdiv": lambda: 0.5 / a,
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
    }
    if op in fn:
        return fn[op]()
    if lib == "v":
        return getattr(a, op)()
    return getattr(torch, op)(a)


def leaf(x):
    return Value(x), torch.tensor(x, dtype=torch.float64, requires_grad=True)


def compare(nodes, tnodes, root, troot):
    for t in tnodes:
        if not t.is_leaf:
            t.retain_grad()
    root.backward()
    troot.backward()
    scale = 1.0 + max(abs(n.grad) for n in nodes)
    for k, (n, t) in enumerate(zip(nodes, tnodes)):
        # Same float64 formulas; the only differences are libm ulps in exp/log/tanh/pow and
        # the order in which several paths' contributions are summed.  Over graphs this
        # size that is ~1e-13 of the largest gradient; 1e-9 of it is a tight, safe bound.
        assert math.isclose(n.data, t.item(), rel_tol=1e-9, abs_tol=1e-9), f"data of node {k}"
        tg = 0.0 if t.grad is None else t.grad.item()
        assert abs(n.grad - tg) <= 1e-9 * scale, f"grad of node {k}: {n.grad} vs {tg}"


finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_graph_with_reused_nodes_matches_pytorch(data):
    pairs = [leaf(x) for x in data.draw(st.lists(finite, min_size=1, max_size=4), label="leaves")]
    nodes, tnodes = [p[0] for p in pairs], [p[1] for p in pairs]
    n_ops = data.draw(st.integers(1, 30), label="n_ops")
    for _ in range(n_ops):
        op = data.draw(st.sampled_from(UNARY + BINARY), label="op")
        i = data.draw(st.integers(0, len(nodes) - 1), label="i")
        j = data.draw(st.integers(0, len(nodes) - 1), label="j") if op in BINARY else i
        if not valid(op, nodes[i].data, nodes[j].data):
            op = "tanh"  # always defined, keeps the graph growing
            j = i
        nodes.append(apply(op, nodes[i], nodes[j], "v"))
        tnodes.append(apply(op, tnodes[i], tnodes[j], "t"))
    # the root uses every node, with distinct weights, so every gradient is exercised
    root, troot = Value(0.0), torch.zeros((), dtype=torch.float64)
    for k, (n, t) in enumerate(zip(nodes, tnodes)):
        w = 1.0 / (k + 1)
        root, troot = root + w * n, troot + w * t
    compare(nodes, tnodes, root, troot)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_random_deep_chain_matches_pytorch(data):
    v, t = leaf(data.draw(finite, label="x"))
    nodes, tnodes = [v], [t]
    depth = data.draw(st.integers(50, 400), label="depth")
    for _ in range(depth):
        op = data.draw(st.sampled_from(UNARY + BINARY), label="op")
        # mostly extend the chain; a binary op also reaches back to an earlier node (a skip)
        j = data.draw(st.integers(0, len(nodes) - 1), label="skip") if op in BINARY else -1
        a, b = nodes[-1], nodes[j]
        if not valid(op, a.data, b.data):
            op = "tanh"
        nodes.append(apply(op, a, b, "v"))
        tnodes.append(apply(op, tnodes[-1], tnodes[j], "t"))
    compare(nodes, tnodes, nodes[-1], tnodes[-1])


def test_one_node_used_many_times():
    a, ta = leaf(0.7)
    uses = [a * k for k in range(1, 11)] + [a.tanh(), a * a, a / (a + 3)]
    tuses = [ta * k for k in range(1, 11)] + [torch.tanh(ta), ta * ta, ta / (ta + 3)]
    root, troot = sum(uses, Value(0.0)), sum(tuses, torch.zeros((), dtype=torch.float64))
    root.backward()
    troot.backward()
    # a receives 13 contributions; summed in a different order than PyTorch's, so a few ulps
    assert math.isclose(a.grad, ta.grad.item(), rel_tol=1e-12)
    assert a.grad > 55  # sum(1..10) = 55 from the linear uses alone
