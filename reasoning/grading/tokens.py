"""The tokenizer of the safe parser, and the whitelists of what a token may name.

Only the functions, constants and Greek letters listed here ever become sympy objects;
any other command is a parse error, and an unknown word is read as a product of letters.
"""

from __future__ import annotations

import re

import sympy as sp

from reasoning.grading.nodes import ParseError

_TOKEN = re.compile(
    r"(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<cmd>\\(?:[a-zA-Z]+|[^a-zA-Z]))"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op><=|>=|\*\*|[-+*/^_()\[\]{},;=<>!|&%'])"
    r"|(?P<space>\s+)"
)
# The only functions, constants and names a parsed answer can reach.
FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh,
    "tanh": sp.tanh, "coth": sp.coth, "sech": sp.sech, "csch": sp.csch, "ln": sp.log,
    "log": sp.log, "exp": sp.exp, "abs": sp.Abs, "floor": sp.floor, "ceil": sp.ceiling,
    "sqrt": sp.sqrt,
}
CONSTANTS = {"pi": sp.pi, "infty": sp.oo, "inf": sp.oo, "infinity": sp.oo}
GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi "
    "Omega".split()
)
WORDS = frozenset([*FUNCTIONS, *CONSTANTS, "or", "and"])
RELATIONS = {
    "=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", r"\le": "<=", r"\ge": ">=",
    r"\lt": "<", r"\gt": ">", r"\ne": "!=", r"\in": "in",
}
SIGNS = ("+", "-", r"\pm", r"\mp")
# Accents that make a variable another one: \dot{x} (x-dot, a time derivative), \ddot{x}.
MARKED = ("dot", "ddot")
MATRICES = frozenset(["pmatrix", "bmatrix", "matrix", "vmatrix", "array", "smallmatrix"])
# Commands that may have lost the space before a following letter: \sinx is \sin x. A
# command the parser knows is never split (\sinh stays \sinh).
_GLUED = sorted({*FUNCTIONS, *CONSTANTS, *GREEK, "sqrt", "frac", "cdot", "times"}, key=len)[::-1]
_KNOWN = frozenset(
    [*_GLUED, *(name[1:] for name in RELATIONS if name.startswith("\\"))]
    + "binom div pm mp cup setminus backslash lfloor rfloor lceil rceil langle rangle emptyset "
    "varnothing mathbb begin end overline text cdots ldots dots vdots ddots cdotp".split()
    + [*MARKED, "hbar", "angle"]
)
STARTS_FACTOR = frozenset(
    [r"\frac", r"\sqrt", r"\binom", r"\pi", r"\infty", r"\lfloor", r"\lceil", r"\begin", r"\hbar", r"\angle"]
    + [f"\\{name}" for name in MARKED]
    + [f"\\{name}" for name in (*FUNCTIONS, *GREEK)]
)


def tokenize(text: str) -> list[tuple[str, str]]:
    """Tokens as (text, kind); unknown words split into one-letter symbols (xy is x*y)."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos, kind, value = m.end(), m.lastgroup, m.group()
        if kind == "cmd" and len(value) > 2:
            value, rest = _unglue(value)
            if rest:
                tokens.append((value, kind))
                kind, value = "word", rest
        if kind == "word" and value not in WORDS:
            tokens.extend((ch, "word") for ch in value)
        elif kind != "space":
            tokens.append((value, kind))
    return tokens


def _unglue(command: str) -> tuple[str, str]:
    """(command, letters after it) for `\\sinx`; an unknown command with no known head is kept."""
    name = command[1:]
    if name in _KNOWN:
        return command, ""
    for head in _GLUED:
        if name.startswith(head):
            return "\\" + head, name[len(head) :]
    return command, ""
