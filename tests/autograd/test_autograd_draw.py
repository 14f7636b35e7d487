"""to_dot (always available) and render (needs Graphviz's dot, fails clearly without it)."""

import re
import shutil

import pytest

from glassgpt.autograd import GraphvizNotFoundError, Value, render, to_dot
from glassgpt.errors import ConfigError, GlassError


def neuron():
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    x2, w2 = Value(0.0, label="x2"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.label = "o"
    o.backward()
    return o


def test_to_dot_has_every_node_with_data_and_grad():
    o = neuron()
    text = to_dot(o)
    nodes = o.topological_order()
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    records = re.findall(
        r'^\s*(v\d+) \[shape=record, label="\{ (.*?) \| data (\S+) \| grad (\S+) \}"\];', text, flags=re.M
    )
    assert len(records) == len(nodes) == 10
    by_label = {label.strip(): (float(d), float(g)) for _, label, d, g in records}
    for name, grad in {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5, "o": 1.0}.items():
        assert by_label[name][1] == pytest.approx(grad, abs=1e-4)
    assert by_label["o"][0] == pytest.approx(0.7071, abs=1e-4)
    # one op node per computed Value (2 *, 2 +, tanh), one edge per operand
    ops = re.findall(r'_op \[shape=ellipse, label="(.*?)"\]', text)
    assert sorted(ops) == ["*", "*", "+", "+", "tanh"]
    n_edges = sum(len(n._prev) for n in nodes) + len(ops)
    assert text.count("->") == n_edges


def test_to_dot_escapes_record_characters_and_is_deterministic():
    a = Value(1.0, label='a|{b}<"c">')
    c = a * a
    text = to_dot(c)
    assert r"a\|\{b\}\<\"c\"\>" in text
    assert to_dot(c) == text


def test_render_without_dot_raises_a_clear_glass_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    target = tmp_path / "g.svg"
    with pytest.raises(GraphvizNotFoundError, match="install graphviz") as info:
        render(neuron(), target)
    assert isinstance(info.value, GlassError)
    assert not target.exists()


def test_render_rejects_unknown_format(tmp_path):
    with pytest.raises(ConfigError, match="choose one of: svg, png"):
        render(neuron(), tmp_path / "g.pdf", format="pdf")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("fmt, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_render_writes_a_picture_when_dot_exists(tmp_path, fmt, magic):
    target = tmp_path / f"g.{fmt}"
    assert render(neuron(), target, format=fmt) == target
    data = target.read_bytes()
    assert magic in data[:400]
    if fmt == "svg":
        assert b"tanh" in data and b"0.7071" in data
