"""The calculator a model calls as a tool: arithmetic only, exact, bounded, never ``eval``.

``calculate("12*(3+4)")`` returns ``"84"``.  The expression is parsed by Python's ``ast``
into a tree, and the tree is walked here, allowing only:

* numbers written with digits (``12``, ``0.5``), no exponents, underscores or other bases;
* ``+``, ``-``, ``*`` (or ``×``), ``/`` (or ``÷``), unary ``-`` and ``+``, and parentheses.

Anything else (a name, a call, ``**``, a string, an attribute, a comparison) is not
arithmetic and is refused.  Sizes are bounded so a model cannot make the tool hang or eat
memory: the expression at most ``MAX_CHARS`` characters, every number and every partial
result at most ``MAX_DIGITS`` digits.  Arithmetic is exact (fractions); a result that is
not whole is written with up to ``DECIMALS`` decimals (``1/3`` -> ``0.333333``).

Every refusal is a ``ToolError``, one sentence; the generation loop shows it to the model as
the tool's output (``error: division by zero``) instead of stopping.
"""

from __future__ import annotations

import ast
import re
from fractions import Fraction

from glassgpt.errors import GlassError

MAX_CHARS = 200
MAX_DIGITS = 30
DECIMALS = 6
NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class ToolError(GlassError):
    """A tool call that cannot be carried out: not arithmetic, a division by zero, too large."""


def calculate(expression: str) -> str:
    """The value of an arithmetic expression, as text (see the module docstring)."""
    text = expression.replace("×", "*").replace("÷", "/").replace("−", "-").strip()
    if not text:
        raise ToolError("the tool call is empty; write an arithmetic expression such as 12+34.")
    if len(text) > MAX_CHARS:
        raise ToolError(f"the tool call is {len(text)} characters long, more than the {MAX_CHARS} allowed.")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError(f"the tool call {expression!r} is not arithmetic (numbers, + - × ÷ and parentheses).") from None
    return _format(_value(tree.body, expression))


def _value(node: ast.AST, expression: str) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _number(node, expression)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _value(node.operand, expression)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _value(node.left, expression), _value(node.right, expression)
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ToolError(f"the tool call {expression!r} divides by zero.")
            result = left / right
        elif isinstance(node.op, ast.Mult):
            result = left * right
        else:
            result = left + right if isinstance(node.op, ast.Add) else left - right
        return _bounded(result, expression)
    raise ToolError(f"the tool call {expression!r} is not arithmetic (numbers, + - × ÷ and parentheses).")


def _number(node: ast.Constant, expression: str) -> Fraction:
    """A literal as written: digits and at most one decimal point (no 1e5, 0x1F, 1_000)."""
    written = ast.get_source_segment(expression.replace("×", "*").replace("÷", "/").replace("−", "-").strip(), node)
    if written is None or NUMBER.fullmatch(written) is None:
        raise ToolError(f"the tool call {expression!r} has a number written in a way the calculator does not read.")
    return _bounded(Fraction(written), expression)


def _bounded(value: Fraction, expression: str) -> Fraction:
    if abs(value) >= 10**MAX_DIGITS or value.denominator >= 10**MAX_DIGITS:
        raise ToolError(f"the tool call {expression!r} gives a number of more than {MAX_DIGITS} digits.")
    return value


def _format(value: Fraction) -> str:
    """A whole number as an integer, else rounded to ``DECIMALS`` decimals (trailing zeros dropped)."""
    if value.denominator == 1:
        return str(value.numerator)
    scaled = round(value * 10**DECIMALS)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**DECIMALS)
    digits = f"{frac:0{DECIMALS}d}".rstrip("0")
    return f"{sign}{whole}" + (f".{digits}" if digits else "")
