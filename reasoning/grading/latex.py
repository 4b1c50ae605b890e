"""A safe parser from LaTeX or plain maths to sympy objects.

Model text is never handed to `sympify`, `parse_expr`, `eval` or `exec` (those run Python):
a small tokenizer and a recursive-descent parser build each node through the size-guarded
constructors of `nodes`, from a whitelist of symbols, constants and functions.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from reasoning.grading.nodes import (
    MAX_LITERAL,
    MAX_PLUS_MINUS,
    Difference,
    ParseError,
    Parsed,
    Relation,
    Seq,
    Union,
    apply,
    arith,
    exponentiate,
    factorial,
)
from reasoning.grading.tokens import (
    CONSTANTS,
    FUNCTIONS,
    RELATIONS,
    SIGNS,
    STARTS_FACTOR,
    tokenize,
)
from reasoning.grading.latex_commands import command

MAX_DEPTH = 40  # nesting of brackets, signs and exponents
_INVERSES = {sp.sin: sp.asin, sp.cos: sp.acos, sp.tan: sp.atan}


def parse(text: str) -> Parsed:
    """Parse a cleaned answer into a sympy expression or a Seq, Union, Relation or Matrix."""
    parser = LatexParser(tokenize(text))
    try:
        node = parser.answer()
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("nested too deeply") from None
    except (ArithmeticError, TypeError, ValueError) as error:  # e.g. no digits for a floor
        raise ParseError(f"sympy cannot build this ({type(error).__name__})") from None
    return Parsed(node, parser.inexact, parser.percent, tuple(parser.plus_minus))


def _is_set(node: object) -> bool:
    return isinstance(node, Seq) and node.open == "{"


class LatexParser:
    """Recursive descent over the token list; each method parses one level of precedence."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.abs_open = 0
        self.inexact = False
        self.percent = False
        self.plus_minus: list[sp.Dummy] = []

    # -- token helpers ------------------------------------------------------------------------
    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def kind(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self) -> str:
        if self.i >= len(self.tokens):
            raise ParseError("unexpected end of answer")
        self.i += 1
        return self.tokens[self.i - 1][0]

    def expect(self, text: str) -> None:
        found = self.take()
        if found != text:
            raise ParseError(f"expected {text!r}, found {found!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")

    # -- precedence levels --------------------------------------------------------------------
    def answer(self) -> object:
        items = self.sequence()
        if self.i < len(self.tokens):
            raise ParseError(f"unexpected {self.peek()!r}")
        return items[0] if len(items) == 1 else Seq(tuple(items), "", "")

    def sequence(self) -> list:
        items = [self.relation()]
        while self.peek() in (",", ";", "or", "and"):
            self.take()
            items.append(self.relation())
        return items

    def relation(self) -> object:
        parts, ops = [self.union()], []
        while self.peek() in RELATIONS:
            ops.append(RELATIONS[self.take()])
            parts.append(self.union())
        return Relation(tuple(ops), tuple(parts)) if ops else parts[0]

    def union(self) -> object:
        parts = [self.difference()]
        while self.peek() == r"\cup":
            self.take()
            parts.append(self.difference())
        return Union(tuple(parts)) if len(parts) > 1 else parts[0]

    def difference(self) -> object:
        node = self.expr()
        while self.peek() in (r"\setminus", r"\backslash"):
            self.take()
            node = Difference(node, self.expr())
        return node

    def expr(self) -> object:
        left = self.term()
        while self.peek() in SIGNS:
            sign = self.take()
            right = self.term()
            if sign == "-" and not isinstance(left, sp.Expr) and _is_set(right):
                left = Difference(left, right)  # \mathbb{R} - \{0\}
            else:
                left = arith(sp.Add, left, self.signed(sign, right))
        return left

    def term(self) -> object:
        left = self.unary()
        while True:
            op = self.peek()
            if op in ("*", r"\cdot", r"\times"):
                self.take()
                left = arith(sp.Mul, left, self.unary())
            elif op in ("/", r"\div"):
                self.take()
                left = arith(sp.Mul, left, exponentiate(self.unary(), sp.Integer(-1)))
            elif self.starts_factor():
                if self.kind() == "num" and self.tokens[self.i - 1][1] == "num":
                    raise ParseError("two numbers side by side")
                left = arith(sp.Mul, left, self.power())
            else:
                return left

    def starts_factor(self) -> bool:
        """Whether the next token can begin an implicitly multiplied factor."""
        t, kind = self.peek(), self.kind()
        if kind in ("num", "word"):
            return t not in ("or", "and")
        if t == "|":
            return self.abs_open == 0
        return t in ("(", "{", "[") or t in STARTS_FACTOR

    def unary(self) -> object:
        if self.peek() in SIGNS:
            self.enter()
            sign = self.take()
            node = self.signed(sign, self.unary())
            self.depth -= 1
            return node
        return self.power()

    def signed(self, sign: str, node: object) -> object:
        """Apply a sign; each \\pm becomes a fresh Dummy to be set to +1 and -1 later."""
        if sign == "+":
            return node
        factor = sp.Integer(-1)
        if sign in (r"\pm", r"\mp"):
            if len(self.plus_minus) == MAX_PLUS_MINUS:
                raise ParseError("too many \\pm signs")
            self.plus_minus.append(sp.Dummy("pm"))
            factor = self.plus_minus[-1] * (1 if sign == r"\pm" else -1)
        return arith(sp.Mul, factor, node)

    def power(self) -> object:
        base = self.postfix()
        if self.peek() in ("^", "**"):
            self.take()
            return exponentiate(base, self.exponent())
        return base

    def exponent(self) -> object:
        """An exponent: a braced group, a signed exponent, or one factor (x^2y is x^2 * y)."""
        self.enter()
        if self.peek() in ("+", "-"):
            node = self.signed(self.take(), self.exponent())
        else:
            node = self.postfix()
            if self.peek() in ("^", "**"):
                self.take()
                node = exponentiate(node, self.exponent())
        self.depth -= 1
        return node

    def postfix(self) -> object:
        node = self.primary()
        while self.peek() in ("!", "%", "_", "'"):
            op = self.take()
            if op == "!":
                node = factorial(node)
            elif op == "%":
                self.percent = True
            elif not isinstance(node, sp.Symbol):
                raise ParseError("subscript or prime on something other than a variable")
            elif op == "'":  # y' is a variable of its own (a derivative), the same on both sides
                node = sp.Symbol(node.name + "'")
            else:
                node = sp.Symbol(f"{node.name}_{self.subscript()}")
        return node

    def subscript(self) -> str:
        """A subscript's text: letters, digits and named commands (M_{\\odot}, m_{\\max})."""
        if self.peek() != "{":
            return self.take().lstrip("\\")
        self.take()
        parts = []
        while self.peek() not in ("}", None):
            if self.kind() not in ("num", "word") and not self.peek()[1:].isalpha():
                raise ParseError("subscripts must be letters, digits and named commands")
            parts.append(self.take().lstrip("\\"))  # m_{\max} is m_{max}
        self.expect("}")
        return "".join(parts)

    def primary(self) -> object:
        self.enter()
        node = self.atom()
        self.depth -= 1
        return node

    def atom(self) -> object:
        t, kind = self.peek(), self.kind()
        if kind == "num":
            return self.number()
        if kind == "word":
            return self.word()
        if kind == "cmd" and t not in (r"\{", r"\langle"):
            return self.command()
        if t in ("(", "[", r"\langle"):
            return self.bracketed()
        if t in ("{", r"\{"):
            return self.braced()
        if t == "|":
            self.take()
            self.abs_open += 1
            inner = self.expr()
            self.abs_open -= 1
            self.expect("|")
            return apply(sp.Abs, inner)
        raise ParseError(f"unexpected {t!r}" if t else "unexpected end of answer")

    # -- atoms ---------------------------------------------------------------------------------
    def number(self) -> sp.Expr:
        text = self.take()
        digits, _, exp = text.lower().partition("e")
        if len(digits) > MAX_LITERAL or (exp and abs(int(exp)) > MAX_LITERAL):
            raise ParseError("number too long")
        if "." in text and self.peek() == r"\overline":
            return self.repeating(text)
        self.inexact |= "." in text
        value = Fraction(text)
        if value.denominator == 1 and self.peek() == r"\frac":
            return self.mixed(sp.Integer(value.numerator))
        return sp.Rational(value.numerator, value.denominator)

    def repeating(self, text: str) -> sp.Expr:
        """A decimal with a repeating block, 0.1\\overline{6} = 1/6."""
        self.take()
        braced = self.peek() == "{"
        if braced:
            self.take()
        block = self.take()
        if braced:
            self.expect("}")
        if not block.isdigit() or len(block) > MAX_LITERAL:
            raise ParseError("a repeating block must be digits")
        head = Fraction(text)
        scale = 10 ** len(text.partition(".")[2])
        return sp.Rational(head + Fraction(int(block), scale * (10 ** len(block) - 1)))

    def mixed(self, whole: sp.Integer) -> sp.Expr:
        """`2\\frac{1}{2}` is the mixed number 5/2 when the fraction is proper, else a product."""
        saved = (self.i, list(self.tokens))
        self.take()
        try:
            num, den = self.argument(), self.argument()
        except ParseError:
            num = den = None
        if all(isinstance(x, sp.Integer) and x > 0 for x in (num, den)) and num < den:
            return whole + sp.Rational(num, den)
        self.i, self.tokens = saved
        return whole

    def word(self) -> object:
        t = self.take()
        if t in CONSTANTS:
            return CONSTANTS[t]
        if t in FUNCTIONS:
            return self.function(FUNCTIONS[t])
        return {"i": sp.I, "e": sp.E}.get(t) or sp.Symbol(t)

    def command(self) -> object:
        return command(self)  # latex_commands: the whitelist of commands and environments

    def argument(self) -> object:
        """One LaTeX argument: a braced group, a single digit of a number, or one atom."""
        t = self.peek()
        if t == "{":
            self.take()
            node = self.expr()
            self.expect("}")
            return node
        if self.kind() == "num" and t.isdigit() and len(t) > 1:
            self.tokens[self.i] = (t[1:], "num")
            return sp.Integer(int(t[0]))
        return self.primary()

    def function(self, fn) -> sp.Expr:
        """A function applied to `(x)`, `{x}` or a bare product (`\\sin 2x`); `\\sin^2 x` too."""
        exponent = None
        if self.peek() == "^":
            self.take()
            exponent = self.exponent()
            if exponent == -1 and fn in _INVERSES:  # \sin^{-1} x is arcsin x
                fn, exponent = _INVERSES[fn], None
        value = apply(fn, self.function_argument())
        return value if exponent is None else exponentiate(value, exponent)

    def function_argument(self) -> object:
        if self.peek() in ("(", "{"):
            return self.primary()
        node = self.power()
        while self.starts_factor() and self.peek().lstrip("\\") not in FUNCTIONS:
            node = arith(sp.Mul, node, self.power())
        return node

    def bracketed(self) -> object:
        """`(a)` is grouping; `(a, b)`, `[a, b)`, `\\langle a, b \\rangle` are sequences."""
        opening = self.take()
        items = self.sequence()
        closing = self.take()
        if opening == r"\langle":
            if closing != r"\rangle":
                raise ParseError("unclosed \\langle")
            opening, closing = "(", ")"
        if closing not in (")", "]"):
            raise ParseError(f"expected a closing bracket, found {closing!r}")
        if len(items) > 1:
            return Seq(tuple(items), opening, closing)
        if (opening, closing) in (("(", ")"), ("[", "]")):
            return items[0]
        raise ParseError("a half-open interval needs two ends")

    def braced(self) -> object:
        """`{x}` groups; `\\{a, b\\}` (or a plain `{a, b}`) is a set."""
        closing = "}" if self.take() == "{" else r"\}"
        if closing == r"\}" and self.peek() == r"\}":
            self.take()
            return Seq((), "{", "}")
        items = self.sequence()
        self.expect(closing)
        if closing == "}" and len(items) == 1:
            return items[0]
        return Seq(tuple(items), "{", "}")
