"""Draw a Value's computation graph: DOT text always, SVG/PNG through Graphviz.

Each Value becomes a box showing ``label | data | grad``; each operation becomes a
small oval (``+``, ``*``, ``tanh`` ...) with arrows from its operands into it and
from it into its result, so the picture reads left to right like the forward pass
and the ``grad`` fields show what ``backward()`` sent back.

``to_dot`` needs nothing but Python.  ``render`` runs Graphviz's ``dot`` program;
when it is not installed it raises :class:`GraphvizNotFoundError` with install
instructions instead of a traceback.

Example::

    >>> from glassgpt.autograd import Value, render, to_dot
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b; c.label = "c"; c.backward()
    >>> print(to_dot(c))                      # doctest: +SKIP
    >>> render(c, "graph.svg")                # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from glassgpt.autograd.value import Value
from glassgpt.errors import ConfigError, GlassError
from glassgpt.fileio import atomic_write_bytes

FORMATS = ("svg", "png")


class GraphvizNotFoundError(GlassError):
    """Graphviz's ``dot`` program is needed to render a picture and is not installed."""


def _escape(text: str) -> str:
    """Escape the characters that have a meaning inside a DOT record label."""
    for ch in '\\"{}|<>':
        text = text.replace(ch, "\\" + ch)
    return text


def to_dot(root: Value, rankdir: str = "LR") -> str:
    """The Graphviz DOT text of the graph below ``root``.

    Nodes are numbered in topological order (inputs first), so the same graph
    always gives the same text.  A Value node is named ``v<k>``, the operation
    that produced it ``v<k>_op``.
    """
    order = root.topological_order()
    name = {id(node): f"v{k}" for k, node in enumerate(order)}
    lines = [
        "digraph autograd {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=11];',
    ]
    for node in order:
        n = name[id(node)]
        label = _escape(node.label) if node.label else " "
        lines.append(f'  {n} [shape=record, label="{{ {label} | data {node.data:.4f} | grad {node.grad:.4f} }}"];')
        if node._op:
            lines.append(f'  {n}_op [shape=ellipse, label="{_escape(node._op)}"];')
            lines.append(f"  {n}_op -> {n};")
    for node in order:
        for child in node._prev:
            lines.append(f"  {name[id(child)]} -> {name[id(node)]}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(root: Value, path: str | os.PathLike, format: str = "svg") -> Path:
    """Draw the graph below ``root`` into ``path`` (SVG or PNG) with Graphviz's ``dot``.

    The file is written atomically (never half a picture).  Returns the path.

    Raises:
        GraphvizNotFoundError: ``dot`` is not on the PATH.
        ConfigError: ``format`` is neither "svg" nor "png".
        GlassError: ``dot`` ran but failed.
    """
    if format not in FORMATS:
        raise ConfigError(f"cannot render format {format!r}; choose one of: {', '.join(FORMATS)}.")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "Graphviz's 'dot' program is not installed, so the graph cannot be rendered; install "
            "graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz) "
            "or use to_dot() to get the DOT text."
        )
    try:
        proc = subprocess.run(
            [dot, f"-T{format}"], input=to_dot(root).encode("utf-8"), capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GlassError(f"Graphviz's 'dot' could not be run ({exc}); check the graphviz installation.") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GlassError(
            f"Graphviz's 'dot' failed to render {format} ({detail[0] if detail else 'no message'}); "
            "check the graphviz installation."
        )
    path = Path(path)
    atomic_write_bytes(path, proc.stdout)
    return path
