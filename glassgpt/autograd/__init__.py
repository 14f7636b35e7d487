"""Scalar autograd: a ``Value`` engine, a tiny neural-net library and graph drawing.

This is the smallest complete backpropagation engine: every number is a
:class:`Value` node that records its operands and local derivatives, and
``backward()`` applies the chain rule through the whole graph.  It is slow (pure
Python, one float per node) and exists to be read; the NumPy engine in
``glassgpt.glass`` and the PyTorch models do the same thing a tensor at a time.
"""

from glassgpt.autograd.draw import GraphvizNotFoundError, render, to_dot
from glassgpt.autograd.nn import MLP, Layer, Module, Neuron
from glassgpt.autograd.value import Value

__all__ = ["Value", "Module", "Neuron", "Layer", "MLP", "to_dot", "render", "GraphvizNotFoundError"]
