"""Units and word multipliers written after an answer: split them off, and name the unit.

`5 km`, `5\\text{ kilometers}` and `5km` state one quantity and `5\\text{ m}` another, so the
unit is split from the value and reduced to one canonical name: the grader compares values,
and units too when both answers state a unit it knows. `3 \\text{ thousand}` becomes 3000.
Other words in a trailing \\text{...} (`\\text{ apples}`) are dropped, as they always were.

The unit is read backwards from the end of the answer, one piece at a time for at most
`_MAX_PIECES` pieces, by plain string scans: linear in the answer's length whatever it holds.
"""

from __future__ import annotations

import re

# Canonical name -> spellings. Inside \text{...} every spelling counts; written bare after
# a number only the spellings in _BARE do (a lone `m` or `in` is more likely maths).
_SPELLINGS = {
    "m": "m meter meters metre metres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "mm millimeter millimeters millimetre millimetres",
    "km": "km kilometer kilometers kilometre kilometres",
    "in": "in inch inches",
    "ft": "ft foot feet",
    "yd": "yd yard yards",
    "mi": "mi mile miles",
    "s": "s sec secs second seconds",
    "min": "min mins minute minutes",
    "h": "h hr hrs hour hours",
    "day": "day days",
    "week": "week weeks",
    "month": "month months",
    "year": "yr yrs year years",
    "deg": "deg degree degrees",
    "rad": "rad radian radians",
    "dollar": "dollar dollars",
    "cent": "cent cents",
    "g": "g gram grams",
    "kg": "kg kilogram kilograms",
    "l": "l liter liters litre litres",
    "ml": "ml milliliter milliliters millilitre millilitres",
    "mph": "mph",
}
_UNIT = {spelling: name for name, spellings in _SPELLINGS.items() for spelling in spellings.split()}
# Words, written bare, that count things without naming a unit (5th place is 5).
_NO_UNIT = frozenset("unit units place people students ways".split())
_POWER_WORD = {"square": 2, "sq": 2, "cubic": 3}
_MULTIPLIER = {"hundred": 2, "thousand": 3, "million": 6, "billion": 9, "trillion": 12}
_BARE = frozenset(
    [w for w in _UNIT if len(w) > 1 and w not in ("in", "mi", "min", "sec", "rad", "deg")]
    + [*_NO_UNIT, *_POWER_WORD, *_MULTIPLIER]
)
_POWER_SUFFIXES = ("^{2}", "^2", "^{3}", "^3")
_MAX_PIECES = 4  # `3 thousand square feet` is three; nobody writes more
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def split_unit(answer: str) -> tuple[str, str]:
    """(value, unit): the answer without a trailing unit or multiplier, and the unit's name.

    The unit is "" when no known unit is stated; a multiplier word is applied to the value.
    """
    words: list[tuple[str, int]] = []  # (word, power written after its piece), in order
    s = answer
    for _ in range(_MAX_PIECES):
        piece = _last_piece(s)
        if piece is None or not piece[0]:
            break
        s, text, power = piece
        said = [w.strip(".,;:()") for w in text.lower().split()]
        words[:0] = [(w, power if k == len(said) - 1 else 1) for k, w in enumerate(said)]
    if not words:
        return answer, ""
    unit, exponent = _name(words)
    return _scaled(s, exponent), unit


def _last_piece(s: str) -> tuple[str, str, int] | None:
    """(text before, words, power) of the last unit piece: `\\text{...}` or a bare unit word."""
    s = s.rstrip()
    power = 1
    for suffix in _POWER_SUFFIXES:
        if s.endswith(suffix):
            s, power = s[: -len(suffix)].rstrip(), int(suffix.strip("^{}"))
            break
    if s.endswith("}"):
        start = s.rfind("{")
        head = s[:start].rstrip() if start >= 0 else ""
        if s.find("}", start) != len(s) - 1 or not head.endswith("\\text"):
            return None
        return head[: -len("\\text")].rstrip(), s[start + 1 : -1], power
    i = len(s)
    while i > 0 and s[i - 1].isascii() and s[i - 1].isalpha():
        i -= 1
    word, before = s[i:].lower(), s[i - 1 : i]
    if word in _BARE and (before.isspace() or before.isdigit()):
        return s[:i].rstrip(), word, power
    return None


def _name(words: list[tuple[str, int]]) -> tuple[str, int]:
    """(canonical unit, power of ten) of a unit phrase such as `square inches` or `thousand`."""
    names, exponent, pending = [], 0, 1
    for word, power in words:
        if word in _POWER_WORD:
            pending = _POWER_WORD[word]
        elif word in _MULTIPLIER:
            exponent += _MULTIPLIER[word]
        elif word in _UNIT:
            name, power = _UNIT[word], max(power, pending)
            names.append(name if power == 1 else f"{name}^{power}")
            pending = 1
    return " ".join(names), exponent


def _scaled(value: str, exponent: int) -> str:
    """The value times 10^exponent, as digits when the value is a plain number."""
    if exponent == 0:
        return value
    if _PLAIN_NUMBER.fullmatch(value):  # move the point by hand: exact for any length
        sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
        whole, _, fraction = digits.partition(".")
        fraction = fraction.ljust(exponent, "0")
        whole, fraction = (whole + fraction[:exponent]).lstrip("0") or "0", fraction[exponent:]
        fraction = fraction.rstrip("0")
        return sign + whole + ("." + fraction if fraction else "")
    return f"({value})\\cdot 10^{{{exponent}}}"
