"""The LaTeX commands and environments of the safe parser (`latex`): each builds its node
through the size-guarded constructors of `nodes`, from a whitelist; anything else is refused.

The functions take the parser as their first argument (the recursive descent's state: the
tokens and the position), so the grammar reads in one file and the commands in this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from reasoning.grading.nodes import Matrix, ParseError, Seq, apply, arith, binomial, exponentiate
from reasoning.grading.tokens import CONSTANTS, FUNCTIONS, GREEK, MARKED, MATRICES

if TYPE_CHECKING:
    from reasoning.grading.latex import LatexParser


def command(parser: LatexParser) -> object:
    """A LaTeX command after its backslash: fractions, roots, binomials, floors, logs, functions,
    constants, Greek letters and other named symbols, accented variables, angles, the empty set,
    the reals, and matrices."""
    name = parser.take()[1:]
    if name == "frac":
        num = parser.argument()
        return arith(sp.Mul, num, exponentiate(parser.argument(), sp.Integer(-1)))
    if name == "sqrt":
        index = None
        if parser.peek() == "[":
            parser.take()
            index = parser.expr()
            parser.expect("]")
        radicand = parser.argument()
        root = sp.Rational(1, 2) if index is None else exponentiate(index, sp.Integer(-1))
        return exponentiate(radicand, root)
    if name == "binom":
        return binomial(parser.argument(), parser.argument())
    if name in ("lfloor", "lceil"):
        inner = parser.expr()
        parser.expect(r"\rfloor" if name == "lfloor" else r"\rceil")
        return apply(sp.floor if name == "lfloor" else sp.ceiling, inner)
    if name == "log" and parser.peek() == "_":
        parser.take()
        base = parser.argument()
        return apply(lambda x: sp.log(x, base), parser.function_argument())
    if name in FUNCTIONS:
        return parser.function(FUNCTIONS[name])
    if name in CONSTANTS:
        return CONSTANTS[name]
    if name in GREEK or name == "hbar":
        return sp.Symbol(name)
    if name in MARKED:
        return marked(parser, name)
    if name == "angle":
        return angle(parser)
    if name in ("emptyset", "varnothing"):
        return Seq((), "{", "}")
    if name == "mathbb" and parser.argument() == sp.Symbol("R"):
        return Seq((-sp.oo, sp.oo), "(", ")")
    if name == "begin":
        return matrix(parser)
    raise ParseError(f"unsupported command \\{name}")


def marked(parser: LatexParser, accent: str) -> sp.Symbol:
    """\\dot{x}, \\ddot{\\theta}: a variable of its own; \\dot{x_0} and \\dot{x}_0 are one."""
    variable = parser.argument()
    if not isinstance(variable, sp.Symbol):
        raise ParseError(f"\\{accent} on something other than a variable")
    base, underscore, subscript = variable.name.partition("_")
    return sp.Symbol(f"\\{accent}{{{base}}}{underscore}{subscript}")


def angle(parser: LatexParser) -> sp.Symbol:
    """\\angle ABC, \\angle B E A_{1}: the angle at its named points, a variable; an angle of
    three points reads the same both ways (ABC is CBA)."""
    points = []
    while parser.kind() == "word" and len(parser.peek()) == 1:
        point = parser.take()
        if parser.peek() == "_":
            parser.take()
            point += "_" + parser.subscript()
        points.append(point)
    if not points:
        raise ParseError("\\angle without the points that name it")
    if len(points) == 3:
        points = min(points, points[::-1])
    return sp.Symbol("\\angle " + " ".join(points))


def environment_name(parser: LatexParser) -> str:
    """The name of a \\begin{...} or \\end{...} environment."""
    parser.expect("{")
    name = []
    while parser.peek() not in ("}", None):
        name.append(parser.take())
    parser.expect("}")
    return "".join(name)

def matrix(parser: LatexParser) -> Matrix:
    """A matrix environment (pmatrix, bmatrix, array, ...): rows split by \\\\, cells by &."""
    name = environment_name(parser)
    if name not in MATRICES:
        raise ParseError(f"unsupported environment {name}")
    if name == "array":
        environment_name(parser)  # the column specification, e.g. {cc}
    rows = [[]]
    while True:
        rows[-1].append(parser.expr())
        separator = parser.take()
        if separator == r"\\" and parser.peek() == r"\end":
            separator = parser.take()  # a trailing row break before \end
        if separator == r"\end":
            break
        if separator == r"\\":
            rows.append([])
        elif separator != "&":
            raise ParseError(f"unexpected {separator!r} in a matrix")
    if environment_name(parser) != name or len({len(r) for r in rows}) != 1:
        raise ParseError("malformed matrix")
    return Matrix(tuple(tuple(r) for r in rows))
