"""Decide whether two answers are the same mathematical object, and say how it was decided.

Numbers compare exactly when both are exact; a written decimal may match a value it cannot
state exactly (1/3, sqrt(2)) only within a relative tolerance, so 0.5 == 1/2 but
0.333 != 1/3. Expressions with variables compare by exact evaluation at fixed random points,
which decides polynomial, rational and trigonometric identities without calling `simplify`.
Structures (tuples, sets, intervals, matrices, equations) compare item by item.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from dataclasses import dataclass

import sympy as sp

from reasoning.grading.latex import parse
from reasoning.grading.nodes import Difference, Matrix, ParseError, Relation, Seq, Union, render
from reasoning.grading.normalize import choice_letter, clean_with_unit, is_text, text_form
from reasoning.grading.relations import difference, interval, names_unknowns, one_side, value_of

EXACT_TOL = sp.Float("1e-30", 50)  # two exact forms equal to 30 digits are the same number
_DIGITS = 50  # working precision of numeric evaluation
_POINTS = 6  # random points at which expressions with variables are compared
_MAX_PAIRS = 10_000  # item comparisons allowed when matching two sets
_FORM_CHARS = 200  # longest normalized form reported back
_NON_FINITE = (sp.zoo, sp.nan, sp.oo, -sp.oo)
_BASE_NUMBER = re.compile(r"\A\(?([0-9A-Za-z]+)\)?_\{?\(?(\d+)\)?\}?")


@dataclass(frozen=True)
class Verdict:
    """What the comparison decided, how, why not, and the two forms it compared."""

    correct: bool
    method: str
    reason: str
    pred: str
    gold: str


@dataclass(frozen=True)
class _Tolerance:
    relative: sp.Float  # the tolerance in force when a decimal was written
    inexact: bool  # whether either answer wrote a decimal


def judge(pred: str, gold: str, rel_tol: float = 1e-9) -> Verdict:
    """Compare an answer with the reference answer (both as written, not yet cleaned)."""
    _number.cache_clear()  # values are shared within one grade only, so grades stay independent
    (p, p_unit), (g, g_unit) = clean_with_unit(pred), clean_with_unit(gold)
    if p_unit and g_unit and p_unit != g_unit:
        return Verdict(False, "unit", f"different units: {p_unit} against {g_unit}", p, g)
    if p == g:
        return Verdict(True, "string", "", p, g)
    letters = choice_letter(p), choice_letter(g)
    if None not in letters:  # (B) 12 or B. 12 answers the choice B
        same = letters[0] == letters[1]
        return Verdict(same, "choice", "" if same else "a different choice", p, g)
    if is_text(p) or is_text(g, gold):
        same = text_form(p) == text_form(g)
        return Verdict(same, "text", "" if same else "different text", p, g)
    if _base_number(p) or _base_number(g):
        return _compare_bases(p, g)
    try:
        gold_parsed = parse(g)
    except ParseError as error:
        return Verdict(False, "string", f"reference not parseable ({error}); strings differ", p, g)
    try:
        pred_parsed = parse(p)
    except ParseError as error:
        return Verdict(False, "parse", f"answer not parseable: {error}", p, g)
    a = _canonical(pred_parsed.node, pred_parsed.plus_minus)
    b = _canonical(gold_parsed.node, gold_parsed.plus_minus)
    tol = _Tolerance(sp.Float(rel_tol, _DIGITS), pred_parsed.inexact or gold_parsed.inexact)
    same, method, reason = _equal(a, b, tol)
    if not same and pred_parsed.percent != gold_parsed.percent:
        a, b = (_percent(a), b) if pred_parsed.percent else (a, _percent(b))
        same = _equal(a, b, tol)[0] or same
    return Verdict(same, method, "" if same else reason, _form(a), _form(b))


def _form(node: object) -> str:
    """The readable form of a parsed answer, cut short for huge numbers."""
    text = render(node)
    return text if len(text) <= _FORM_CHARS else text[: _FORM_CHARS - 3] + "..."


def _percent(node: object) -> object:
    """The value of `x%` as a fraction: 25% -> 1/4."""
    return node / 100 if isinstance(node, sp.Expr) else node


# -- canonical forms ---------------------------------------------------------------------------
def _canonical(node: object, signs: tuple) -> object:
    """Expand \\pm into sets, reduce `x = v` inside lists to v, and `x < 1 or x > 2` to a union."""
    if isinstance(node, sp.Expr):
        values = _sign_values(node, signs)
        return values[0] if len(values) == 1 else Seq(tuple(values), "{", "}")
    if isinstance(node, Seq):
        items = [_canonical(_stated_value(x), signs) for x in node.items]
        if node.open in ("", "{"):  # 1 \pm \sqrt 2, 3 is a list of three values
            items = [v for x in items for v in (x.items if _is_sign_set(x) else (x,))]
            if node.open == "" and node.items and all(interval(x) for x in node.items):
                return Union(tuple(items))
        return Seq(tuple(items), node.open, node.close)
    if isinstance(node, Union):
        return Union(tuple(_canonical(x, signs) for x in node.parts))
    if isinstance(node, Relation):
        return Relation(node.ops, tuple(_canonical(x, signs) for x in node.parts))
    if isinstance(node, Difference):
        return difference(Difference(_canonical(node.base, signs), _canonical(node.removed, signs)))
    return Matrix(tuple(tuple(_canonical(x, signs) for x in row) for row in node.rows))


def _sign_values(expr: sp.Expr, signs: tuple) -> list[sp.Expr]:
    """Every value of an expression over each choice of its \\pm signs, without repeats."""
    used = [s for s in signs if expr.has(s)]
    values: list[sp.Expr] = []
    for choice in itertools.product((1, -1), repeat=len(used)):
        value = expr.xreplace(dict(zip(used, choice)))
        if value not in values:
            values.append(value)
    return values


def _stated_value(node: object) -> object:
    """A relation inside a list stands for the value it states, when it states one."""
    value = value_of(node) if isinstance(node, Relation) else None
    return node if value is None else value


def _is_sign_set(node: object) -> bool:
    """Whether a node is the set of values a \\pm expression expanded into."""
    is_set = isinstance(node, Seq) and node.open == "{"
    return is_set and all(isinstance(x, sp.Expr) for x in node.items)


# -- comparison --------------------------------------------------------------------------------
def _equal(a: object, b: object, tol: _Tolerance) -> tuple[bool, str, str]:
    """(same, method, reason) for any two parsed answers."""
    if isinstance(a, Relation) or isinstance(b, Relation):
        return _relations(a, b, tol)
    if isinstance(a, sp.Expr) and isinstance(b, sp.Expr):
        return _exprs(a, b, tol)
    if isinstance(a, Matrix) or isinstance(b, Matrix):
        return _matrices(a, b, tol)
    if isinstance(a, Union) or isinstance(b, Union):
        parts_a = a.parts if isinstance(a, Union) else (a,)
        parts_b = b.parts if isinstance(b, Union) else (b,)
        return _same_set(parts_a, parts_b, tol, "interval")
    if isinstance(a, Seq) and isinstance(b, Seq):
        return _seqs(a, b, tol)
    return False, "structure", f"{_kind(a)} compared with {_kind(b)}"


def _kind(node: object) -> str:
    if isinstance(node, Seq):
        return {"": "a list", "{": "a set"}.get(node.open, "a tuple or interval")
    kinds = {Union: "a union", Matrix: "a matrix", Relation: "a relation"}
    return kinds.get(type(node), "a set difference" if isinstance(node, Difference) else "a value")


def _relations(a: object, b: object, tol: _Tolerance) -> tuple[bool, str, str]:
    """Relations compare as relations (same solution set); `x = v` also compares as v."""
    if isinstance(a, Relation) and isinstance(b, Relation) and _same_relation(a, b, tol):
        return True, "equation", ""
    for rel in (a, b):
        if isinstance(rel, Relation) and not _consistent(rel, tol):
            return False, "equation", "a chain of equalities states different values"
    value_a = value_of(a) if isinstance(a, Relation) else a
    value_b = value_of(b) if isinstance(b, Relation) else b
    if value_a is None or value_b is None:
        return False, "equation", "different equations"
    same, method, reason = _equal(value_a, value_b, tol)
    return same, method, reason


def _consistent(rel: Relation, tol: _Tolerance) -> bool:
    """In `x = 2 + 3 = 5` every stated value agrees; `x = 6 = 5` hedges and is refused."""
    if set(rel.ops) != {"="} or len(rel.parts) < 3 or not names_unknowns(rel.parts[0]):
        return True
    return all(_equal(part, rel.parts[-1], tol)[0] for part in rel.parts[1:-1])


def _same_relation(a: Relation, b: Relation, tol: _Tolerance) -> bool:
    """Whether two relations rearrange into each other: `2x = 4y + 6` and `x - 2y = 3`,
    `2 - y >= 0` and `y <= 2` (one side minus the other a constant multiple, positive for <)."""
    sides = one_side(a), one_side(b)
    if None in sides or sides[0][1] != sides[1][1]:
        return False
    (da, op), (db, _) = sides
    if not (da.free_symbols | db.free_symbols):
        return False
    ratios = []
    for point in _points(da.free_symbols | db.free_symbols):
        va, vb = _number(da, point), _number(db, point)
        if va is None or vb is None or vb == 0:
            continue
        ratios.append(va / vb)
    if len(ratios) < 3 or ratios[0] == 0 or not all(_close(r, ratios[0], tol) for r in ratios):
        return False
    return op == "=" or bool(ratios[0] > 0)


def _seqs(a: Seq, b: Seq, tol: _Tolerance) -> tuple[bool, str, str]:
    """Lists and sets ignore order; tuples and intervals need the same brackets and order.

    An answer may leave out a tuple's brackets (`6, 31, -1` for `(6, 31, -1)`), but brackets
    around a list of solutions make a point or an interval, so not the other way round.
    """
    if a.open in ("", "{") and b.open in ("", "{"):
        return _same_set(a.items, b.items, tol, "set")
    unbracketed = a.open == "" and (b.open, b.close) == ("(", ")")
    if not unbracketed and (a.open, a.close) != (b.open, b.close):
        return False, "interval", "different brackets"
    method = "tuple" if (b.open, b.close) == ("(", ")") else "interval"
    return _same_sequence(a.items, b.items, tol, method)


def _same_sequence(xs: tuple, ys: tuple, tol: _Tolerance, method: str) -> tuple[bool, str, str]:
    if len(xs) != len(ys):
        return False, method, f"{len(xs)} items against {len(ys)}"
    for k, (x, y) in enumerate(zip(xs, ys)):
        same, _, reason = _equal(x, y, tol)
        if not same:
            return False, method, f"item {k + 1} differs: {reason}"
    return True, method, ""


def _same_set(xs: tuple, ys: tuple, tol: _Tolerance, method: str) -> tuple[bool, str, str]:
    """Whether every item of each side equals some item of the other (repeats ignored)."""
    if len(xs) * len(ys) > _MAX_PAIRS:
        return False, method, "too many items to compare"
    matches = [[_equal(x, y, tol)[0] for y in ys] for x in xs]
    if not all(any(row) for row in matches):
        return False, method, "an item of the answer is not in the reference"
    if not all(any(row[j] for row in matches) for j in range(len(ys))):
        return False, method, "an item of the reference is missing"
    return True, method, ""


def _matrices(a: object, b: object, tol: _Tolerance) -> tuple[bool, str, str]:
    """Matrices compare entry by entry; a tuple also equals a column or a row vector, but a
    row vector is not a column vector."""
    shape_a, shape_b = _shape(a), _shape(b)
    if shape_a is None or shape_b is None or not _same_shape(shape_a[0], shape_b[0]):
        return False, "matrix", f"{_kind(a)} compared with {_kind(b)} of another shape"
    return _same_sequence(shape_a[1], shape_b[1], tol, "matrix")


def _same_shape(a: tuple, b: tuple) -> bool:
    """Equal shapes, or a tuple of n items against a 1 x n or n x 1 matrix."""
    if "tuple" in (a[0], b[0]) and a[0] != b[0]:
        n, shape = (a[1], b) if a[0] == "tuple" else (b[1], a)
        return 1 in shape and shape[0] * shape[1] == n
    return a == b


def _shape(node: object) -> tuple[tuple, tuple] | None:
    """(shape, entries) from a matrix, or from a tuple, whose shape is "tuple"."""
    if isinstance(node, Matrix):
        return (len(node.rows), len(node.rows[0])), tuple(x for row in node.rows for x in row)
    if isinstance(node, Seq) and node.open in ("", "("):
        return ("tuple", len(node.items)), node.items
    return None


def _exprs(a: sp.Expr, b: sp.Expr, tol: _Tolerance) -> tuple[bool, str, str]:
    """Two expressions: exact first, then numbers by value, then variables at random points."""
    symbolic = bool(a.free_symbols or b.free_symbols)
    method = "symbolic" if symbolic else "numeric"
    if a == b:
        return True, method, ""
    if a.has(*_NON_FINITE) or b.has(*_NON_FINITE):
        return False, method, "different infinite or undefined values"
    if not symbolic:
        return _numbers(a, b, tol)
    checked = 0
    for point in _points(a.free_symbols | b.free_symbols):
        va, vb = _number(a, point), _number(b, point)
        if va is None or vb is None:
            continue
        if not _close(va, vb, tol):
            where = ", ".join(f"{s}={v}" for s, v in point)
            return False, method, f"differ at {where}"
        checked += 1
    if checked < 3:
        return False, method, "could not evaluate at enough points"
    return True, method, ""


def _numbers(a: sp.Expr, b: sp.Expr, tol: _Tolerance) -> tuple[bool, str, str]:
    """Exact rationals must be equal; a decimal may stand for a value it cannot write exactly."""
    if a.is_Rational and b.is_Rational:
        if not tol.inexact or (_terminates(a) and _terminates(b)):
            return False, "numeric", f"{a} != {b}"
    va, vb = _number(a), _number(b)
    if va is None or vb is None:
        return False, "numeric", "could not evaluate"
    if _close(va, vb, tol):
        return True, "numeric", ""
    return False, "numeric", f"{sp.N(va, 12)} != {sp.N(vb, 12)}"


def _terminates(x: sp.Rational) -> bool:
    """Whether a rational has a finite decimal expansion (its denominator is 2^a 5^b)."""
    q = int(x.q)
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


@functools.lru_cache(maxsize=4096)  # matching two sets asks for the same values many times
def _number(expr: sp.Expr, point: tuple = ()) -> sp.Expr | None:
    """A finite numeric value of expr (at a point of (symbol, value) pairs), or None."""
    try:
        value = expr.evalf(_DIGITS, subs=dict(point) if point else None)
    except ArithmeticError:
        return None
    if value.free_symbols or not value.is_number or value.has(*_NON_FINITE):
        return None
    return value


def _close(x: sp.Expr, y: sp.Expr, tol: _Tolerance) -> bool:
    """|x - y| within the tolerance, relative to the larger magnitude."""
    bound = tol.relative if tol.inexact else EXACT_TOL
    return bool(abs(x - y) <= bound * max(abs(x), abs(y)))


def _points(symbols: set) -> list[tuple]:
    """Fixed pseudo-random rational points as (symbol, value) pairs (seeded: deterministic)."""
    rng = random.Random(0)
    names = sorted(symbols, key=str)
    return [
        tuple((s, sp.Rational(rng.choice((-1, 1)) * rng.randint(300, 2500), 997)) for s in names)
        for _ in range(_POINTS)
    ]


# -- numbers in a base -------------------------------------------------------------------------
def _base_number(s: str) -> tuple[str, int] | None:
    """(digits, base) for `52_8`, `4210_{5}`, `(52)_8`; None when not a number in a base."""
    m = _BASE_NUMBER.fullmatch(s)
    if not m:
        return None
    digits, base = m.group(1).upper().lstrip("0") or "0", int(m.group(2))
    if not 2 <= base <= 36 or not any(c.isdigit() for c in digits):
        return None
    return (digits, base) if all(int(c, 36) < base for c in digits) else None


def _compare_bases(p: str, g: str) -> Verdict:
    """Digits in a base compare as written: 52_8 equals 52_8 and the bare 52, never 42."""
    bp, bg = _base_number(p) or _plain_digits(p), _base_number(g) or _plain_digits(g)
    same = bool(bp and bg and bp[0] == bg[0] and (None in (bp[1], bg[1]) or bp[1] == bg[1]))
    return Verdict(same, "base", "" if same else "different digits or base", p, g)


def _plain_digits(s: str) -> tuple[str, None] | None:
    """A bare digit string, read as digits in whatever base the question asked for."""
    return (s.lstrip("0") or "0", None) if s.isdigit() else None
