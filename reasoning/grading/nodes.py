"""What the safe parser builds: answer structures, and sympy constructors with size guards.

Each constructor checks sizes before sympy computes, so `9^{9^{9^9}}`, `100000000!` or a
product of huge powers is refused with a reason instead of being evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

MAX_LITERAL = 300  # digits in one written number
MAX_DIGITS = 4000  # digits of any exact number sympy is asked to compute (str() stops at 4300)
MAX_EXPONENT = 10_000  # |n| in x^n, which keeps expansions and powers of radicals cheap
MAX_PLUS_MINUS = 4  # \pm signs in one expression (2^4 values)
MAX_MATRIX_WORK = 4096  # entry products in one matrix product (16 x 16 times 16 x 16)


class ParseError(ValueError):
    """Text outside the maths this parser accepts, or too large to build safely."""


@dataclass(frozen=True)
class Seq:
    """A comma list: `(a, b)`, `[a, b)`, `{a, b}` or a bare `a, b` (open and close empty)."""

    items: tuple
    open: str
    close: str


@dataclass(frozen=True)
class Union:
    """Intervals or sets joined by \\cup."""

    parts: tuple


@dataclass(frozen=True)
class Relation:
    """A chain `a op b op c` with ops among = < > <= >= != in."""

    ops: tuple
    parts: tuple


@dataclass(frozen=True)
class Difference:
    """A set difference `base \\setminus removed`, such as `\\mathbb{R} \\setminus \\{0\\}`."""

    base: object
    removed: object


@dataclass(frozen=True)
class Matrix:
    """A matrix as a tuple of rows (a column vector has rows of length one)."""

    rows: tuple


@dataclass(frozen=True)
class Parsed:
    """A parsed answer with what the comparison needs to know about how it was written."""

    node: object
    inexact: bool  # a decimal literal appeared, so the writer may have rounded
    percent: bool  # a % sign appeared
    plus_minus: tuple  # the Dummy symbols that stand for each \pm sign


def _expr(*nodes: object) -> None:
    """Refuse arithmetic on structures: (1, 2) + 3 is not an answer."""
    for node in nodes:
        if not isinstance(node, sp.Expr):
            raise ParseError("a tuple, set or relation used inside arithmetic")


def arith(op, a: object, b: object) -> sp.Expr | Matrix:
    """op(a, b) for sympy's Add or Mul, on expressions or matrices, within the size bounds."""
    if isinstance(a, Matrix) or isinstance(b, Matrix):
        return _matrix_arith(op, a, b)
    _expr(a, b)
    return _bounded(op(a, b))


def _matrix_arith(op, a: object, b: object) -> Matrix:
    """A sum or product of matrices, or a number times a matrix, entry by entry through arith."""
    if isinstance(a, Matrix) and isinstance(b, Matrix):
        rows_a, rows_b = a.rows, b.rows
        if op is sp.Add:
            if (len(rows_a), len(rows_a[0])) != (len(rows_b), len(rows_b[0])):
                raise ParseError("a sum of matrices of different shapes")
            return Matrix(tuple(tuple(map(_add, r, s)) for r, s in zip(rows_a, rows_b)))
        work = len(rows_a) * len(rows_b) * len(rows_b[0])
        if len(rows_a[0]) != len(rows_b) or work > MAX_MATRIX_WORK:
            raise ParseError("a product of matrices of mismatched or too large shapes")
        columns = list(zip(*rows_b))
        return Matrix(tuple(tuple(_dot(r, c) for c in columns) for r in rows_a))
    if op is sp.Add:
        raise ParseError("a number added to a matrix")
    scalar, matrix = (a, b) if isinstance(b, Matrix) else (b, a)
    _expr(scalar)
    return Matrix(tuple(tuple(arith(sp.Mul, scalar, x) for x in row) for row in matrix.rows))


def _add(x: object, y: object) -> sp.Expr:
    return arith(sp.Add, x, y)


def _dot(row: tuple, column: tuple) -> sp.Expr:
    total = sp.Integer(0)
    for x, y in zip(row, column):
        total = arith(sp.Add, total, arith(sp.Mul, x, y))
    return total


def _bounded(x: sp.Expr) -> sp.Expr:
    """Refuse an exact number with more than MAX_DIGITS digits (a product of huge powers)."""
    if x.is_Rational and max(x.p.bit_length(), x.q.bit_length()) > MAX_DIGITS * math.log2(10):
        raise ParseError("number too large")
    return x


def apply(fn, arg: object) -> sp.Expr:
    """A whitelisted sympy function applied to an expression; exp-like ones bounded like powers."""
    _expr(arg)
    if fn in (sp.exp, sp.sinh, sp.cosh) and arg.is_number and _magnitude(arg) > MAX_EXPONENT:
        raise ParseError("exponent too large")
    return fn(arg)


def _magnitude(x: sp.Expr) -> float:
    """|x| for a number, roughly; infinity when it cannot be evaluated."""
    try:
        return abs(complex(sp.N(x, 15)))
    except (TypeError, ValueError, OverflowError):
        return float("inf")


def _size(x: sp.Expr) -> float:
    """Decimal digits of a number's magnitude (numerator or denominator for rationals)."""
    if x.is_Rational:
        return max(math.log10(abs(x.p)) if x.p else 0.0, math.log10(x.q))
    magnitude = _magnitude(x)
    return abs(math.log10(magnitude)) if 0 < magnitude < float("inf") else float("inf")


def exponentiate(base: object, exp: object) -> sp.Expr:
    """base**exp, refused when the exact result would be enormous (9^{9^{9^9}})."""
    _expr(base, exp)
    if exp.is_number and exp != 1:  # e^{e^{e^{10}}} is refused here, before anything evaluates it
        size = abs(exp) if exp.is_Rational else _magnitude(exp)
        if size > MAX_EXPONENT:
            raise ParseError("exponent too large")
        if base.is_number and base not in (0, 1, -1) and _size(base) * size > MAX_DIGITS:
            raise ParseError("power too large")
        if base.is_Rational and not exp.is_Integer and _size(base) > 100:
            return sp.Pow(base, exp, evaluate=False)  # sympy would trial-divide a huge radicand
    return _bounded(sp.Pow(base, exp))


def _digits_of_factorial(n: float) -> float:
    """Decimal digits of n! (from log-gamma, without computing it)."""
    return math.lgamma(n + 1) / math.log(10)


def factorial(n: object) -> sp.Expr:
    """n!, refused when it would have more than MAX_DIGITS digits (100000000!)."""
    _expr(n)
    if n.is_number and (_magnitude(n) > 1e15 or _digits_of_factorial(_magnitude(n)) > MAX_DIGITS):
        raise ParseError("factorial too large")
    return sp.factorial(n)


def binomial(n: object, k: object) -> sp.Expr:
    """C(n, k), refused when it would have more than MAX_DIGITS digits."""
    _expr(n, k)
    if n.is_number and k.is_number:
        if _magnitude(n) > 1e15 or _magnitude(k) > 1e15:
            raise ParseError("binomial too large")
        if n.is_Integer and k.is_Integer and 0 <= k <= n:
            m, j = float(n), float(min(k, n - k))
            digits = _digits_of_factorial(m) - _digits_of_factorial(j) - _digits_of_factorial(m - j)
            if digits > MAX_DIGITS:
                raise ParseError("binomial too large")
    return sp.binomial(n, k)


def render(node: object) -> str:
    """A readable one-line form of a parsed answer."""
    if isinstance(node, Seq):
        return f"{node.open}{', '.join(map(render, node.items))}{node.close}"
    if isinstance(node, Union):
        return " U ".join(map(render, node.parts))
    if isinstance(node, Relation):
        out = render(node.parts[0])
        for op, part in zip(node.ops, node.parts[1:]):
            out += f" {op} {render(part)}"
        return out
    if isinstance(node, Difference):
        return f"{render(node.base)} \\ {render(node.removed)}"
    if isinstance(node, Matrix):
        return "Matrix(" + str([[render(x) for x in row] for row in node.rows]) + ")"
    return sp.sstr(node)
