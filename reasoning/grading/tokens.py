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
    r"|(?P<op><=|>=|\*\*|[-+*/^_()\[\]{},;=<>!|&%])"
    r"|(?P<space>\s+)"
)
# The only functions, constants and names a parsed answer can reach.
FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh,
    "tanh": sp.tanh, "ln": sp.log, "log": sp.log, "exp": sp.exp, "abs": sp.Abs, "floor": sp.floor,
    "ceil": sp.ceiling, "sqrt": sp.sqrt,
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
MATRICES = frozenset(["pmatrix", "bmatrix", "matrix", "vmatrix", "array", "smallmatrix"])
STARTS_FACTOR = frozenset(
    [r"\frac", r"\sqrt", r"\binom", r"\pi", r"\infty", r"\lfloor", r"\lceil", r"\begin"]
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
        if kind == "word" and value not in WORDS:
            tokens.extend((ch, "word") for ch in value)
        elif kind != "space":
            tokens.append((value, kind))
    return tokens
