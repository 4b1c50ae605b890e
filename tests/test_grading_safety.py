"""Hostile answers return within the time bound, and no text of theirs is ever run as code."""

import builtins
import subprocess
import sys
import time

import pytest
from grading_cases import EQUIVALENCES, HOSTILE

from reasoning.grading import grade
from reasoning.grading.equivalence import judge
from reasoning.grading.grade import DEFAULT_TIMEOUT

SLACK_S = 1.0  # scheduling slack on a busy two-core machine


@pytest.fixture(scope="module", autouse=True)
def started_worker():
    grade("1", "2")  # a worker's one-off start-up is not part of any grade's bound


@pytest.mark.parametrize("name, text", HOSTILE, ids=[name for name, _ in HOSTILE])
@pytest.mark.parametrize("side", ["answer", "reference"])
def test_hostile_input_returns_incorrect_within_the_bound(name, text, side, tmp_path):
    marker = tmp_path / "ran"
    text = text.replace("{marker}", str(marker))
    pred, gold = (text, "5") if side == "answer" else ("5", text)
    start = time.monotonic()
    result = grade(pred, gold)
    assert time.monotonic() - start < DEFAULT_TIMEOUT + SLACK_S
    assert not result and result.reason
    assert not marker.exists()


def test_a_stuck_worker_is_killed_and_replaced():
    slow = ", ".join(f"x+{i}" for i in range(1, 101))
    start = time.monotonic()
    result = grade(slow, ", ".join(reversed(slow.split(", "))), timeout=0.05)
    assert time.monotonic() - start < 0.05 + SLACK_S
    assert not result and result.method == "timeout"
    assert grade(r"\frac{1}{2}", "0.5")


def test_model_text_is_never_evaluated(monkeypatch):
    """No string from an answer reaches eval or exec; sympy's string parser never runs.

    Sympy execs code of its own (generated polynomial helpers, and string constants while
    lazily importing submodules), so a first pass loads everything and calls in the second
    are told apart by origin and content rather than forbidden outright.
    """
    inputs = [(pred, gold) for _, pred, gold, _ in EQUIVALENCES] + [(text, "5") for _, text in HOSTILE[4:]]
    for pred, gold in inputs:
        judge(pred, gold)
    calls = []

    def recording(real):
        def call(source, *args, **kwargs):
            if isinstance(source, str):
                calls.append((sys._getframe(1).f_globals.get("__name__", ""), source))
            return real(source, *args, **kwargs)

        return call

    monkeypatch.setattr(builtins, "eval", recording(builtins.eval))
    monkeypatch.setattr(builtins, "exec", recording(builtins.exec))
    for pred, gold in inputs:
        judge(pred, gold)
    for origin, source in calls:
        assert not origin.startswith(("sympy.parsing", "sympy.core.sympify")), origin
        assert not any(payload in source for payload in ("__import__", "open(", "lambda", "Symbol(")), source


def test_importing_grading_loads_neither_torch_nor_sympy():
    code = "import sys, reasoning.grading; print([m for m in ('torch', 'sympy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
