"""Gold answers as each benchmark writes them, read into the string that the grader compares.

Pure functions of a record's field values, so each is tested on plain values; a value one
cannot use raises ValueError saying what it expected (the loader adds where it was).
"""

from __future__ import annotations

import random
import re
import string
import zlib
from collections.abc import Sequence
from typing import Any

from reasoning.grading.extract import last_boxed

_HASHES = "####"  # GSM8K ends each worked solution with "#### <answer>"
_MATH_SEPARATOR = re.compile(r"\$\s*,\s*\$")  # "$69$,$84$": two answers, each in its own maths
_DOLLAR = re.compile(r"(?<!\\)\$")
# Golds the shipped copies (and their hub sources) write wrongly, as written -> as meant; the
# readers of written and boxed answers and OlympiadBench's lists repair them, so that a right
# answer grades right.
_DEFECTIVE = {
    # Minerva 72: the box holds a stray "$ $" (the solution's line break between two maths spans).
    r"x_{0} \cos (\omega t)+$ $\dot{x}_{0} \sin (\omega t) / \omega": r"x_{0} \cos (\omega t)+\dot{x}_{0} \sin (\omega t) / \omega",
    # Minerva 5: the answer is written as numpy code; the solution means arcsin(10/13).
    "np.arcsin(10/13)": r"\arcsin(10/13)",
    # OlympiadBench 2045: "t(0,4]" lost its \in; the answer is the interval t in (0, 4].
    "t(0,4]": r"t \in (0,4]",
    # OlympiadBench 1970: the set ends in the sentence's full stop.
    r"(-\infty, 0) \cup\{1\}.": r"(-\infty, 0) \cup\{1\}",
}


def as_written(value: Any) -> str:
    """An answer stored as the string to grade (or as a number, written as it is)."""
    if isinstance(value, str) and value.strip():
        return repaired(value.strip())  # the hub's Minerva copy writes its golds as the answer
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a non-empty string or a number as the answer, got {value!r}")


def whole_number(value: Any) -> str:
    """A number stored as a float: 27.0 -> "27" (integral floats lose their ".0"), 2.5 stays."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return as_written(value)


def after_hashes(solution: Any) -> str:
    """The answer after a worked solution's "####", without thousands commas: "1,600" -> "1600"."""
    if not isinstance(solution, str) or _HASHES not in solution:
        raise ValueError(f"expected a worked solution ending in '{_HASHES} <answer>', got {_short(solution)}")
    answer = solution.rpartition(_HASHES)[2].strip().replace(",", "")
    if not answer:
        raise ValueError(f"nothing follows '{_HASHES}' in {_short(solution)}")
    return answer


def last_box(solution: Any) -> str:
    """The argument of the solution's last \\boxed{}, as written."""
    boxed = last_boxed(solution) if isinstance(solution, str) else None
    if boxed is None:
        raise ValueError(f"expected a solution with a \\boxed{{}} answer, got {_short(solution)}")
    return repaired(boxed.strip())


def joined_answers(answers: Any) -> str:
    """OlympiadBench's list of final answers as one answer: maths delimiters dropped, several
    answers joined by ", " (one string may already hold several: "$69$,$84$" -> "69, 84")."""
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, Sequence) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ValueError(f"expected a non-empty list of answer strings, got {_short(answers)}")
    joined = ", ".join(_MATH_SEPARATOR.sub(", ", answer.strip()) for answer in answers)
    return repaired(_DOLLAR.sub("", joined).strip())


def repaired(gold: str) -> str:
    """A gold as it was meant, where a shipped benchmark writes it wrongly (see `_DEFECTIVE`)."""
    return _DEFECTIVE.get(gold, gold)


def option_texts(choices: Any) -> list[str]:
    """A multiple-choice question's options, in letter order."""
    if isinstance(choices, str) or not isinstance(choices, Sequence) or not all(isinstance(c, str) for c in choices):
        raise ValueError(f"expected a list of option strings, got {_short(choices)}")
    if not 2 <= len(choices) <= len(string.ascii_uppercase):
        raise ValueError(f"expected 2 to 26 options, got {len(choices)}")
    return [choice.strip() for choice in choices]


def letter_of(index: Any, choices: Any) -> str:
    """The letter of the right option from its index: 0 -> "A"."""
    count = len(option_texts(choices))
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(f"expected the right option's index, 0 to {count - 1}, got {index!r}")
    return string.ascii_uppercase[index]


def shuffled_options(correct: Any, wrong_1: Any, wrong_2: Any, wrong_3: Any, seed: Any) -> list[str]:
    """GPQA's four options in an order fixed by `seed` (the record's id), so that the right
    option's letter varies from question to question but never from run to run."""
    options = option_texts([correct, wrong_1, wrong_2, wrong_3])
    return [options[k] for k in _order(seed, len(options))]


def shuffled_letter(correct: Any, wrong_1: Any, wrong_2: Any, wrong_3: Any, seed: Any) -> str:
    """The letter of GPQA's right option among the `shuffled_options`."""
    count = len(option_texts([correct, wrong_1, wrong_2, wrong_3]))  # checks the texts as the options do
    return string.ascii_uppercase[_order(seed, count).index(0)]


def _order(seed: Any, count: int) -> list[int]:
    """A permutation of range(count) fixed by `seed` (a record's id): crc32 is stable across
    runs and machines, unlike Python's salted `hash`."""
    order = list(range(count))
    random.Random(zlib.crc32(str(seed).encode())).shuffle(order)
    return order


def _short(value: Any) -> str:
    """A short repr for error messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
