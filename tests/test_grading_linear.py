"""Answer extraction and clean-up stay linear in the length of a completion.

Extraction and the grader's string checks run in the calling process, outside the grading
time bound, so one degenerate completion whose regular expressions backtrack (n^2 steps on a
run of n blanks) would stall a whole evaluation. A megabyte of each degenerate form must pass
in well under a second; a quadratic pattern would take minutes. Clean-up (which sees at most
MAX_CHARS in-process, and runs bounded in the worker) is held to the same bound on a quarter
megabyte, and every module-level pattern is searched in runs built to make it backtrack.
"""

import re
import time

import pytest
from grading_cases import degenerate

from reasoning.grading import equivalence, extract, normalize, tokens, units
from reasoning.grading import extract_answer, grade, grade_many
from reasoning.grading.normalize import clean_with_unit, is_text, text_form

LIMIT_S = 10.0  # each case takes under 0.3 s here; n^2 takes hours, so a loose bound still catches it and never flakes
MEGABYTE = degenerate(1_000_000)
QUARTER = degenerate(250_000)


def _seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


@pytest.mark.parametrize("name, text", MEGABYTE, ids=[name for name, _ in MEGABYTE])
def test_extracting_from_a_megabyte_of_degenerate_text_is_fast(name, text):
    assert _seconds(extract_answer, text) < LIMIT_S


@pytest.mark.parametrize("name, text", QUARTER, ids=[name for name, _ in QUARTER])
def test_cleaning_degenerate_text_is_fast(name, text):
    assert _seconds(clean_with_unit, text) < LIMIT_S
    assert _seconds(is_text, text, text) < LIMIT_S
    assert _seconds(text_form, text) < LIMIT_S


@pytest.mark.parametrize("name, text", MEGABYTE, ids=[name for name, _ in MEGABYTE])
def test_grading_a_megabyte_of_degenerate_text_refuses_it_at_once(name, text):
    start = time.perf_counter()
    results = [grade(text, "5"), grade("5", text), *grade_many([(text, "5")], processes=1)]
    assert time.perf_counter() - start < LIMIT_S
    assert all(r.method == "too-long" for r in results)


def _patterns() -> list[tuple[str, re.Pattern]]:
    """Every compiled pattern the grader keeps at module level, in lists of rewrites too."""
    found = []
    for module in (extract, normalize, units, tokens, equivalence):
        for name, value in vars(module).items():
            items = value if isinstance(value, (list, tuple)) else [value]
            for k, item in enumerate(items):
                pattern = item[0] if isinstance(item, tuple) and item else item
                if isinstance(pattern, re.Pattern):
                    label = name if len(items) == 1 else f"{name}[{k}]"
                    found.append((f"{module.__name__.rsplit('.', 1)[1]}.{label}", pattern))
    return found


PATTERNS = _patterns()
# Heads that patterns anchor on, and runs that they repeat: each pattern is searched in every
# head + run * n + tail, so a quantifier that backtracks over a run shows as n^2 time.
_HEADS = ["", "answer", "final", "5", "f(", "\\text{", "\\hspace{", "^", "^{", "\\begin", "x \\ne", "\u221a"]
_RUNS = [" ", "\n", "{", "}", "$", "\\(", "\\", "(", ")", "1", "1,", ",", "a", "*", "^ ", "\\!", "\u00b2", "1.", "\\prime "]


def test_the_audit_sees_every_module_pattern():
    names = {name for name, _ in PATTERNS}
    assert {"extract._STATED", "normalize._SPACE_AROUND", "tokens._TOKEN"} <= names
    assert len(PATTERNS) >= 25


def _search_seconds(pattern: re.Pattern, text: str) -> float:
    start = time.perf_counter()
    for _ in pattern.finditer(text):
        pass
    pattern.fullmatch(text)
    return time.perf_counter() - start


@pytest.mark.parametrize("name, pattern", PATTERNS, ids=[name for name, _ in PATTERNS])
def test_no_module_pattern_backtracks_over_a_run(name, pattern):
    n, slowest = 10_000, (0.0, "")
    for head in _HEADS:
        for unit in _RUNS:
            for tail in ("", "x"):
                text = head + unit * (n // len(unit)) + tail
                seconds = _search_seconds(pattern, text)
                if seconds > 0.01:  # a pause of the machine, or n^2: time it again
                    seconds = min(seconds, _search_seconds(pattern, text))
                slowest = max(slowest, (seconds, repr(head + unit + tail)))
    assert slowest[0] < 0.05, slowest  # linear: about 0.1 ms here; n^2: 0.1 s and up
