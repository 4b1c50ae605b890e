"""What a relation or a set difference states, as the structures the comparison matches.

`x = 5` states 5, `x > 3` the interval (3, oo), `2 - y >= 0` the interval (-oo, 2] (a linear
relation in one unknown is solved by its slope's sign), `x \\ne 0` and `\\mathbb{R} \\setminus
\\{0\\}` the union (-oo, 0) U (0, oo). Set differences go through sympy's sets, on numbers only.
"""

from __future__ import annotations

import sympy as sp

from reasoning.grading.nodes import Difference, Relation, Seq, Union

MAX_SET_PARTS = 50  # intervals and points in one side of a set difference
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def value_of(rel: Relation) -> object | None:
    """The value a relation states: `x = 5` -> 5, `x \\in [1, 2]` -> [1, 2], `x > 3` -> (3, oo)."""
    parts = rel.parts
    if set(rel.ops) == {"="} and names_unknowns(parts[0]):
        return parts[-1]
    if rel.ops == ("=",) and names_unknowns(parts[1]):
        return parts[0]
    if rel.ops == ("in",) and isinstance(parts[0], sp.Symbol):
        return parts[1]
    if rel.ops == ("!=",):  # x \ne 0 is everything but 0
        point = _solved(parts[0], parts[1])
        if point is not None:
            return Union((Seq((-sp.oo, point[1]), "(", ")"), Seq((point[1], sp.oo), "(", ")")))
    return interval(rel)


def names_unknowns(node: object) -> bool:
    """Whether a node only names unknowns: `x`, `BC` (a segment), `(x, y)` in `(x, y) = (1, 2)`."""
    if isinstance(node, Seq) and node.open == "(":
        return all(isinstance(x, sp.Symbol) for x in node.items)
    if isinstance(node, sp.Mul):
        return all(isinstance(x, sp.Symbol) for x in node.args)
    return isinstance(node, sp.Symbol)


def _linear(expr: object) -> tuple[sp.Expr, sp.Expr] | None:
    """(a, b) when expr is a*x + b in its one unknown x, with a a nonzero number of known sign."""
    if not isinstance(expr, sp.Expr) or len(expr.free_symbols) != 1:
        return None
    (x,) = expr.free_symbols
    a = expr.diff(x)
    if a.free_symbols or not (a.is_positive or a.is_negative):
        return None
    return a, expr.xreplace({x: sp.Integer(0)})


def _solved(left: object, right: object) -> tuple[sp.Expr, sp.Expr] | None:
    """(a, c) when `left - right` is a(x - c) in one unknown: where a relation changes sides."""
    if not isinstance(left, sp.Expr) or not isinstance(right, sp.Expr):
        return None
    line = _linear(left - right)
    return None if line is None else (line[0], -line[1] / line[0])


def interval(rel: object) -> Seq | None:
    """An inequality in one unknown as an interval: `a < x <= b` -> (a, b], `2 - y >= 0` -> (-oo, 2]
    (a linear side is solved: its slope's sign says which way the interval opens)."""
    if not isinstance(rel, Relation) or not all(op in FLIP for op in rel.ops):
        return None
    parts, ops = list(rel.parts), list(rel.ops)
    if all(op in (">", ">=") for op in ops):
        parts, ops = parts[::-1], [FLIP[op] for op in ops[::-1]]
    if not all(op in ("<", "<=") for op in ops) or len(parts) not in (2, 3):
        return None
    opens, closes = {"<": "(", "<=": "["}, {"<": ")", "<=": "]"}
    if len(parts) == 2:  # left - right = a(x - c) < 0: x < c when a > 0, else x > c
        solved = _solved(parts[0], parts[1])
        if solved is None:
            return None
        a, c = solved
        if a > 0:
            return Seq((-sp.oo, c), "(", closes[ops[0]])
        return Seq((c, sp.oo), opens[ops[0]], ")")
    low, middle, high = parts
    line = _linear(middle)
    if line is None or not all(isinstance(x, sp.Expr) and not x.free_symbols for x in (low, high)):
        return None
    a, b = line
    ends, brackets = [(low - b) / a, (high - b) / a], [opens[ops[0]], closes[ops[1]]]
    if a < 0:  # dividing by a negative number turns the chain round
        ends, brackets = ends[::-1], [opens[ops[1]], closes[ops[0]]]
    return Seq(tuple(ends), *brackets)


def difference(node: Difference) -> object:
    """`A \\setminus B` for intervals and sets of real numbers, as a union of intervals."""
    base, removed = _real_set(node.base), _real_set(node.removed)
    if base is None or removed is None:
        return node
    return _from_real_set(sp.Complement(base, removed)) or node


def _real_set(node: object) -> sp.Set | None:
    """A sympy set for an interval, a finite set of real numbers or a union of them."""
    if isinstance(node, Union) and len(node.parts) <= MAX_SET_PARTS:
        parts = [_real_set(x) for x in node.parts]
        return None if None in parts else sp.Union(*parts)
    if not isinstance(node, Seq) or len(node.items) > MAX_SET_PARTS:
        return None
    if not all(isinstance(x, sp.Expr) and x.is_number and x.is_extended_real for x in node.items):
        return None
    if node.open == "{":
        return sp.FiniteSet(*node.items)
    if node.open in "([" and node.close in ")]" and len(node.items) == 2:
        return sp.Interval(*node.items, node.open == "(", node.close == ")")
    return None


def _from_real_set(s: sp.Set) -> object | None:
    """The parser's structures for a sympy interval, finite set or union of them."""
    if isinstance(s, sp.Interval):
        return Seq((s.start, s.end), "(" if s.left_open else "[", ")" if s.right_open else "]")
    if isinstance(s, sp.FiniteSet):
        return Seq(tuple(s.args), "{", "}")
    if s == sp.S.EmptySet:
        return Seq((), "{", "}")
    if isinstance(s, sp.Union):
        parts = [_from_real_set(x) for x in s.args]
        return None if None in parts else Union(tuple(parts))
    return None


def one_side(rel: Relation) -> tuple[sp.Expr, str] | None:
    """A relation as `d op 0` with op among =, <, <= (a chain of `=` by its two ends)."""
    ends = rel.parts[0], rel.parts[-1]
    if not all(isinstance(x, sp.Expr) for x in ends):
        return None
    if set(rel.ops) == {"="}:
        return ends[0] - ends[1], "="
    if len(rel.ops) != 1 or rel.ops[0] not in FLIP:
        return None
    if rel.ops[0] in ("<", "<="):
        return ends[0] - ends[1], rel.ops[0]
    return ends[1] - ends[0], FLIP[rel.ops[0]]
